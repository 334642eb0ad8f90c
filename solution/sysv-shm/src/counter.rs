//! Part 2, the shared counter: forked workers add to a counter under a process-shared mutex
//! that lives in the segment (spec §4, lesson §13–14).

use std::sync::atomic::AtomicU64;

use nix::errno::Errno;
use nix::unistd::Pid;

use crate::Failure;
use crate::cli::{self, KeyArgs};
use crate::pshared_mutex::PsharedMutex;
// BEGIN SOLUTION
use std::sync::atomic::Ordering::Relaxed;

use nix::sys::wait::{WaitStatus, waitpid};

use crate::pshared_mutex::Robustness;
use crate::sysv_shm;
// END SOLUTION

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
    // BEGIN SOLUTION todo!("specs/sysv-shm.md §4.3: fork(2); the child runs `work` and _exits")
    // SAFETY: this process has one thread (spec §4.3), so the child may run ordinary code;
    // it leaves through `_exit` without unwinding into the parent's frames.
    match unsafe { nix::unistd::fork() }? {
        nix::unistd::ForkResult::Parent { child } => Ok(child),
        nix::unistd::ForkResult::Child => {
            let status = work();
            // SAFETY: `_exit` ends this process at once; nothing of the parent's state is
            // flushed or destroyed twice.
            unsafe { libc::_exit(status) }
        }
    }
    // END SOLUTION
}

/// Creates the segment (`IPC_CREAT | IPC_EXCL`, 48 bytes, mode 0600), initialises the mutex
/// in place and the total to 0, forks WORKERS workers that each add 1 ITERATIONS times under
/// the mutex, waits for them all, reads the total, then detaches and removes the segment, on
/// every path after it was created (spec §4.3).
pub fn count(key: &KeyArgs, workers: u32, iterations: u64) -> Result<u64, Failure> {
    let _ = (key, workers, iterations);
    // BEGIN SOLUTION todo!("specs/sysv-shm.md §4.3: create, initialise, fork the workers, wait, read, remove")
    let k = sysv_shm::ftok(&key.path, key.proj_id)
        .map_err(|e| Failure::sys("ftok", &key.path.display().to_string(), e))?;
    let size = std::mem::size_of::<Counter>();
    let id =
        sysv_shm::shmget(k, size, libc::IPC_CREAT | libc::IPC_EXCL | 0o600).map_err(
            |e| match e {
                Errno::EEXIST => Failure::runtime(format!(
                    "a segment already exists for {} and project id {}",
                    key.path.display(),
                    key.proj_id
                )),
                e => Failure::sys("shmget", "", e),
            },
        )?;
    let result = count_in(id, size, workers, iterations);
    // Every path after creation ends here: the attachment is gone, now remove the segment.
    let removed = sysv_shm::shm_remove(id).map_err(|e| Failure::sys("shmctl", "IPC_RMID", e));
    let total = result?;
    removed?;
    Ok(total)
    // END SOLUTION
}
// BEGIN SOLUTION

/// Attaches the new segment, initialises it, runs the workers and reads the total; detaches
/// before returning.
fn count_in(
    id: sysv_shm::ShmId,
    size: usize,
    workers: u32,
    iterations: u64,
) -> Result<u64, Failure> {
    let attachment = sysv_shm::shmat(id, size, false).map_err(|e| Failure::sys("shmat", "", e))?;
    // SAFETY: the segment is `size` = size_of::<Counter>() bytes, page-aligned, zero-filled by
    // the kernel (a valid `AtomicU64` and a valid bit pattern for the mutex before init), and
    // stays attached while `counter` is used.
    let counter = unsafe { &*attachment.as_ptr().cast::<Counter>() };
    // SAFETY: the segment is new (IPC_EXCL) and no worker exists yet; it is never moved.
    unsafe { counter.mutex.init(Robustness::Stalled) }
        .map_err(|e| Failure::sys("pthread_mutex_init", "", e))?;
    counter.total.store(0, Relaxed);

    let mut children = Vec::with_capacity(workers as usize);
    let mut failure = None;
    for _ in 0..workers {
        match fork_worker(|| add(counter, iterations)) {
            Ok(pid) => children.push(pid),
            Err(e) => {
                failure = Some(Failure::sys("fork", "", e));
                break;
            }
        }
    }
    for pid in children {
        let status = loop {
            match waitpid(pid, None) {
                Err(Errno::EINTR) => continue,
                other => break other,
            }
        };
        match status {
            Ok(WaitStatus::Exited(_, 0)) => {}
            Ok(status) => {
                failure.get_or_insert_with(|| {
                    Failure::runtime(format!("worker {pid} failed: {status:?}"))
                });
            }
            Err(e) => {
                failure.get_or_insert_with(|| Failure::sys("waitpid", "", e));
            }
        }
    }
    if let Some(failure) = failure {
        return Err(failure);
    }
    let total = counter.total.load(Relaxed);
    // All workers have exited, so nobody holds or waits on the mutex.
    // SAFETY: initialised above; no process uses it from now on.
    let _ = unsafe { counter.mutex.destroy() };
    Ok(total)
}

/// A worker: `iterations` times lock, add 1 with a separate load and store, unlock.
fn add(counter: &Counter, iterations: u64) -> i32 {
    for _ in 0..iterations {
        let Ok(_guard) = counter.mutex.lock() else {
            return 1;
        };
        let value = counter.total.load(Relaxed);
        counter.total.store(value + 1, Relaxed);
    }
    0
}
// END SOLUTION
