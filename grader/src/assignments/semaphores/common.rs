//! What the semaphores checks share: the processes of one run ([`Procs`]), fresh names and
//! keys, what a run left behind, the comparison of the shared output, the verdicts on exit
//! statuses and on the CPU a wait used, and the hints several checks give.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use crate::check::ensure;
use crate::check::{Ctx, Failure};
use crate::expect;
use crate::leaks::{self, Object, Snapshot};
use crate::message;
use crate::run::{Finished, Output, Running, Spec};
use crate::sys::IpcKind;

/// The CPU that latency-sensitive runs are pinned to (probe and student alike).
pub(super) const CPU: usize = 1;

/// How long a process is left waiting for a peer that has not started, to measure its CPU.
pub(super) const STALL: Duration = Duration::from_millis(400);

/// Largest share of a stalled wait a process may spend on a CPU (before the time scale).
pub(super) const STALL_CPU_SHARE: f64 = 0.1;

/// The `--timeout-ms` given in the peer-killed checks, and the grace on top of it.
pub(super) const PEER_TIMEOUT_MS: u64 = 500;

pub(super) const PEER_GRACE: Duration = Duration::from_secs(1);

pub(super) const WAIT_HINT: &str = "each process must wait on its own semaphore and post the next one's \
after writing its line; check the start values (spec §2.2, §3.2).";

pub(super) const BOUNDED_HINT: &str = "every wait for a peer must be bounded: sem_timedwait / semtimedop \
with --timeout-ms, and exit 3 when it expires (spec §1.4).";

pub(super) const SPIN_HINT: &str = "waits must block in the kernel (sem_timedwait, semtimedop), not loop \
on sem_trywait / IPC_NOWAIT or sleep and retry (spec §1.4).";

/// The processes of one run: started together, sharing one output file, all waited for (or
/// killed) however the check ends.
pub(super) struct Procs<'a> {
    ctx: &'a Ctx,
    pub(super) out: PathBuf,
    file: File,
    pub(super) running: Vec<Option<Running>>,
    pub(super) finished: Vec<Option<Finished>>,
}

impl<'a> Procs<'a> {
    pub(super) fn new(ctx: &'a Ctx, label: &str) -> Result<Procs<'a>, Failure> {
        let out = ctx.dir().join(leaks::unique_name(label));
        let file = File::create(&out).map_err(|e| {
            Failure::new(format!("the grader cannot create {}: {e}", out.display()))
        })?;
        Ok(Procs {
            ctx,
            out,
            file,
            running: Vec::new(),
            finished: Vec::new(),
        })
    }

    /// Starts `spec` with stdout on the shared file; returns its index.
    pub(super) fn start(&mut self, spec: Spec) -> Result<usize, Failure> {
        let file = self
            .file
            .try_clone()
            .map_err(|e| Failure::new(format!("the grader cannot share its output file: {e}")))?;
        let running = self.ctx.spawn(spec.stdout(Output::File(file)))?;
        self.running.push(Some(running));
        self.finished.push(None);
        Ok(self.running.len() - 1)
    }

    pub(super) fn pid(&self, i: usize) -> i32 {
        self.running[i].as_ref().map_or(0, Running::pid)
    }

    pub(super) fn exited(&self, i: usize) -> bool {
        self.running[i].as_ref().is_none_or(Running::has_exited)
    }

    /// What the processes wrote so far.
    pub(super) fn output(&self) -> String {
        std::fs::read_to_string(&self.out).unwrap_or_default()
    }

    /// Kills process `i`'s group, as a step of the check's scenario (the recipe kills it too).
    pub(super) fn kill(&mut self, i: usize) {
        if let Some(r) = self.running[i].as_mut() {
            self.ctx.signal(r, Signal::SIGKILL);
        }
    }

    /// Ends process `i`'s group: the check is done with it, or gives up on it.
    pub(super) fn end(&mut self, i: usize) {
        if let Some(r) = self.running[i].as_mut() {
            r.signal_group(Signal::SIGKILL);
        }
    }

    /// Waits for process `i` until the check's deadline.
    pub(super) fn wait(&mut self, i: usize) -> &Finished {
        if let Some(r) = self.running[i].take() {
            self.finished[i] = Some(self.ctx.wait(r));
        }
        self.finished[i].as_ref().expect("waited")
    }

    /// Waits for process `i` at most until `deadline`; kills it if it is still running then.
    /// Returns whether it had exited by itself.
    pub(super) fn wait_until(&mut self, i: usize, deadline: Instant) -> bool {
        let by_itself = crate::procfs::poll_until(deadline, || self.exited(i));
        if !by_itself {
            self.end(i);
        }
        self.wait(i);
        by_itself
    }

    /// Waits for every process.
    pub(super) fn wait_all(&mut self) -> Vec<Finished> {
        (0..self.running.len())
            .map(|i| self.wait(i).clone())
            .collect()
    }

    /// The command lines of the processes that ended, for a failure ([`Failure::commands`]).
    pub(super) fn commands(&self) -> Vec<String> {
        self.finished
            .iter()
            .flatten()
            .map(|f| f.command.clone())
            .collect()
    }
}

impl Drop for Procs<'_> {
    fn drop(&mut self) {
        for i in 0..self.running.len() {
            if self.running[i].is_some() {
                self.end(i);
                self.wait(i);
            }
        }
    }
}

/// A fresh POSIX name, `/ipclab-…`.
pub(super) fn fresh_name() -> String {
    format!("/{}", leaks::unique_name("ipclab-sem"))
}

/// A fresh, existing KEYPATH file in the check's directory.
pub(super) fn fresh_key(ctx: &Ctx) -> Result<String, Failure> {
    let path = ctx.dir().join(leaks::unique_name("key"));
    File::create(&path)
        .map_err(|e| Failure::new(format!("the grader cannot create {}: {e}", path.display())))?;
    Ok(path.to_string_lossy().into_owned())
}

/// The `/dev/shm` files of the two semaphores of `name` that still exist.
pub(super) fn named_left(name: &str) -> Vec<String> {
    ["ping", "pong"]
        .iter()
        .map(|side| format!("{}/sem.{}-{side}", leaks::DEV_SHM, &name[1..]))
        .filter(|p| Path::new(p).exists())
        .collect()
}

/// The SysV objects of `kinds` created since `before`.
pub(super) fn sysv_added(before: &Snapshot, kinds: &[IpcKind]) -> Vec<Object> {
    Snapshot::take()
        .added_since(before)
        .into_iter()
        .filter(|o| matches!(o, Object::SysV { kind, .. } if kinds.contains(kind)))
        .collect()
}

/// Fails with `reason` when `left` is not empty, listing it.
pub(super) fn nothing_left(left: &[String], when: &str, procs: &Procs) -> Result<(), Failure> {
    ensure(left.is_empty(), || {
        Failure::new(format!("{} object(s) left {when}", left.len()))
            .detail(format!("LEFT BEHIND:\n    {}", left.join("\n    ")))
            .commands(procs.commands())
            .detail("HINT: spec §1.6 says who removes what, on success and on failure.")
    })
}

pub(super) fn describe(objects: &[Object]) -> Vec<String> {
    objects.iter().map(|o| o.to_string()).collect()
}

/// Compares the shared output with the expected lines: the first differing line, if any.
pub(super) fn lines_match(expected: &str, actual: &str, procs: &Procs) -> Result<(), Failure> {
    if expected == actual {
        return Ok(());
    }
    let (exp, act): (Vec<&str>, Vec<&str>) = (expected.lines().collect(), actual.lines().collect());
    let at = exp
        .iter()
        .zip(&act)
        .position(|(e, a)| e != a)
        .unwrap_or(exp.len().min(act.len()));
    let around = |lines: &[&str]| {
        let from = at.saturating_sub(2);
        let to = (at + 3).min(lines.len());
        let shown: Vec<String> = (from..to)
            .map(|i| format!("{:>7}: {}", i + 1, lines[i]))
            .collect();
        if shown.is_empty() {
            "(nothing)".to_string()
        } else {
            shown.join("\n")
        }
    };
    Err(Failure::new(format!(
        "the shared output differs at line {} ({} lines expected, {} written)",
        at + 1,
        exp.len(),
        act.len()
    ))
    .detail(format!(
        "EXPECTED (around line {}):\n{}",
        at + 1,
        message::block(&around(&exp))
    ))
    .detail(format!("ACTUAL:\n{}", message::block(&around(&act))))
    .commands(procs.commands())
    .detail(
        "HINT: write each line with one write(2) on fd 1 before you post the next process, \
         never through a buffer that is flushed later (spec §1.2).",
    ))
}

/// Every run exited 0 with nothing on stderr.
pub(super) fn all_ok(runs: &[Finished], procs: &Procs) -> Result<(), Failure> {
    for run in runs {
        expect::exit_code(run, 0).map_err(|f| f.commands(procs.commands()))?;
        ensure(run.stderr.total == 0, || {
            Failure::new("stderr is not empty on success")
                .detail(format!("STDERR:\n{}", message::block(&run.stderr.text())))
                .command(run)
        })?;
    }
    Ok(())
}

/// The run exited with `code` and its stderr starts with `PROGRAM: `.
pub(super) fn gave_up(run: &Finished, code: i32, program: &str) -> Result<(), Failure> {
    expect::exit_code(run, code)?;
    expect::stderr_starts(run, &format!("{program}: "))
}

pub(super) fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1000.0)
}

/// CPU share of a process that waited `STALL` for a peer started late: fails above the bound.
pub(super) fn stall_cpu(runs: &[&Finished], what: &str, procs: &Procs) -> Result<(), Failure> {
    let cpu: Duration = runs.iter().map(|r| r.cpu).sum();
    let waited: Duration = runs.iter().map(|r| r.wall).sum();
    let allowed = procs.ctx.at_most(STALL_CPU_SHARE).min(0.9);
    let share = cpu.as_secs_f64() / waited.as_secs_f64().max(1e-6);
    ensure(share <= allowed, || {
        Failure::new(format!(
            "your processes used {:.3} s of CPU for {:.3} s of waiting ({:.0} % of a CPU, allowed {:.0} %)",
            cpu.as_secs_f64(),
            waited.as_secs_f64(),
            share * 100.0,
            allowed * 100.0
        ))
        .detail(format!("WHAT WAITED: {what}"))
        .commands(procs.commands())
        .detail(format!("HINT: {SPIN_HINT}"))
    })
}
