//! The `semaphores` assignment: handing control from one process to another with semaphores
//! (lesson §13, §15). See `specs/semaphores.md`.
//!
//! Three programs, each a thin `main` over one module of this crate:
//!
//! | binary | module | what it shows |
//! |---|---|---|
//! | `sem-pingpong` | [`pingpong`] | two POSIX named semaphores hand a turn back and forth |
//! | `sem-ring` | [`ring`] | a SysV semaphore set passes a token round K processes |
//! | `sem-mutex` | [`mutex`] | a SysV binary semaphore with `SEM_UNDO` guards a shared counter |
//!
//! The system calls live in small wrappers, one module per facility: [`ipc`] (`ftok`),
//! [`sem`] (POSIX named and SysV semaphores) and [`sysv_shm`] (the counter's segment); their
//! return codes are converted in [`cvt`].
//!
//! **Where to start:** read `specs/semaphores.md` §1–2, then write Part 1, `sem-pingpong`:
//! [`pingpong`]'s command line (§2.1), then the POSIX semaphores of [`sem`] (§2.3). `make grade
//! A=semaphores` shows what passes so far.

use std::fmt;
use std::process::ExitCode;

pub mod cli;
pub mod cvt;
pub mod ipc;
pub mod mutex;
pub mod pingpong;
pub mod ring;
pub mod sem;
pub mod sysv_shm;

/// Why a program stopped early; each kind has its kit-wide exit code (spec §1.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// Malformed command line: exit 2, the usage line follows the message.
    Usage(String),
    /// A call failed (missing key path, object already exists, limit reached…): exit 1.
    Runtime(String),
    /// A bounded wait expired or the peers' semaphore was removed under us: exit 3.
    GaveUp(String),
}

impl Failure {
    /// The exit code of this failure: 2, 1 or 3.
    pub fn code(&self) -> u8 {
        match self {
            Failure::Usage(_) => 2,
            Failure::Runtime(_) => 1,
            Failure::GaveUp(_) => 3,
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Usage(m) | Failure::Runtime(m) | Failure::GaveUp(m) => f.write_str(m),
        }
    }
}

/// Runs one program: `run` gets the arguments after the program name; a failure is reported
/// on stderr as `PROGRAM: message` (plus the usage line for a usage error) and becomes the
/// exit code.
pub fn main_with(
    program: &str,
    usage: &str,
    run: impl FnOnce(&[String]) -> Result<(), Failure>,
) -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("{program}: {failure}");
            if let Failure::Usage(_) = failure {
                eprintln!("usage: {usage}");
            }
            ExitCode::from(failure.code())
        }
    }
}

/// Writes one output line to standard output with a single `write(2)` (spec §1.2), so that
/// lines of processes sharing one output never mix. A short write (not expected for lines
/// this small) is finished with further calls.
pub fn write_line(line: &str) -> Result<(), Failure> {
    let mut rest = line.as_bytes();
    while !rest.is_empty() {
        match nix::unistd::write(std::io::stdout(), rest) {
            Ok(n) => rest = &rest[n..],
            Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(Failure::Runtime(format!("cannot write to stdout: {e}"))),
        }
    }
    Ok(())
}
