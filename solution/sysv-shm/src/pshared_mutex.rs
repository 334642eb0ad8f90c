//! Process-shared pthread mutexes and condition variables, built in place inside a shared
//! segment (lesson §13–14, spec §2.6).
//!
//! Both types are `#[repr(transparent)]` over the glibc object, so a `#[repr(C)]` struct laid
//! over a segment can hold them at the offsets the spec gives. They are initialised in place by
//! the process that created the segment and never moved: the address is part of their identity
//! (the kernel's futex key for a shared futex is the page and offset).

use std::cell::UnsafeCell;
use std::marker::PhantomData;
use std::time::Duration;

use nix::errno::Errno;
// BEGIN SOLUTION

use std::mem::MaybeUninit;

use crate::cvt::cvt_nz;
// END SOLUTION

/// A `pthread_mutex_t` (40 bytes on x86-64 glibc) living in shared memory.
#[repr(transparent)]
pub struct PsharedMutex(UnsafeCell<libc::pthread_mutex_t>);

/// A `pthread_cond_t` (48 bytes on x86-64 glibc) living in shared memory.
#[repr(transparent)]
pub struct PsharedCond(UnsafeCell<libc::pthread_cond_t>);

// SAFETY: pthread mutexes and condition variables are made to be used from many threads (and,
// initialised with PTHREAD_PROCESS_SHARED, from many processes) at once through a shared address.
unsafe impl Sync for PsharedMutex {}
// SAFETY: as above.
unsafe impl Sync for PsharedCond {}

/// How a [`PsharedMutex`] behaves when its owner dies while holding it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Robustness {
    /// `PTHREAD_MUTEX_STALLED`: the mutex stays locked forever (the default).
    Stalled,
    /// `PTHREAD_MUTEX_ROBUST`: the next locker gets `EOWNERDEAD` instead of blocking forever.
    Robust,
}

/// Proof that this thread holds a [`PsharedMutex`]; unlocks on drop.
pub struct MutexGuard<'a> {
    /// The locked mutex.
    mutex: &'a PsharedMutex,
    /// A guard must be dropped by the thread that locked (pthread mutexes are owned by threads).
    _not_send: PhantomData<*const ()>,
}
// BEGIN SOLUTION

/// `pthread_mutexattr_t` that is destroyed on every path.
struct MutexAttr(MaybeUninit<libc::pthread_mutexattr_t>);

impl MutexAttr {
    /// `pthread_mutexattr_init(&attr)`.
    fn new() -> Result<Self, Errno> {
        let mut attr = MutexAttr(MaybeUninit::uninit());
        // SAFETY: the pointer is valid for writes of one attribute object.
        cvt_nz(unsafe { libc::pthread_mutexattr_init(attr.0.as_mut_ptr()) })?;
        Ok(attr)
    }
}

impl Drop for MutexAttr {
    fn drop(&mut self) {
        // SAFETY: initialised by `new`, destroyed once.
        unsafe { libc::pthread_mutexattr_destroy(self.0.as_mut_ptr()) };
    }
}

/// `pthread_condattr_t` that is destroyed on every path.
struct CondAttr(MaybeUninit<libc::pthread_condattr_t>);

impl CondAttr {
    /// `pthread_condattr_init(&attr)`.
    fn new() -> Result<Self, Errno> {
        let mut attr = CondAttr(MaybeUninit::uninit());
        // SAFETY: the pointer is valid for writes of one attribute object.
        cvt_nz(unsafe { libc::pthread_condattr_init(attr.0.as_mut_ptr()) })?;
        Ok(attr)
    }
}

impl Drop for CondAttr {
    fn drop(&mut self) {
        // SAFETY: initialised by `new`, destroyed once.
        unsafe { libc::pthread_condattr_destroy(self.0.as_mut_ptr()) };
    }
}
// END SOLUTION

impl PsharedMutex {
    /// The address of the `pthread_mutex_t`, for the `pthread_*` calls.
    pub fn as_ptr(&self) -> *mut libc::pthread_mutex_t {
        self.0.get()
    }

    /// `pthread_mutex_init(self, attr)` with `PTHREAD_PROCESS_SHARED`, type
    /// `PTHREAD_MUTEX_NORMAL` and the given robustness—Initialises the mutex in place.
    ///
    /// NORMAL, because no path locks twice and the mutex is only held for a few loads and
    /// stores: the cheapest type, with no owner bookkeeping beyond what robustness needs.
    ///
    /// # Safety
    ///
    /// `self` lies in memory every user maps (a SysV segment), is initialised exactly once,
    /// before any other process uses it, and is never moved afterwards.
    pub unsafe fn init(&self, robustness: Robustness) -> Result<(), Errno> {
        let _ = robustness;
        // BEGIN SOLUTION todo!("specs/sysv-shm.md §2.6: set the attributes and call pthread_mutex_init in place")
        let mut attr = MutexAttr::new()?;
        let attr = attr.0.as_mut_ptr();
        // SAFETY: `attr` is an initialised attribute object.
        cvt_nz(unsafe { libc::pthread_mutexattr_setpshared(attr, libc::PTHREAD_PROCESS_SHARED) })?;
        // SAFETY: as above.
        cvt_nz(unsafe { libc::pthread_mutexattr_settype(attr, libc::PTHREAD_MUTEX_NORMAL) })?;
        let robust = match robustness {
            Robustness::Stalled => libc::PTHREAD_MUTEX_STALLED,
            Robustness::Robust => libc::PTHREAD_MUTEX_ROBUST,
        };
        // SAFETY: as above.
        cvt_nz(unsafe { libc::pthread_mutexattr_setrobust(attr, robust) })?;
        // SAFETY: the caller guarantees `self` is shared, unused and will not move.
        cvt_nz(unsafe { libc::pthread_mutex_init(self.as_ptr(), attr) })
        // END SOLUTION
    }

    /// `pthread_mutex_lock(self)`—Blocks until this thread holds the mutex.
    ///
    /// For a robust mutex whose previous owner died holding it, `pthread_mutex_lock` succeeds
    /// with `EOWNERDEAD`; this wrapper then marks the mutex consistent
    /// (`pthread_mutex_consistent`), unlocks it and returns `Err(EOWNERDEAD)`, so the caller
    /// learns that a peer died inside its critical section and can still lock again.
    pub fn lock(&self) -> Result<MutexGuard<'_>, Errno> {
        // BEGIN SOLUTION todo!("specs/sysv-shm.md §2.6: call pthread_mutex_lock; handle EOWNERDEAD")
        // SAFETY: the mutex was initialised in place (see `init`) and stays mapped while `self`
        // is borrowed.
        match cvt_nz(unsafe { libc::pthread_mutex_lock(self.as_ptr()) }) {
            Ok(()) => Ok(MutexGuard {
                mutex: self,
                _not_send: PhantomData,
            }),
            Err(Errno::EOWNERDEAD) => {
                let guard = MutexGuard {
                    mutex: self,
                    _not_send: PhantomData,
                };
                guard.make_consistent();
                drop(guard);
                Err(Errno::EOWNERDEAD)
            }
            Err(e) => Err(e),
        }
        // END SOLUTION
    }
}

impl PsharedMutex {
    /// `pthread_mutex_destroy(self)`—Ends the mutex's life before its memory goes away.
    ///
    /// # Safety
    ///
    /// No process holds the mutex or waits for it, and none will use it again.
    pub unsafe fn destroy(&self) -> Result<(), Errno> {
        // BEGIN SOLUTION todo!("specs/sysv-shm.md §2.6: call pthread_mutex_destroy")
        // SAFETY: the caller guarantees the mutex is initialised and unused from now on.
        cvt_nz(unsafe { libc::pthread_mutex_destroy(self.as_ptr()) })
        // END SOLUTION
    }
}

impl MutexGuard<'_> {
    /// The mutex this guard holds.
    pub fn mutex(&self) -> &PsharedMutex {
        self.mutex
    }

    /// `pthread_mutex_consistent(mutex)`—After `EOWNERDEAD`, makes a robust mutex usable again.
    pub fn make_consistent(&self) {
        // BEGIN SOLUTION todo!("specs/sysv-shm.md §2.6: call pthread_mutex_consistent")
        // SAFETY: this thread holds the mutex (the guard's existence proves it).
        let _ = cvt_nz(unsafe { libc::pthread_mutex_consistent(self.mutex.as_ptr()) });
        // END SOLUTION
    }
}

impl Drop for MutexGuard<'_> {
    /// `pthread_mutex_unlock(mutex)`.
    fn drop(&mut self) {
        // BEGIN SOLUTION todo!("specs/sysv-shm.md §2.6: call pthread_mutex_unlock")
        // SAFETY: this thread holds the mutex (the guard's existence proves it).
        let _ = cvt_nz(unsafe { libc::pthread_mutex_unlock(self.mutex.as_ptr()) });
        // END SOLUTION
    }
}

impl PsharedCond {
    /// The address of the `pthread_cond_t`, for the `pthread_*` calls.
    pub fn as_ptr(&self) -> *mut libc::pthread_cond_t {
        self.0.get()
    }

    /// `pthread_cond_init(self, attr)` with `PTHREAD_PROCESS_SHARED` and clock
    /// `CLOCK_MONOTONIC`—Initialises the condition variable in place. Timed waits on it take
    /// deadlines on `CLOCK_MONOTONIC`, which jumps of the wall clock cannot disturb.
    ///
    /// # Safety
    ///
    /// As for [`PsharedMutex::init`].
    pub unsafe fn init(&self) -> Result<(), Errno> {
        // BEGIN SOLUTION todo!("specs/sysv-shm.md §2.6: set the attributes and call pthread_cond_init in place")
        let mut attr = CondAttr::new()?;
        let attr = attr.0.as_mut_ptr();
        // SAFETY: `attr` is an initialised attribute object.
        cvt_nz(unsafe { libc::pthread_condattr_setpshared(attr, libc::PTHREAD_PROCESS_SHARED) })?;
        // SAFETY: as above.
        cvt_nz(unsafe { libc::pthread_condattr_setclock(attr, libc::CLOCK_MONOTONIC) })?;
        // SAFETY: the caller guarantees `self` is shared, unused and will not move.
        cvt_nz(unsafe { libc::pthread_cond_init(self.as_ptr(), attr) })
        // END SOLUTION
    }

    /// `pthread_cond_signal(self)`—Wakes one waiter, if any.
    pub fn signal(&self) {
        // BEGIN SOLUTION todo!("specs/sysv-shm.md §2.6: call pthread_cond_signal")
        // SAFETY: initialised in place (see `init`); cannot fail for a valid object.
        let _ = cvt_nz(unsafe { libc::pthread_cond_signal(self.as_ptr()) });
        // END SOLUTION
    }

    /// `pthread_cond_broadcast(self)`—Wakes every waiter.
    pub fn broadcast(&self) {
        // BEGIN SOLUTION todo!("specs/sysv-shm.md §2.6: call pthread_cond_broadcast")
        // SAFETY: initialised in place (see `init`); cannot fail for a valid object.
        let _ = cvt_nz(unsafe { libc::pthread_cond_broadcast(self.as_ptr()) });
        // END SOLUTION
    }

    /// `pthread_cond_timedwait(self, mutex, deadline)`—Atomically releases the guarded mutex
    /// and blocks until signalled or until `timeout` has passed (measured on `CLOCK_MONOTONIC`),
    /// then locks the mutex again. Returns `Ok(true)` on timeout, `Ok(false)` when woken
    /// (possibly spuriously: the caller re-checks its condition).
    ///
    /// `Err(EOWNERDEAD)`: the mutex is robust and its owner died; the mutex has been made
    /// consistent and is held by `guard`.
    pub fn wait_timeout(
        &self,
        guard: &mut MutexGuard<'_>,
        timeout: Duration,
    ) -> Result<bool, Errno> {
        let _ = (&guard, timeout);
        // BEGIN SOLUTION todo!("specs/sysv-shm.md §2.6: pthread_cond_timedwait, deadline on CLOCK_MONOTONIC")
        let now = nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC)?;
        let deadline = now + nix::sys::time::TimeSpec::from_duration(timeout);
        // SAFETY: both objects were initialised in place and the guard proves this thread holds
        // the mutex, as pthread_cond_timedwait requires.
        let ret = unsafe {
            libc::pthread_cond_timedwait(self.as_ptr(), guard.mutex().as_ptr(), deadline.as_ref())
        };
        match cvt_nz(ret) {
            Ok(()) => Ok(false),
            Err(Errno::ETIMEDOUT) => Ok(true),
            Err(Errno::EOWNERDEAD) => {
                guard.make_consistent();
                Err(Errno::EOWNERDEAD)
            }
            Err(e) => Err(e),
        }
        // END SOLUTION
    }
}
