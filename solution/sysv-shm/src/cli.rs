//! Command lines, exit statuses and error messages shared by the binaries (spec §2).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use nix::errno::Errno;

use crate::sysv_shm;

/// Exit status: a runtime failure (missing key path, segment exists or is missing, limit).
pub const EXIT_RUNTIME: u8 = 1;
/// Exit status: a malformed command line; a usage line is printed.
pub const EXIT_USAGE: u8 = 2;
/// Exit status: gave up waiting for a peer (bounded wait expired, or the peer vanished).
pub const EXIT_GAVE_UP: u8 = 3;
/// The bound of every wait for a peer unless `--timeout-ms` says otherwise (spec §5.6).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(10_000);

/// Why a program stops early: its exit status and the message for stderr.
#[derive(Debug)]
pub struct Failure {
    /// One of [`EXIT_RUNTIME`], [`EXIT_USAGE`], [`EXIT_GAVE_UP`].
    pub code: u8,
    /// The message, printed as `PROGRAM: message`.
    pub message: String,
}

impl Failure {
    /// A runtime failure (exit status 1).
    pub fn runtime(message: impl Into<String>) -> Self {
        Failure {
            code: EXIT_RUNTIME,
            message: message.into(),
        }
    }

    /// A malformed command line (exit status 2).
    pub fn usage(message: impl Into<String>) -> Self {
        Failure {
            code: EXIT_USAGE,
            message: message.into(),
        }
    }

    /// Gave up waiting for a peer (exit status 3).
    pub fn gave_up(message: impl Into<String>) -> Self {
        Failure {
            code: EXIT_GAVE_UP,
            message: message.into(),
        }
    }

    /// A failed system call: `call what: strerror` (exit status 1).
    pub fn sys(call: &str, what: &str, errno: Errno) -> Self {
        if what.is_empty() {
            Failure::runtime(format!("{call}: {}", errno.desc()))
        } else {
            Failure::runtime(format!("{call} {what}: {}", errno.desc()))
        }
    }
}

/// Prints a failure as `PROGRAM: message` (and `usage: PROGRAM SYNOPSIS` for status 2) and
/// turns the result into the exit status.
pub fn report(program: &str, synopsis: &str, result: Result<(), Failure>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("{program}: {}", failure.message);
            if failure.code == EXIT_USAGE {
                eprintln!("usage: {program} {synopsis}");
            }
            ExitCode::from(failure.code)
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
