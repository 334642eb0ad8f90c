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

use std::time::{Duration, Instant};

use nix::errno::Errno;

/// How often the timer fires again once a deadline has passed.
pub const REFIRE: Duration = Duration::from_millis(10);

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
    todo!("specs/msgq.md §6: install the handlers of §6")
}

/// Makes the termination handler remove queue `id` (`msgctl(id, IPC_RMID)`).
pub fn remove_on_termination(id: libc::c_int) {
    let _ = &id;
    todo!("specs/msgq.md §6: remember the queue the handler removes")
}

/// Whether `SIGINT`, `SIGTERM` or `SIGHUP` has arrived.
pub fn terminating() -> bool {
    todo!("specs/msgq.md §6: report whether a termination signal arrived")
}

/// `setitimer(ITIMER_REAL, {it_value: after, it_interval: REFIRE})`—Arms the timer; a zero
/// `after` disarms it.
pub fn set_timer(after: Duration) -> Result<(), Errno> {
    let _ = &after;
    todo!("specs/msgq.md §6: arm or disarm the interval timer")
}

/// Runs the blocking `call` until it succeeds, the deadline passes, the queue goes away or a
/// termination signal arrives; `EINTR` from any other signal is retried.
pub fn with_deadline<T>(
    deadline: Deadline,
    mut call: impl FnMut() -> Result<T, Errno>,
) -> Result<T, WaitError> {
    let _ = (&deadline, &mut call);
    todo!("specs/msgq.md §6: a bounded, EINTR-safe wait")
}
