//! Telling a run that can no longer move from one that is slow, so that a deadlock costs a
//! check seconds instead of its whole time limit.
//!
//! A run is stuck when every process of it (its process group and the leader's descendants)
//! sleeps in a wait that only another process of the run could end — reading an empty pipe,
//! writing a full one, waiting for a child — and for a whole quiet period none of them used
//! CPU time, moved a byte through `read`/`write` (`/proc/PID/io`), started or ended. The
//! grader's own feeder and drains only ever answer the run (they write when it reads, read when
//! it writes), so nothing can wake it again: it would sleep until the limit. A process
//! sleeping anywhere else (a timer, a futex, a message queue, a semaphore, `poll` with a
//! timeout) is not proof of anything, and keeps the run waiting for its limit as before.
//!
//! A run whose stdin the check holds (it may write later) is never judged stuck: the caller
//! decides which runs are on their own ([`crate::check::Ctx::run`]).

use std::time::{Duration, Instant};

/// How long a run must stay stuck before it is stopped, before the time scale.
pub const QUIET: Duration = Duration::from_secs(1);

/// How often a watched run is looked at.
pub const LOOK_EVERY: Duration = Duration::from_millis(100);

/// Kernel waits (`/proc/PID/wchan`) that only another process can end: a pipe's reader or
/// writer (`pipe_read`, `anon_pipe_read` on newer kernels), a parent in `wait`.
const WAITS_ON_PEERS: &[&str] = &[
    "pipe_read",
    "pipe_write",
    "anon_pipe_read",
    "anon_pipe_write",
    "pipe_wait",
    "pipe_wait_readable",
    "pipe_wait_writable",
    "do_wait",
];

/// One look at a run's processes: each one's pid, CPU ticks and bytes moved, or `None` if
/// one of them was doing anything but waiting on a peer.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Still(Vec<(i32, u64, u64)>);

/// Watches one run: [`Watch::stuck`] is asked on every tick of the wait.
#[derive(Debug)]
pub struct Watch {
    quiet: Duration,
    since: Option<(Instant, Still)>,
}

impl Watch {
    /// A watch that calls a run stuck after `quiet` without a change.
    pub fn new(quiet: Duration) -> Watch {
        Watch { quiet, since: None }
    }

    /// Looks at the run led by `pid` (its group and descendants) now; true once it has been
    /// stuck, without a change, for the whole quiet period.
    pub fn stuck(&mut self, pid: i32) -> bool {
        let Some(now) = look(pid) else {
            self.since = None;
            return false;
        };
        match &self.since {
            Some((at, before)) if *before == now => at.elapsed() >= self.quiet,
            _ => {
                self.since = Some((Instant::now(), now));
                false
            }
        }
    }

    /// How long the run has been stuck so far.
    pub fn quiet_for(&self) -> Duration {
        self.since
            .as_ref()
            .map(|(at, _)| at.elapsed())
            .unwrap_or_default()
    }
}

/// The run led by `pid` if every process of it waits on a peer, else `None`.
fn look(pid: i32) -> Option<Still> {
    let mut pids: Vec<i32> = crate::procfs::processes()
        .into_iter()
        .filter(|p| p.pgrp == pid)
        .map(|p| p.pid)
        .collect();
    pids.extend(crate::procfs::descendants(pid));
    pids.push(pid);
    pids.sort();
    pids.dedup();
    let mut still = Vec::with_capacity(pids.len());
    for p in pids {
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{p}/stat")) else {
            // Ended between the listing and now: a change.
            return None;
        };
        let (state, ticks) = state_and_ticks(&stat)?;
        match state {
            // A zombie moves no more, and its parent's wait ends it.
            'Z' => still.push((p, ticks, 0)),
            'S' if waits_on_peer(&crate::procfs::wchan(p)) => {
                let io = crate::procfs::io(p)?;
                still.push((p, ticks, io.read + io.written));
            }
            _ => return None,
        }
    }
    Some(Still(still))
}

/// Whether a process sleeping in kernel function `wchan` waits for another process.
fn waits_on_peer(wchan: &str) -> bool {
    WAITS_ON_PEERS.contains(&wchan.trim())
}

/// The state and the CPU time in clock ticks (`utime + stime`) of a `/proc/PID/stat` text.
fn state_and_ticks(stat: &str) -> Option<(char, u64)> {
    // The command name (field 2) may hold spaces and parentheses: fields after its last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let state = fields.first()?.chars().next()?;
    // Fields 14 and 15 of the whole line are the 12th and 13th after the name.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((state, utime + stime))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::CommandExt;
    use std::process::{Command, Stdio};

    #[test]
    fn stat_fields_after_an_odd_command_name() {
        let line = "42 (a) b (c)) S 1 42 42 0 -1 4194560 100 0 0 0 7 3 0 0 20 0 1 0 5 0 0";
        assert_eq!(state_and_ticks(line), Some(('S', 10)));
        assert_eq!(state_and_ticks("garbage"), None);
    }

    #[test]
    fn only_waits_on_peers_count() {
        assert!(waits_on_peer("anon_pipe_read\n"));
        assert!(waits_on_peer("do_wait"));
        assert!(!waits_on_peer("hrtimer_nanosleep"));
        assert!(!waits_on_peer("futex_wait_queue"));
        assert!(!waits_on_peer(""));
    }

    /// A reader of a pipe whose writer sleeps on a timer is not stuck; a reader of a pipe
    /// nobody will write to is, once the quiet period has passed.
    #[test]
    fn a_reader_nobody_feeds_is_stuck_and_a_timer_is_not() {
        let mut asleep = Command::new("sh")
            .args(["-c", "sleep 30 | cat"])
            .stdin(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("sh");
        let mut forever = Command::new("cat")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("cat");
        let quiet = Duration::from_millis(300);
        let (mut timer, mut blocked) = (Watch::new(quiet), Watch::new(quiet));
        let until = Instant::now() + Duration::from_secs(10);
        let mut blocked_stuck = false;
        while Instant::now() < until && !blocked_stuck {
            assert!(
                !timer.stuck(asleep.id() as i32),
                "a sleeping stage is not stuck"
            );
            blocked_stuck = blocked.stuck(forever.id() as i32);
            std::thread::sleep(Duration::from_millis(50));
        }
        assert!(
            blocked_stuck,
            "cat reading a pipe nobody writes to is stuck"
        );
        assert!(blocked.quiet_for() >= quiet);
        for child in [&mut asleep, &mut forever] {
            let _ = nix::sys::signal::killpg(
                nix::unistd::Pid::from_raw(child.id() as i32),
                nix::sys::signal::Signal::SIGKILL,
            );
            let _ = child.wait();
        }
    }
}
