//! Waiting for a run: its time limit on the whole group (TERM, a grace period, then KILL),
//! what it left behind, and ending groups and descendants between checks.

use super::*;
use crate::procfs::doing;

impl Running {
    /// The process's pid (also its process group's id).
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// The held stdin pipe ([`Input::Held`]), while it is open.
    pub fn stdin(&mut self) -> Option<&mut std::process::ChildStdin> {
        self.held.as_mut()
    }

    /// Closes the held stdin pipe: the program reads end-of-file.
    pub fn close_stdin(&mut self) {
        self.held = None;
    }

    /// Time since it started.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// Sends `signal` to the whole group, as the check's own action (not a crash).
    pub fn signal_group(&mut self, signal: Signal) {
        self.killed = Some(signal);
        let _ = killpg(Pid::from_raw(self.pid()), signal);
    }

    /// Waits (until `deadline`) for the process to exit, and reads its `/proc/PID/io` before
    /// it is reaped: the bytes it moved through `read` and `write` in its whole life.
    pub fn io_at_exit(&self, deadline: Instant) -> Option<crate::procfs::Io> {
        self.exit_before(deadline);
        crate::procfs::io(self.pid())
    }

    /// [`Running::io_at_exit`] of its main thread alone ([`crate::procfs::main_thread_io`]).
    pub fn main_thread_io_at_exit(&self, deadline: Instant) -> Option<crate::procfs::Io> {
        self.exit_before(deadline);
        crate::procfs::main_thread_io(self.pid())
    }

    /// Waits until the process exits (unreaped) or `deadline` passes, woken by its exit
    /// itself, so that a timed run loses no time to it.
    fn exit_before(&self, deadline: Instant) {
        while !self.has_exited() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            let _ = sys::wait_readable(&self.pidfd, left.min(Duration::from_millis(100)));
        }
    }

    /// Whether the process has exited (it is not reaped yet).
    pub fn has_exited(&self) -> bool {
        sys::wait_readable(&self.pidfd, Duration::ZERO).unwrap_or(true)
    }

    /// Waits for the process until `deadline`, then ends its group (TERM, [`GRACE`], KILL);
    /// collects its output and whatever processes it left in its group, and kills those.
    pub fn wait(self, deadline: Instant) -> Finished {
        self.wait_unless_stuck(deadline, None)
    }

    /// [`Running::wait`], but a run that is stuck ([`crate::stuck`]) for `quiet` is ended
    /// then, as at its limit, instead of at `deadline`: only for a run that nothing but the
    /// grader's feeder and drains can reach (the caller knows).
    pub fn wait_unless_stuck(mut self, deadline: Instant, quiet: Option<Duration>) -> Finished {
        let pid = self.pid();
        let mut timed_out = false;
        let mut stuck = false;
        let mut watch = quiet.map(crate::stuck::Watch::new);
        let mut at_limit = Vec::new();
        let reaped = loop {
            if let Ok(Some(r)) = sys::wait4_nohang(pid) {
                break r;
            }
            let now = Instant::now();
            if !timed_out && now < deadline && watch.as_mut().is_some_and(|w| w.stuck(pid)) {
                stuck = true;
            }
            if (now >= deadline || stuck) && !timed_out {
                timed_out = true;
                at_limit = doing(pid);
                self.killed = Some(Signal::SIGTERM);
                let _ = killpg(Pid::from_raw(pid), Signal::SIGTERM);
                if !sys::wait_readable(&self.pidfd, GRACE).unwrap_or(false) {
                    self.killed = Some(Signal::SIGKILL);
                    let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
                    // The process itself too, should it have moved to another group: it is
                    // not reaped, so the pid is still its own.
                    let _ = nix::sys::signal::kill(Pid::from_raw(pid), Signal::SIGKILL);
                }
                continue;
            }
            let left = if timed_out {
                Duration::from_millis(50)
            } else if watch.is_some() {
                (deadline - now).min(crate::stuck::LOOK_EVERY)
            } else {
                deadline - now
            };
            let _ = sys::wait_readable(&self.pidfd, left);
        };
        let wall = self.started.elapsed();
        self.held = None;
        let leftovers = group_members(pid);
        // Descendants that still hold stdout or stderr get a moment to finish writing.
        let linger = Instant::now() + OUTPUT_LINGER;
        let stderr_early = self.stderr.recv_timeout(OUTPUT_LINGER);
        let stdout_early = self
            .stdout
            .as_ref()
            .map(|rx| rx.recv_timeout(linger.saturating_duration_since(Instant::now())));
        end_group(pid);
        // What is left holding the pipes escaped the group: the drains take what the pipes
        // hold and stop, the feeder stops (none of them waits for such a process).
        self.over.store(true, Ordering::Relaxed);
        let stderr = stderr_early
            .or_else(|_| self.stderr.recv_timeout(Duration::from_secs(2)))
            .map(|(c, _)| c)
            .unwrap_or_default();
        let (stdout, compared) = match (stdout_early, self.stdout.as_ref()) {
            (Some(Ok(d)), _) => d,
            (Some(Err(_)), Some(rx)) => rx.recv_timeout(Duration::from_secs(2)).unwrap_or_default(),
            _ => Default::default(),
        };
        if let Some(feeder) = self.stdin.take() {
            // The run is over: the feeder's next write fails at once, or within one tick of a
            // write that waits for room in the pipe.
            let _ = feeder.join();
        }
        let status = reaped.status;
        let end = if libc::WIFSIGNALED(status) {
            let signal = libc::WTERMSIG(status);
            End::Signaled {
                signal,
                by_grader: self.killed.is_some_and(|s| s as i32 == signal),
            }
        } else {
            End::Exited(libc::WEXITSTATUS(status))
        };
        Finished {
            command: std::mem::take(&mut self.command),
            end,
            timed_out,
            stuck,
            at_limit,
            wall,
            cpu: reaped.cpu,
            kernel: reaped.kernel,
            stdout,
            stderr,
            compared,
            leftovers,
        }
    }
}

impl Drop for Running {
    /// A run dropped without [`Running::wait`] (a check that returned early, whose group
    /// [`crate::check::Ctx`] ends) stops its feeder and drains too.
    fn drop(&mut self) {
        self.over.store(true, Ordering::Relaxed);
    }
}

/// Kills every process of group `pgid` and reaps those that were handed to the grader (it is
/// the child subreaper of everything it starts).
pub fn end_group(pgid: i32) {
    let group = Pid::from_raw(pgid);
    let _ = killpg(group, Signal::SIGKILL);
    let give_up = Instant::now() + Duration::from_secs(2);
    loop {
        while let Ok(status) = nix::sys::wait::waitpid(
            Pid::from_raw(-pgid),
            Some(nix::sys::wait::WaitPidFlag::WNOHANG),
        ) {
            if status == nix::sys::wait::WaitStatus::StillAlive {
                break;
            }
        }
        if group_members(pgid).is_empty() || Instant::now() > give_up {
            return;
        }
        thread::sleep(Duration::from_millis(5));
    }
}

/// Reaps every exited child of the grader that nobody else will wait for: processes of
/// finished groups reparented to it. Call only when no run is in progress.
pub fn reap_orphans() {
    use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
    while let Ok(status) = waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
        if status == WaitStatus::StillAlive {
            break;
        }
    }
}

/// Kills every descendant of the grader and reaps them, until none is left (or 10 s have
/// passed). Being the child subreaper, the grader inherits every process its runs orphaned,
/// even one that left its process group with `setsid`: when no run is in progress, every
/// descendant is a leftover. Call only between checks.
pub fn end_descendants() {
    let me = std::process::id() as i32;
    let give_up = Instant::now() + Duration::from_secs(10);
    loop {
        let found = descendants(me);
        if found.is_empty() || Instant::now() > give_up {
            return;
        }
        for pid in found {
            let _ = nix::sys::signal::kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
        reap_orphans();
        thread::sleep(Duration::from_millis(5));
        reap_orphans();
    }
}
