//! Process-shared unnamed POSIX semaphores placed inside a shared mapping: `sem_init` with
//! `pshared = 1`, `sem_post`, `sem_timedwait` (lesson §13–§15: the synchronisation variables
//! themselves must live in the shared memory).

use std::cell::UnsafeCell;
use std::io;
use std::time::Duration;
// BEGIN SOLUTION
use nix::errno::Errno;

use crate::cvt::cvt;
// END SOLUTION

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
        // BEGIN SOLUTION todo!("specs/posix-shm.md §6.3: clock_gettime(CLOCK_REALTIME) + wait")
        let mut now = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `now` is a valid, writable `timespec`.
        cvt(unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut now) })?;
        let nsec = now.tv_nsec + libc::c_long::from(wait.subsec_nanos());
        let secs = libc::time_t::try_from(wait.as_secs()).unwrap_or(libc::time_t::MAX / 2);
        Ok(Deadline(libc::timespec {
            tv_sec: now
                .tv_sec
                .saturating_add(secs)
                .saturating_add(nsec / 1_000_000_000),
            tv_nsec: nsec % 1_000_000_000,
        }))
        // END SOLUTION
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
        // BEGIN SOLUTION todo!("specs/posix-shm.md §7: sem_init(sem, 1, value)")
        // SAFETY: the pointer is to a `sem_t` inside a live mapping; nobody uses it yet.
        cvt(unsafe { libc::sem_init(self.0.get(), 1, value) })?;
        Ok(())
        // END SOLUTION
    }

    /// `sem_post(sem)`—Adds one to the count, waking one waiter if there is any.
    ///
    /// See POSIX `sem_post`.
    pub fn post(&self) -> io::Result<()> {
        // BEGIN SOLUTION todo!("specs/posix-shm.md §7: sem_post(sem)")
        // SAFETY: the semaphore was initialised by the creator before the object was published.
        cvt(unsafe { libc::sem_post(self.0.get()) })?;
        Ok(())
        // END SOLUTION
    }

    /// `sem_timedwait(sem, abstime)`—Takes one from the count, blocking in the kernel while it
    /// is zero, until `deadline`. Returns `Ok(true)` when taken, `Ok(false)` when the deadline
    /// passed (`ETIMEDOUT`). `EINTR` is retried with the same deadline.
    ///
    /// See POSIX `sem_timedwait`.
    pub fn wait_until(&self, deadline: &Deadline) -> io::Result<bool> {
        let _ = deadline;
        // BEGIN SOLUTION todo!("specs/posix-shm.md §7: sem_timedwait(sem, deadline); EINTR: retry; ETIMEDOUT: false")
        loop {
            // SAFETY: the semaphore is initialised; `deadline.0` is a valid `timespec`.
            match cvt(unsafe { libc::sem_timedwait(self.0.get(), &deadline.0) }) {
                Ok(_) => return Ok(true),
                Err(Errno::ETIMEDOUT) => return Ok(false),
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        // END SOLUTION
    }
}
