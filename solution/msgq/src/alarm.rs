//! Signals and bounded waits.
//!
//! `msgrcv` and `msgsnd` have no timeout argument, so a bounded wait arms the interval timer
//! (`setitimer(ITIMER_REAL)`): when the deadline passes, `SIGALRM` interrupts the blocked call
//! with `EINTR`, the caller sees that the deadline has passed and gives up. Any other `EINTR`
//! (`SIGUSR1`, or a timer expiry left over from an earlier wait) is retried. The timer keeps
//! firing every [`REFIRE`] after the deadline, so an expiry that lands just before the call
//! blocks cannot be lost. `SIGINT`, `SIGTERM` and `SIGHUP` set a flag and, in the server,
//! remove the queue from inside the handler so that the server's blocked `msgrcv` fails with
//! `EIDRM` at once (there is no window in which the signal could be missed).

// BEGIN SOLUTION
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
// END SOLUTION
use std::time::{Duration, Instant};

use nix::errno::Errno;
// BEGIN SOLUTION
use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};

use crate::cvt::cvt;
use crate::msg;
// END SOLUTION

/// How often the timer fires again once a deadline has passed.
pub const REFIRE: Duration = Duration::from_millis(10);
// BEGIN SOLUTION

/// Set by the handler of `SIGINT`, `SIGTERM` and `SIGHUP`.
static TERMINATING: AtomicBool = AtomicBool::new(false);

/// The queue the termination handler removes, or `-1`.
static REMOVE_ON_TERMINATION: AtomicI32 = AtomicI32::new(-1);

/// Does nothing: its only effect is that a blocked system call returns `EINTR`.
extern "C" fn interrupt(_: libc::c_int) {}

/// Records the request to terminate and removes the registered queue, if any.
/// Only async-signal-safe work: atomics and one system call.
extern "C" fn terminate(_: libc::c_int) {
    TERMINATING.store(true, Ordering::SeqCst);
    let id = REMOVE_ON_TERMINATION.load(Ordering::SeqCst);
    if id >= 0 {
        let _ = msg::remove_id(id);
    }
}
// END SOLUTION

/// Why a bounded wait ended without its call succeeding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitError {
    /// The deadline passed.
    TimedOut,
    /// The queue was removed (`EIDRM`, or `EINVAL` for an identifier no longer valid).
    Removed,
    /// `SIGINT`, `SIGTERM` or `SIGHUP` arrived.
    Terminated,
    /// Any other failure of the call.
    Sys(Errno),
}

/// A point in time after which a bounded wait gives up.
#[derive(Debug, Clone, Copy)]
pub struct Deadline {
    /// When the wait ends.
    pub at: Instant,
}

impl Deadline {
    /// The deadline `timeout` from now.
    pub fn after(timeout: Duration) -> Deadline {
        Deadline {
            at: Instant::now() + timeout,
        }
    }

    /// The time left, or `None` once the deadline has passed.
    pub fn remaining(&self) -> Option<Duration> {
        self.at
            .checked_duration_since(Instant::now())
            .filter(|d| !d.is_zero())
    }
}

/// `sigaction(SIGALRM | SIGUSR1, interrupt)` and `sigaction(SIGINT | SIGTERM | SIGHUP,
/// terminate)`—Installs the handlers, without `SA_RESTART`, so that signals interrupt blocked
/// calls instead of killing the process.
pub fn install() -> Result<(), Errno> {
    // BEGIN SOLUTION todo!("specs/msgq.md §6: install the handlers of §6")
    let quiet = SigAction::new(
        SigHandler::Handler(interrupt),
        SaFlags::empty(),
        SigSet::empty(),
    );
    let term = SigAction::new(
        SigHandler::Handler(terminate),
        SaFlags::empty(),
        SigSet::all(),
    );
    for (signal, action) in [
        (Signal::SIGALRM, &quiet),
        (Signal::SIGUSR1, &quiet),
        (Signal::SIGINT, &term),
        (Signal::SIGTERM, &term),
        (Signal::SIGHUP, &term),
    ] {
        // SAFETY: both handlers only store to atomics and make one async-signal-safe system
        // call (`msgctl`), so they may run at any point of the program.
        unsafe { sigaction(signal, action) }?;
    }
    Ok(())
    // END SOLUTION
}

/// Makes the termination handler remove queue `id` (`msgctl(id, IPC_RMID)`).
pub fn remove_on_termination(id: libc::c_int) {
    let _ = &id;
    // BEGIN SOLUTION todo!("specs/msgq.md §6: remember the queue the handler removes")
    REMOVE_ON_TERMINATION.store(id, Ordering::SeqCst);
    // END SOLUTION
}

/// Whether `SIGINT`, `SIGTERM` or `SIGHUP` has arrived.
pub fn terminating() -> bool {
    // BEGIN SOLUTION todo!("specs/msgq.md §6: report whether a termination signal arrived")
    TERMINATING.load(Ordering::SeqCst)
    // END SOLUTION
}

/// `setitimer(ITIMER_REAL, {it_value: after, it_interval: REFIRE})`—Arms the timer; a zero
/// `after` disarms it.
pub fn set_timer(after: Duration) -> Result<(), Errno> {
    let _ = &after;
    // BEGIN SOLUTION todo!("specs/msgq.md §6: arm or disarm the interval timer")
    let tv = |d: Duration| libc::timeval {
        tv_sec: d.as_secs() as libc::time_t,
        tv_usec: d.subsec_micros() as libc::suseconds_t,
    };
    let value = if after.is_zero() {
        libc::itimerval {
            it_interval: tv(Duration::ZERO),
            it_value: tv(Duration::ZERO),
        }
    } else {
        libc::itimerval {
            it_interval: tv(REFIRE),
            it_value: tv(after.max(Duration::from_micros(1))),
        }
    };
    // SAFETY: `value` is a valid `itimerval`; the old value is not requested (null).
    cvt(unsafe { libc::setitimer(libc::ITIMER_REAL, &value, std::ptr::null_mut()) })?;
    Ok(())
    // END SOLUTION
}

/// Runs the blocking `call` until it succeeds, the deadline passes, the queue goes away or a
/// termination signal arrives; `EINTR` from any other signal is retried.
pub fn with_deadline<T>(
    deadline: Deadline,
    mut call: impl FnMut() -> Result<T, Errno>,
) -> Result<T, WaitError> {
    let _ = (&deadline, &mut call);
    // BEGIN SOLUTION todo!("specs/msgq.md §6: a bounded, EINTR-safe wait")
    loop {
        if terminating() {
            return Err(WaitError::Terminated);
        }
        let left = deadline.remaining().ok_or(WaitError::TimedOut)?;
        set_timer(left).map_err(WaitError::Sys)?;
        let result = call();
        set_timer(Duration::ZERO).map_err(WaitError::Sys)?;
        match result {
            Ok(v) => return Ok(v),
            Err(Errno::EINTR) => continue,
            Err(Errno::EIDRM | Errno::EINVAL) => return Err(WaitError::Removed),
            Err(e) => return Err(WaitError::Sys(e)),
        }
    }
    // END SOLUTION
}
