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

// BEGIN SOLUTION
use crate::cvt::{cvt, cvt_r};

unsafe extern "C" {
    /// glibc's `semtimedop(2)`; the `libc` crate declares `semop` but not this one.
    fn semtimedop(
        semid: libc::c_int,
        sops: *mut libc::sembuf,
        nsops: libc::size_t,
        timeout: *const libc::timespec,
    ) -> libc::c_int;
}
// END SOLUTION

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
        // BEGIN SOLUTION todo!("specs/semaphores.md §2.3: call sem_open(3) with O_CREAT; SEM_FAILED means failure")
        // SAFETY: `name` is NUL-terminated; with O_CREAT, sem_open reads a mode_t and an
        // unsigned int, which is what we pass.
        let sem = unsafe {
            libc::sem_open(
                name.as_ptr(),
                libc::O_CREAT,
                libc::c_uint::from(mode),
                value,
            )
        };
        if sem == libc::SEM_FAILED {
            return Err(Errno::last());
        }
        NonNull::new(sem)
            .map(|sem| NamedSemaphore { sem })
            .ok_or(Errno::EINVAL)
        // END SOLUTION
    }

    /// `sem_timedwait(sem, deadline)`—Waits until the value is above zero and decrements it,
    /// or fails with `ETIMEDOUT` once the CLOCK_REALTIME `deadline` has passed.
    pub fn wait_until(&self, deadline: &libc::timespec) -> Result<(), Errno> {
        let _ = deadline;
        // BEGIN SOLUTION todo!("specs/semaphores.md §2.3: call sem_timedwait(3), retrying on EINTR")
        // SAFETY: `self.sem` came from a successful sem_open and stays open until drop.
        cvt_r(|| unsafe { libc::sem_timedwait(self.sem.as_ptr(), deadline) }).map(drop)
        // END SOLUTION
    }

    /// `sem_post(sem)`—Increments the value, waking one waiter.
    pub fn post(&self) -> Result<(), Errno> {
        // BEGIN SOLUTION todo!("specs/semaphores.md §2.3: call sem_post(3)")
        // SAFETY: `self.sem` came from a successful sem_open and stays open until drop.
        cvt(unsafe { libc::sem_post(self.sem.as_ptr()) }).map(drop)
        // END SOLUTION
    }
}

impl Drop for NamedSemaphore {
    /// `sem_close(sem)`—Unmaps this process's handle; the semaphore lives on until its name
    /// is unlinked and the last handle is closed.
    fn drop(&mut self) {
        let _ = &self.sem;
        // BEGIN SOLUTION todo!("specs/semaphores.md §2.3: call sem_close(3)")
        // SAFETY: `self.sem` came from a successful sem_open and is closed only here.
        unsafe { libc::sem_close(self.sem.as_ptr()) };
        // END SOLUTION
    }
}

/// `sem_unlink(name)`—Removes the name of a POSIX semaphore (its `/dev/shm/sem.*` file);
/// processes that have it open keep using it.
pub fn unlink(name: &CStr) -> Result<(), Errno> {
    let _ = name;
    // BEGIN SOLUTION todo!("specs/semaphores.md §2.4: call sem_unlink(3)")
    // SAFETY: `name` is a valid NUL-terminated string for the duration of the call.
    cvt(unsafe { libc::sem_unlink(name.as_ptr()) }).map(drop)
    // END SOLUTION
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
        // BEGIN SOLUTION todo!("specs/semaphores.md §3.2: call semget(2) with IPC_CREAT | IPC_EXCL")
        let flags = libc::IPC_CREAT | libc::IPC_EXCL | mode as libc::c_int;
        // SAFETY: semget takes only integers.
        let id = unsafe { libc::semget(key, libc::c_int::from(nsems), flags) };
        cvt(id).map(|id| SemSet { id })
        // END SOLUTION
    }

    /// `semget(key, 0, 0)`—Opens the existing set of `key`, failing with `ENOENT` if there is
    /// none.
    pub fn open(key: libc::key_t) -> Result<Self, Errno> {
        let _ = key;
        // BEGIN SOLUTION todo!("specs/semaphores.md §3.2: call semget(2) without IPC_CREAT")
        // SAFETY: semget takes only integers.
        let id = unsafe { libc::semget(key, 0, 0) };
        cvt(id).map(|id| SemSet { id })
        // END SOLUTION
    }

    /// `semctl(id, 0, SETALL, values)`—Sets every semaphore of the set; `values` has one entry
    /// per semaphore. Does not touch `sem_otime`.
    pub fn set_all(&self, values: &[u16]) -> Result<(), Errno> {
        let _ = values;
        // BEGIN SOLUTION todo!("specs/semaphores.md §3.2: call semctl(2) with SETALL")
        let nsems = self.stat()?.sem_nsems;
        if values.len() as u64 != nsems {
            return Err(Errno::EINVAL);
        }
        // SAFETY: for SETALL the fourth argument is `union semun`, whose `array` member points
        // to `nsems` unsigned shorts; `values` has exactly that many and outlives the call.
        cvt(unsafe { libc::semctl(self.id, 0, libc::SETALL, values.as_ptr()) }).map(drop)
        // END SOLUTION
    }

    /// `semctl(id, 0, IPC_STAT, &ds)`—Reads the set's `semid_ds`: `sem_nsems`, `sem_otime`
    /// (time of the last `semop`, 0 before the first) and the permissions.
    pub fn stat(&self) -> Result<libc::semid_ds, Errno> {
        // BEGIN SOLUTION todo!("specs/semaphores.md §3.2: call semctl(2) with IPC_STAT")
        // SAFETY: semid_ds is plain integers, for which all zeroes is a valid value.
        let mut ds: libc::semid_ds = unsafe { std::mem::zeroed() };
        // SAFETY: for IPC_STAT the fourth argument is `union semun`, whose `buf` member points
        // to a semid_ds the kernel fills; `ds` is one and outlives the call.
        cvt(unsafe { libc::semctl(self.id, 0, libc::IPC_STAT, &mut ds) })?;
        Ok(ds)
        // END SOLUTION
    }

    /// `semtimedop(id, ops, timeout)`—Applies all of `ops` atomically, blocking while any of
    /// them cannot proceed, until `deadline`; fails with `EAGAIN` when the deadline passes and
    /// with `EIDRM` if the set is removed meanwhile. Retried on `EINTR` with the time left.
    pub fn op_until(&self, ops: &mut [libc::sembuf], deadline: Instant) -> Result<(), Errno> {
        let _ = (&ops, deadline);
        // BEGIN SOLUTION todo!("specs/semaphores.md §3.2: call semtimedop(2) with the time left, retrying on EINTR")
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let timeout = libc::timespec {
                tv_sec: left.as_secs() as libc::time_t,
                tv_nsec: libc::c_long::from(left.subsec_nanos()),
            };
            // SAFETY: `ops` is a valid array of `ops.len()` sembufs and `timeout` a valid
            // timespec; both outlive the call.
            let rc = unsafe { semtimedop(self.id, ops.as_mut_ptr(), ops.len(), &timeout) };
            match cvt(rc) {
                Err(Errno::EINTR) => {}
                other => return other.map(drop),
            }
        }
        // END SOLUTION
    }

    /// `semctl(id, 0, IPC_RMID)`—Removes the set at once; processes blocked on it wake with
    /// `EIDRM`.
    pub fn remove(self) -> Result<(), Errno> {
        // BEGIN SOLUTION todo!("specs/semaphores.md §3.2: call semctl(2) with IPC_RMID")
        // SAFETY: IPC_RMID takes no fourth argument.
        cvt(unsafe { libc::semctl(self.id, 0, libc::IPC_RMID) }).map(drop)
        // END SOLUTION
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
