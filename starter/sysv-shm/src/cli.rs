//! Command lines and error messages shared by the binaries (spec §2); the exit statuses are in
//! [`crate::exit`].

use std::path::PathBuf;
use std::time::Duration;

use nix::errno::Errno;

use crate::Failure;
use crate::sysv_shm;

/// The bound of every wait for a peer unless `--timeout-ms` says otherwise (spec §5.6).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(10_000);

impl Failure {
    /// A failed system call: `call what: strerror` (exit status 1).
    pub fn sys(call: &str, what: &str, errno: Errno) -> Self {
        if what.is_empty() {
            Failure::runtime(format!("{call}: {}", errno.desc()))
        } else {
            Failure::runtime(format!("{call} {what}: {}", errno.desc()))
        }
    }
}

/// The `KEYPATH PROJ_ID` pair every program takes (spec §2.1).
#[derive(Debug, Clone)]
pub struct KeyArgs {
    /// An existing file; `ftok` uses its inode and device.
    pub path: PathBuf,
    /// 1 to 255; `ftok` uses its low 8 bits, and 0 is not allowed.
    pub proj_id: u8,
}

/// Parses `KEYPATH PROJ_ID`.
pub fn key_args(path: &str, proj_id: &str) -> Result<KeyArgs, Failure> {
    if path.is_empty() {
        return Err(Failure::usage("KEYPATH must not be empty"));
    }
    let proj_id = number(proj_id, "PROJ_ID", 1, 255)?;
    Ok(KeyArgs {
        path: PathBuf::from(path),
        proj_id: proj_id as u8,
    })
}

/// Parses a decimal number (digits only) in `min..=max`.
pub fn number(text: &str, what: &str, min: u64, max: u64) -> Result<u64, Failure> {
    let value = if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        text.parse::<u64>().ok()
    } else {
        None
    };
    match value {
        Some(v) if (min..=max).contains(&v) => Ok(v),
        _ => Err(Failure::usage(format!(
            "{what} must be a decimal number from {min} to {max}, not '{text}'"
        ))),
    }
}

/// Checks a size given on the command line against the system's limit: `size` bytes of data
/// plus `overhead` bytes of header must not exceed `/proc/sys/kernel/shmmax` (spec §2.4).
/// Returns the whole segment size.
pub fn segment_size(size: u64, overhead: u64) -> Result<usize, Failure> {
    let limit = sysv_shm::shmmax()
        .map_err(|e| Failure::runtime(format!("cannot read {}: {e}", sysv_shm::SHMMAX_PATH)))?;
    match size.checked_add(overhead) {
        Some(total) if total <= limit && usize::try_from(total).is_ok() => Ok(total as usize),
        _ => Err(Failure::runtime(format!(
            "size {size} exceeds the system limit (shmmax {limit}, header {overhead} bytes)"
        ))),
    }
}

/// Removes `--timeout-ms MS` from `args` (anywhere after the program name) and returns the
/// remaining arguments and the bound (spec §2.1).
pub fn timeout_option(args: &[String]) -> Result<(Vec<String>, Duration), Failure> {
    let mut rest = Vec::new();
    let mut timeout = DEFAULT_TIMEOUT;
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        if arg == "--timeout-ms" {
            let Some(value) = iter.next() else {
                return Err(Failure::usage("--timeout-ms needs a value"));
            };
            timeout = Duration::from_millis(number(value, "--timeout-ms", 1, 3_600_000)?);
        } else if arg.starts_with("--") {
            return Err(Failure::usage(format!("unknown option '{arg}'")));
        } else {
            rest.push(arg.clone());
        }
    }
    Ok((rest, timeout))
}
