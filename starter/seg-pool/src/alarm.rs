//! Bounded waits.
//!
//! `msgrcv` has no timeout argument, so the server's bounded wait arms the interval timer
//! (`setitimer(ITIMER_REAL)`): when the deadline passes, `SIGALRM` interrupts the blocked call
//! with `EINTR`, the server sees that the deadline has passed and gives up. Any other `EINTR`
//! is retried. The timer keeps firing every [`REFIRE`] after the deadline, so an expiry that
//! lands just before the call blocks cannot be lost.

use std::time::Duration;

use nix::errno::Errno;

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
    todo!("specs/seg-pool.md §3.3: install the SIGALRM handler")
}

/// `setitimer(ITIMER_REAL, {it_value: after, it_interval: REFIRE})`—Arms the timer; a zero
/// `after` disarms it.
pub fn set_timer(after: Duration) -> Result<(), Errno> {
    let _ = &after;
    todo!("specs/seg-pool.md §3.3: arm or disarm the interval timer")
}

/// Runs the blocking `call` until it succeeds or `timeout` has passed; `EINTR` before the
/// deadline is retried.
pub fn within<T>(
    timeout: Duration,
    mut call: impl FnMut() -> Result<T, Errno>,
) -> Result<T, WaitError> {
    let _ = (&timeout, &mut call);
    todo!("specs/seg-pool.md §3.3: a bounded, EINTR-safe wait")
}
