//! `sem-ring`: K processes pass a token round a ring through one SysV semaphore set
//! (spec §3).
//!
//! The set has K semaphores; semaphore `i` is "process `i` holds the token". Process `i`
//! waits on semaphore `i`, writes its line and adds 1 to semaphore `(i + 1) % K`.

use std::time::Instant;

use crate::Failure;
use crate::sem::SemSet;

/// The usage line of `sem-ring`, after the program name.
pub const SYNOPSIS: &str = "KEYPATH INDEX K ROUNDS [--timeout-ms MS]";

/// The `proj_id` given to `ftok` with KEYPATH: `'R'`.
pub const PROJ_ID: u8 = b'R';

/// A parsed `sem-ring` command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// An existing file; `ftok(KEYPATH, 'R')` is the key of the set.
    pub key_path: String,
    /// This process's place in the ring, 0 to K − 1.
    pub index: u16,
    /// Processes in the ring, 2 to [`crate::cli::MAX_RING`].
    pub k: u16,
    /// Rounds, 1 to [`crate::cli::MAX_ROUNDS`].
    pub rounds: u64,
    /// Bound of every wait, in milliseconds.
    pub timeout_ms: u64,
}

/// Parses the arguments after the program name (spec §3.1).
pub fn parse(args: &[String]) -> Result<Config, Failure> {
    let _ = args;
    todo!(
        "specs/semaphores.md §3.1: parse KEYPATH INDEX K ROUNDS [--timeout-ms MS] with cli::split and cli::number"
    )
}

/// The SysV key of KEYPATH and `proj_id` (spec §1.5); a missing file is a runtime failure.
pub fn key_of(key_path: &str, proj_id: u8) -> Result<libc::key_t, Failure> {
    let _ = (key_path, proj_id);
    todo!("specs/semaphores.md §3.2: ftok(KEYPATH, proj_id); say which file when it fails")
}

/// Waits until the set's creator has initialised it (`sem_otime` ≠ 0) and checks that it has
/// `nsems` semaphores; gives up at `deadline` (spec §3.2). Polls `IPC_STAT` every millisecond:
/// the window it covers is the creator's two calls between `semget` and its first `semop`.
pub fn wait_initialised(set: SemSet, nsems: u16, deadline: Instant) -> Result<(), Failure> {
    let _ = (set, nsems, deadline);
    todo!("specs/semaphores.md §3.2: poll IPC_STAT until sem_otime != 0, bounded by deadline")
}

/// Creates the set of `key` with `initial` values, or opens it if another process did
/// (spec §3.2). Returns the set and whether this process created it.
///
/// The creator uses `IPC_CREAT | IPC_EXCL`, sets every value with `SETALL` and then adds
/// `initial[0]` with a `semop` on semaphore 0 (values given to `SETALL` for it are 0), which
/// sets `sem_otime`; a process that finds the set already there waits for `sem_otime` ≠ 0.
pub fn create_or_open(
    key: libc::key_t,
    initial: &[u16],
    deadline: Instant,
) -> Result<(SemSet, bool), Failure> {
    let _ = (key, initial, deadline);
    todo!(
        "specs/semaphores.md §3.2: race-free creation: IPC_CREAT | IPC_EXCL, SETALL, first semop; or open and wait"
    )
}

/// `sem-ring`: parses, joins the ring and passes the token for ROUNDS rounds (spec §3).
pub fn run(args: &[String]) -> Result<(), Failure> {
    let config = parse(args)?;
    let _ = &config;
    todo!(
        "specs/semaphores.md §3.3: join the set, pass the token ROUNDS times, remove the set as §3.4 says"
    )
}
