//! Bounded waits.
//!
//! `msgrcv` has no timeout argument, so the server's bounded wait arms the interval timer
//! (`setitimer(ITIMER_REAL)`): when the deadline passes, `SIGALRM` interrupts the blocked call
//! with `EINTR`, the server sees that the deadline has passed and gives up. Any other `EINTR`
//! is retried. The timer keeps firing every [`REFIRE`] after the deadline, so an expiry that
//! lands just before the call blocks cannot be lost.

use std::time::Duration;

use nix::errno::Errno;
// BEGIN SOLUTION
use std::time::Instant;

use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};

use crate::cvt::cvt;

/// Does nothing: its only effect is that a blocked system call returns `EINTR`.
extern "C" fn interrupt(_: libc::c_int) {}
// END SOLUTION

/// How often the timer fires again once a deadline has passed.
pub const REFIRE: Duration = Duration::from_millis(10);

/// Why a bounded wait ended without its call succeeding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitError {
    /// The deadline passed.
    TimedOut,
    /// Any other failure of the call.
    Sys(Errno),
}

/// `sigaction(SIGALRM, interrupt)`—Installs a handler that does nothing, without
/// `SA_RESTART`, so that the timer interrupts a blocked call instead of killing the process.
pub fn install() -> Result<(), Errno> {
    // BEGIN SOLUTION todo!("specs/seg-pool.md §3.3: install the SIGALRM handler")
    let quiet = SigAction::new(
        SigHandler::Handler(interrupt),
        SaFlags::empty(),
        SigSet::empty(),
    );
    // SAFETY: the handler does nothing, so it may run at any point of the program.
    unsafe { sigaction(Signal::SIGALRM, &quiet) }?;
    Ok(())
    // END SOLUTION
}

/// `setitimer(ITIMER_REAL, {it_value: after, it_interval: REFIRE})`—Arms the timer; a zero
/// `after` disarms it.
pub fn set_timer(after: Duration) -> Result<(), Errno> {
    let _ = &after;
    // BEGIN SOLUTION todo!("specs/seg-pool.md §3.3: arm or disarm the interval timer")
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

/// Runs the blocking `call` until it succeeds or `timeout` has passed; `EINTR` before the
/// deadline is retried.
pub fn within<T>(
    timeout: Duration,
    mut call: impl FnMut() -> Result<T, Errno>,
) -> Result<T, WaitError> {
    let _ = (&timeout, &mut call);
    // BEGIN SOLUTION todo!("specs/seg-pool.md §3.3: a bounded, EINTR-safe wait")
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline
            .checked_duration_since(Instant::now())
            .filter(|d| !d.is_zero())
            .ok_or(WaitError::TimedOut)?;
        set_timer(left).map_err(WaitError::Sys)?;
        let result = call();
        set_timer(Duration::ZERO).map_err(WaitError::Sys)?;
        match result {
            Ok(v) => return Ok(v),
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(WaitError::Sys(e)),
        }
    }
    // END SOLUTION
}
