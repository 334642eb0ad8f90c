//! How a program ends (the handout's exit statuses): a [`Failure`] of one of three kinds, each
//! with its exit code, and [`main_with`], which every `main` in `src/bin/` calls. Given
//! complete.
//!
//! Every crate of the kit whose handout gives these three statuses has this same file, byte
//! for byte.

use std::fmt;
use std::process::ExitCode;

/// Exit status: a runtime failure (a call failed, an object exists or is missing, a limit).
pub const EXIT_RUNTIME: u8 = 1;
/// Exit status: a malformed command line; the usage line follows the message.
pub const EXIT_USAGE: u8 = 2;
/// Exit status: gave up waiting for a peer (a bounded wait expired, or the peer vanished).
pub const EXIT_GAVE_UP: u8 = 3;

/// Why a program stopped early; each kind has its exit status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// Malformed command line: exit 2, the usage line follows the message.
    Usage(String),
    /// A call failed (missing key path, object already exists, limit reached…): exit 1.
    Runtime(String),
    /// A bounded wait expired or the peer went away: exit 3.
    GaveUp(String),
}

impl Failure {
    /// A malformed command line (exit status 2).
    pub fn usage(message: impl Into<String>) -> Self {
        Failure::Usage(message.into())
    }

    /// A runtime failure (exit status 1).
    pub fn runtime(message: impl Into<String>) -> Self {
        Failure::Runtime(message.into())
    }

    /// Gave up waiting for a peer (exit status 3).
    pub fn gave_up(message: impl Into<String>) -> Self {
        Failure::GaveUp(message.into())
    }

    /// The exit status of this failure: 2, 1 or 3.
    pub fn code(&self) -> u8 {
        match self {
            Failure::Usage(_) => EXIT_USAGE,
            Failure::Runtime(_) => EXIT_RUNTIME,
            Failure::GaveUp(_) => EXIT_GAVE_UP,
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
/// on stderr as `PROGRAM: message` (then `usage: PROGRAM SYNOPSIS` for a usage error) and
/// becomes the exit status.
pub fn main_with(
    program: &str,
    synopsis: &str,
    run: impl FnOnce(&[String]) -> Result<(), Failure>,
) -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("{program}: {failure}");
            if let Failure::Usage(_) = failure {
                eprintln!("usage: {program} {synopsis}");
            }
            ExitCode::from(failure.code())
        }
    }
}
