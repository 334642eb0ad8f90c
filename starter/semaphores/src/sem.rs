//! `<semaphore.h>` and `<sys/sem.h>`: POSIX named semaphores and SysV semaphore sets
//! (lesson §15).
//!
//! Every wait here is bounded: it takes a deadline and fails with `ETIMEDOUT` (POSIX) or
//! `EAGAIN` (SysV) when the deadline passes. An interrupted wait (`EINTR`) is retried with
//! the same deadline.

use std::ffi::CStr;
use std::ptr::NonNull;
use std::time::{Duration, Instant};

use nix::errno::Errno;

/// A CLOCK_REALTIME instant, the clock `sem_timedwait` measures its deadline with.
pub fn realtime_after(timeout: Duration) -> libc::timespec {
    let now = nix::time::clock_gettime(nix::time::ClockId::CLOCK_REALTIME)
        .expect("CLOCK_REALTIME is always available");
    let nanos = now.tv_nsec() as u64 + u64::from(timeout.subsec_nanos());
    libc::timespec {
        tv_sec: now.tv_sec()
            + timeout.as_secs() as libc::time_t
            + (nanos / 1_000_000_000) as libc::time_t,
        tv_nsec: (nanos % 1_000_000_000) as libc::c_long,
    }
}

/// An open POSIX named semaphore; dropping it closes it (`sem_close`) but leaves the name.
#[derive(Debug)]
pub struct NamedSemaphore {
    /// What `sem_open` returned: a mapping of the semaphore shared by every opener.
    sem: NonNull<libc::sem_t>,
}

impl NamedSemaphore {
    /// `sem_open(name, O_CREAT, mode, value)`—Opens the named semaphore, creating it with
    /// `value` if it does not exist yet. Creation is atomic: when two processes race, one
    /// creates and the other opens, and both see the same semaphore.
    pub fn open_or_create(name: &CStr, mode: libc::mode_t, value: u32) -> Result<Self, Errno> {
        let _ = (name, mode, value);
        todo!("specs/semaphores.md §2.3: call sem_open(3) with O_CREAT; SEM_FAILED means failure")
    }

    /// `sem_timedwait(sem, deadline)`—Waits until the value is above zero and decrements it,
    /// or fails with `ETIMEDOUT` once the CLOCK_REALTIME `deadline` has passed.
    pub fn wait_until(&self, deadline: &libc::timespec) -> Result<(), Errno> {
        let _ = deadline;
        todo!("specs/semaphores.md §2.3: call sem_timedwait(3), retrying on EINTR")
    }

    /// `sem_post(sem)`—Increments the value, waking one waiter.
    pub fn post(&self) -> Result<(), Errno> {
        todo!("specs/semaphores.md §2.3: call sem_post(3)")
    }
}

impl Drop for NamedSemaphore {
    /// `sem_close(sem)`—Unmaps this process's handle; the semaphore lives on until its name
    /// is unlinked and the last handle is closed.
    fn drop(&mut self) {
        let _ = &self.sem;
        todo!("specs/semaphores.md §2.3: call sem_close(3)")
    }
}

/// `sem_unlink(name)`—Removes the name of a POSIX semaphore (its `/dev/shm/sem.*` file);
/// processes that have it open keep using it.
pub fn unlink(name: &CStr) -> Result<(), Errno> {
    let _ = name;
    todo!("specs/semaphores.md §2.4: call sem_unlink(3)")
}

/// A SysV semaphore set, named by its identifier. Whoever removes it calls [`SemSet::remove`];
/// dropping a `SemSet` does nothing, since the set belongs to all processes of the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SemSet {
    /// The identifier `semget` returned.
    pub id: libc::c_int,
}

impl SemSet {
    /// `semget(key, nsems, IPC_CREAT | IPC_EXCL | mode)`—Creates a new set of `nsems`
    /// semaphores, failing with `EEXIST` if the key already has one. The new set's `sem_otime`
    /// is 0 until the first `semop`.
    pub fn create(key: libc::key_t, nsems: u16, mode: libc::mode_t) -> Result<Self, Errno> {
        let _ = (key, nsems, mode);
        todo!("specs/semaphores.md §3.2: call semget(2) with IPC_CREAT | IPC_EXCL")
    }

    /// `semget(key, 0, 0)`—Opens the existing set of `key`, failing with `ENOENT` if there is
    /// none.
    pub fn open(key: libc::key_t) -> Result<Self, Errno> {
        let _ = key;
        todo!("specs/semaphores.md §3.2: call semget(2) without IPC_CREAT")
    }

    /// `semctl(id, 0, SETALL, values)`—Sets every semaphore of the set; `values` has one entry
    /// per semaphore. Does not touch `sem_otime`.
    pub fn set_all(&self, values: &[u16]) -> Result<(), Errno> {
        let _ = values;
        todo!("specs/semaphores.md §3.2: call semctl(2) with SETALL")
    }

    /// `semctl(id, 0, IPC_STAT, &ds)`—Reads the set's `semid_ds`: `sem_nsems`, `sem_otime`
    /// (time of the last `semop`, 0 before the first) and the permissions.
    pub fn stat(&self) -> Result<libc::semid_ds, Errno> {
        todo!("specs/semaphores.md §3.2: call semctl(2) with IPC_STAT")
    }

    /// `semtimedop(id, ops, timeout)`—Applies all of `ops` atomically, blocking while any of
    /// them cannot proceed, until `deadline`; fails with `EAGAIN` when the deadline passes and
    /// with `EIDRM` if the set is removed meanwhile. Retried on `EINTR` with the time left.
    pub fn op_until(&self, ops: &mut [libc::sembuf], deadline: Instant) -> Result<(), Errno> {
        let _ = (&ops, deadline);
        todo!("specs/semaphores.md §3.2: call semtimedop(2) with the time left, retrying on EINTR")
    }

    /// `semctl(id, 0, IPC_RMID)`—Removes the set at once; processes blocked on it wake with
    /// `EIDRM`.
    pub fn remove(self) -> Result<(), Errno> {
        todo!("specs/semaphores.md §3.2: call semctl(2) with IPC_RMID")
    }
}

/// One `sembuf`: add `delta` to semaphore `num`, with `flags` (`SEM_UNDO`, `IPC_NOWAIT`).
pub fn sembuf(num: u16, delta: i16, flags: libc::c_int) -> libc::sembuf {
    libc::sembuf {
        sem_num: num,
        sem_op: delta,
        sem_flg: flags as libc::c_short,
    }
}
