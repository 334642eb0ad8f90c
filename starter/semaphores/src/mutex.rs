//! `sem-mutex`: a SysV binary semaphore used as a mutex around a counter in a SysV segment
//! (spec §4).
//!
//! `init` creates a one-semaphore set (value 1: free) and an 8-byte segment (counter 0);
//! every `add` takes the semaphore (−1), adds 1 to the counter with a plain load and store,
//! and gives it back (+1), both with `SEM_UNDO`; `finish` prints the counter and removes both.

use std::time::Duration;

use crate::{Failure, ring};

/// The usage line of `sem-mutex`, after the program name.
pub const SYNOPSIS: &str = "init KEYPATH | add KEYPATH TIMES [--timeout-ms MS] [--hold-ms MS] | finish KEYPATH [--timeout-ms MS]";

/// The `proj_id` given to `ftok` with KEYPATH, for both the set and the segment: `'M'`.
pub const PROJ_ID: u8 = b'M';

/// What one `sem-mutex` invocation does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Create the set and the segment.
    Init,
    /// Add 1 to the counter `times` times, each under the semaphore.
    Add {
        /// Increments, 1 to [`crate::cli::MAX_ROUNDS`].
        times: u64,
        /// If set: after the first take, write `holding\n` and sleep this long before going on.
        hold_ms: Option<u64>,
    },
    /// Print the counter and remove the set and the segment.
    Finish,
}

/// A parsed `sem-mutex` command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `init`, `add` or `finish`.
    pub command: Command,
    /// An existing file; `ftok(KEYPATH, 'M')` is the key of the set and of the segment.
    pub key_path: String,
    /// Bound of every wait, in milliseconds.
    pub timeout_ms: u64,
}

/// Parses the arguments after the program name (spec §4.1).
pub fn parse(args: &[String]) -> Result<Config, Failure> {
    let _ = args;
    todo!(
        "specs/semaphores.md §4.1: parse init|add|finish and its arguments with cli::split and cli::number"
    )
}

/// `sem-mutex`: parses and runs one command (spec §4.2–§4.5).
pub fn run(args: &[String]) -> Result<(), Failure> {
    let config = parse(args)?;
    let key = ring::key_of(&config.key_path, PROJ_ID)?;
    let timeout = Duration::from_millis(config.timeout_ms);
    match config.command {
        Command::Init => init(key),
        Command::Add { times, hold_ms } => add(key, times, hold_ms, timeout),
        Command::Finish => finish(key, timeout),
    }
}

/// `sem-mutex init`: creates the set (value 1) and the zeroed segment; if either exists
/// already, fails and leaves what was there alone (spec §4.2).
pub fn init(key: libc::key_t) -> Result<(), Failure> {
    let _ = key;
    todo!(
        "specs/semaphores.md §4.2: create the set and the segment with IPC_EXCL, free the semaphore with a first semop"
    )
}

/// `sem-mutex add`: adds 1 to the counter `times` times, each time under the semaphore
/// (spec §4.3).
pub fn add(
    key: libc::key_t,
    times: u64,
    hold_ms: Option<u64>,
    timeout: Duration,
) -> Result<(), Failure> {
    let _ = (key, times, hold_ms, timeout);
    todo!(
        "specs/semaphores.md §4.3: open both objects, then take, increment, give back TIMES times, with SEM_UNDO"
    )
}

/// `sem-mutex finish`: takes the semaphore, prints the counter, and removes the set and the
/// segment, also when it gives up waiting (spec §4.4).
pub fn finish(key: libc::key_t, timeout: Duration) -> Result<(), Failure> {
    let _ = (key, timeout);
    todo!(
        "specs/semaphores.md §4.4: take the semaphore, print the counter, remove both objects whatever happens"
    )
}
