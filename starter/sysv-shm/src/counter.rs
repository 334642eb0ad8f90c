//! Part 2, the shared counter: forked workers add to a counter under a process-shared mutex
//! that lives in the segment (spec §4, lesson §13–14).

use std::sync::atomic::AtomicU64;

use nix::errno::Errno;
use nix::unistd::Pid;

use crate::Failure;
use crate::cli::{self, KeyArgs};
use crate::pshared_mutex::PsharedMutex;

/// The program's name in messages.
pub const PROGRAM: &str = "svshm-counter";
/// The usage line's synopsis.
pub const SYNOPSIS: &str = "KEYPATH PROJ_ID WORKERS ITERATIONS";
/// The largest WORKERS accepted.
pub const MAX_WORKERS: u64 = 64;
/// The largest ITERATIONS accepted.
pub const MAX_ITERATIONS: u64 = 1_000_000_000;

/// The segment's layout (spec §4.2): 48 bytes.
#[repr(C)]
pub struct Counter {
    /// Offset 0, 40 bytes: process-shared, NORMAL, not robust; guards `total`.
    pub mutex: PsharedMutex,
    /// Offset 40, 8 bytes: the sum of all additions. Read and written only under `mutex`, with
    /// plain (relaxed) loads and stores, so that without the lock updates are lost.
    pub total: AtomicU64,
}

const _: () = assert!(std::mem::size_of::<Counter>() == 48);
const _: () = assert!(std::mem::offset_of!(Counter, total) == 40);

/// `svshm-counter KEYPATH PROJ_ID WORKERS ITERATIONS`: the binary's whole behaviour.
pub fn run(args: &[String]) -> Result<(), Failure> {
    let [path, id, workers, iterations] = args else {
        return Err(Failure::usage("expected 4 arguments"));
    };
    let key = cli::key_args(path, id)?;
    let workers = cli::number(workers, "WORKERS", 1, MAX_WORKERS)? as u32;
    let iterations = cli::number(iterations, "ITERATIONS", 0, MAX_ITERATIONS)?;
    let total = count(&key, workers, iterations)?;
    println!("total: {total}");
    Ok(())
}

/// `fork()`—Starts a child that runs `work` and ends with `_exit(work())`; returns its PID.
///
/// The parent is single-threaded when it forks, so the child may use the mutex in the segment
/// (pthread_mutex_lock is not async-signal-safe in general; with one thread there is no lock
/// state to inherit half-taken). The child never returns into the caller's code and never runs
/// destructors: the parent alone detaches and removes the segment.
pub fn fork_worker(work: impl FnOnce() -> i32) -> Result<Pid, Errno> {
    let _ = &work;
    todo!("specs/sysv-shm.md §4.3: fork(2); the child runs `work` and _exits")
}

/// Creates the segment (`IPC_CREAT | IPC_EXCL`, 48 bytes, mode 0600), initialises the mutex
/// in place and the total to 0, forks WORKERS workers that each add 1 ITERATIONS times under
/// the mutex, waits for them all, reads the total, then detaches and removes the segment, on
/// every path after it was created (spec §4.3).
pub fn count(key: &KeyArgs, workers: u32, iterations: u64) -> Result<u64, Failure> {
    let _ = (key, workers, iterations);
    todo!("specs/sysv-shm.md §4.3: create, initialise, fork the workers, wait, read, remove")
}
