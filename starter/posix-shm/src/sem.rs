//! Process-shared unnamed POSIX semaphores placed inside a shared mapping: `sem_init` with
//! `pshared = 1`, `sem_post`, `sem_timedwait` (lesson §13–§15: the synchronisation variables
//! themselves must live in the shared memory).

use std::cell::UnsafeCell;
use std::io;
use std::time::Duration;

/// A `sem_t` inside a shared mapping. It is never moved: it is only ever reached through a
/// reference into the mapping, at the offset fixed by the layout (spec §4.1).
#[repr(transparent)]
pub struct Sem(UnsafeCell<libc::sem_t>);

// SAFETY: a process-shared semaphore is made to be used by many threads and processes at once;
// every access goes through the `sem_*` calls.
unsafe impl Sync for Sem {}

const _: () = assert!(std::mem::size_of::<Sem>() == 32 && std::mem::align_of::<Sem>() == 8);

/// An absolute `CLOCK_REALTIME` time, the form `sem_timedwait` takes its bound in.
#[derive(Clone, Copy, Debug)]
pub struct Deadline(
    /// The absolute time, as `sem_timedwait` takes it.
    pub libc::timespec,
);

impl Deadline {
    /// `clock_gettime(CLOCK_REALTIME)` plus `wait`: the deadline `wait` from now.
    pub fn after(wait: Duration) -> io::Result<Deadline> {
        let _ = wait;
        todo!("specs/posix-shm.md §6.3: clock_gettime(CLOCK_REALTIME) + wait")
    }
}

impl Sem {
    /// `sem_init(sem, 1, value)`—Initialises the semaphore in place, shared between processes,
    /// with the count `value`.
    ///
    /// See POSIX `sem_init` and Linux `sem_init(3)`, `sem_overview(7)`.
    ///
    /// # Safety
    ///
    /// No process is using the semaphore yet (it is being set up by the object's creator
    /// before the object is marked initialised).
    pub unsafe fn init(&self, value: u32) -> io::Result<()> {
        let _ = value;
        todo!("specs/posix-shm.md §7: sem_init(sem, 1, value)")
    }

    /// `sem_post(sem)`—Adds one to the count, waking one waiter if there is any.
    ///
    /// See POSIX `sem_post`.
    pub fn post(&self) -> io::Result<()> {
        todo!("specs/posix-shm.md §7: sem_post(sem)")
    }

    /// `sem_timedwait(sem, abstime)`—Takes one from the count, blocking in the kernel while it
    /// is zero, until `deadline`. Returns `Ok(true)` when taken, `Ok(false)` when the deadline
    /// passed (`ETIMEDOUT`). `EINTR` is retried with the same deadline.
    ///
    /// See POSIX `sem_timedwait`.
    pub fn wait_until(&self, deadline: &Deadline) -> io::Result<bool> {
        let _ = deadline;
        todo!("specs/posix-shm.md §7: sem_timedwait(sem, deadline); EINTR: retry; ETIMEDOUT: false")
    }
}
