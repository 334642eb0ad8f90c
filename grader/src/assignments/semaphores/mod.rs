//! The `semaphores` assignment (`specs/semaphores.md`): `sem-pingpong` hands a turn back and
//! forth through two POSIX named semaphores, `sem-ring` passes a token round K processes through
//! one SysV set, `sem-mutex` guards a counter in a SysV segment with a binary semaphore and
//! `SEM_UNDO` (lesson §10–§15, §18).
//!
//! Every participant is a process of its own, started by the check; the processes of one run
//! share one output file. Timing bounds are ratios against the grader's own ping-pong
//! ([`probe`]), run on the same CPU in the same check; "no busy waiting" is CPU time over
//! wall time while a process waits for a peer that has not started yet.

mod probe;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use crate::check::ensure;
use crate::check::{Assignment, Check, Ctx, Failure, Tool};
use crate::expect;
use crate::leaks::{self, Object, Snapshot};
use crate::message;
use crate::run::{Finished, Output, Running, Spec};
use crate::sys::IpcKind;

/// The CPU that latency-sensitive runs are pinned to (probe and student alike).
const CPU: usize = 1;
/// How long a process is left waiting for a peer that has not started, to measure its CPU.
const STALL: Duration = Duration::from_millis(400);
/// Largest share of a stalled wait a process may spend on a CPU (before the time scale).
const STALL_CPU_SHARE: f64 = 0.1;
/// Allowed ratio of a student's ping-pong wall time to the probe's.
const LATENCY_RATIO: f64 = 5.0;
/// The `--timeout-ms` given in the peer-killed checks, and the grace on top of it.
const PEER_TIMEOUT_MS: u64 = 500;
const PEER_GRACE: Duration = Duration::from_secs(1);

/// The assignment and its checks, in the spec's order.
pub fn assignment() -> Assignment {
    let secs = Duration::from_secs;
    Assignment {
        name: "semaphores",
        title: "Semaphores: handing off control between processes",
        package: "semaphores",
        binaries: &["sem-pingpong", "sem-ring", "sem-mutex"],
        tools: vec![Tool {
            name: "semaphores-probe",
            run: probe::main,
        }],
        checks: vec![
            Check::new(
                "pingpong-order",
                10,
                "ROUNDS = 1, 1000, 20000, either side first: exact lines, both exit 0",
                pingpong_order,
            )
            .limit(secs(10))
            .lesson("§15")
            .on_timeout(WAIT_HINT),
            Check::new(
                "pingpong-cleanup",
                5,
                "no /dev/shm/sem.NAME-* after success, after a timeout, after a kill",
                pingpong_cleanup,
            )
            .limit(secs(5))
            .lesson("§12")
            .on_timeout(WAIT_HINT),
            Check::new(
                "pingpong-peer-killed",
                5,
                "either side killed mid-run: the other exits 3 within MS + 1 s",
                pingpong_peer_killed,
            )
            .limit(secs(8))
            .lesson("§15")
            .on_timeout(BOUNDED_HINT),
            Check::new(
                "pingpong-no-busy-wait",
                10,
                "a side waiting 0.4 s for its peer to start uses < 10 % of a CPU",
                pingpong_no_busy_wait,
            )
            .limit(secs(6))
            .lesson("§15")
            .on_timeout(SPIN_HINT),
            Check::new(
                "pingpong-latency",
                5,
                "5000 rounds on one CPU take at most 5× the grader's own ping-pong",
                pingpong_latency,
            )
            .limit(secs(10))
            .lesson("§15")
            .on_timeout(SPIN_HINT),
            Check::new(
                "ring-order",
                10,
                "K = 2, 3, 8 started in random order: exact K × ROUNDS lines, all exit 0",
                ring_order,
            )
            .limit(secs(10))
            .lesson("§15")
            .on_timeout(WAIT_HINT),
            Check::new(
                "ring-race-free-init",
                5,
                "K = 8 started at once, 20 times: exact output every time",
                ring_race_free_init,
            )
            .limit(secs(10))
            .lesson("§15")
            .on_timeout(INIT_HINT),
            Check::new(
                "ring-peer-killed",
                5,
                "one of 4 killed mid-run: every other exits 3 within MS + 1 s, no set left",
                ring_peer_killed,
            )
            .limit(secs(8))
            .lesson("§15, §18")
            .on_timeout(BOUNDED_HINT),
            Check::new(
                "ring-cleanup",
                5,
                "no SysV set left after success or after a process gives up",
                ring_cleanup,
            )
            .limit(secs(5))
            .lesson("§18"),
            Check::new(
                "mutex-exact",
                10,
                "init, 4 × add 25000 at once, finish prints 100000",
                mutex_exact,
            )
            .limit(secs(15))
            .lesson("§13, §15"),
            Check::new(
                "mutex-sem-undo",
                10,
                "the holder killed while holding: the blocked adds complete, finish prints 2000",
                mutex_sem_undo,
            )
            .limit(secs(8))
            .lesson("§15")
            .on_timeout(UNDO_HINT),
            Check::new(
                "mutex-cleanup",
                5,
                "finish removes set and segment, also when it gives up; init/add errors exit 1",
                mutex_cleanup,
            )
            .limit(secs(6))
            .lesson("§11, §18"),
            Check::new(
                "bad-input",
                10,
                "out-of-range numbers, bad NAME, unknown option, missing argument: exit 2 + usage",
                bad_input,
            )
            .limit(secs(10))
            .lesson("§1"),
            Check::new(
                "no-spin-ring",
                5,
                "3 ring members waiting 0.4 s for the 4th use < 10 % of a CPU each",
                no_spin_ring,
            )
            .limit(secs(6))
            .lesson("§15")
            .on_timeout(SPIN_HINT),
            Check::new(
                "uses-the-semaphores",
                3,
                "the kernel's accounting shows each waiting process asleep on the semaphores \
                 the spec names",
                uses_the_semaphores,
            )
            .limit(secs(10))
            .lesson("§12, §15")
            .on_timeout(WAIT_HINT),
        ],
    }
}

const WAIT_HINT: &str = "each process must wait on its own semaphore and post the next one's \
after writing its line; check the start values (spec §2.2, §3.2).";
const BOUNDED_HINT: &str = "every wait for a peer must be bounded: sem_timedwait / semtimedop \
with --timeout-ms, and exit 3 when it expires (spec §1.4).";
const SPIN_HINT: &str = "waits must block in the kernel (sem_timedwait, semtimedop), not loop \
on sem_trywait / IPC_NOWAIT or sleep and retry (spec §1.4).";
const INIT_HINT: &str = "create the set with IPC_CREAT | IPC_EXCL; on EEXIST open it and wait \
for sem_otime != 0 (spec §3.2).";
const UNDO_HINT: &str = "take and give back with SEM_UNDO so that the kernel releases the \
semaphore of a process that dies holding it (spec §4.3).";

// ---------------------------------------------------------------------------------------------
// Helpers

/// The processes of one run: started together, sharing one output file, all waited for (or
/// killed) however the check ends.
struct Procs<'a> {
    ctx: &'a Ctx,
    out: PathBuf,
    file: File,
    running: Vec<Option<Running>>,
    finished: Vec<Option<Finished>>,
}

impl<'a> Procs<'a> {
    fn new(ctx: &'a Ctx, label: &str) -> Result<Procs<'a>, Failure> {
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
    fn start(&mut self, spec: Spec) -> Result<usize, Failure> {
        let file = self
            .file
            .try_clone()
            .map_err(|e| Failure::new(format!("the grader cannot share its output file: {e}")))?;
        let running = self.ctx.spawn(spec.stdout(Output::File(file)))?;
        self.running.push(Some(running));
        self.finished.push(None);
        Ok(self.running.len() - 1)
    }

    fn pid(&self, i: usize) -> i32 {
        self.running[i].as_ref().map_or(0, Running::pid)
    }

    fn exited(&self, i: usize) -> bool {
        self.running[i].as_ref().is_none_or(Running::has_exited)
    }

    /// What the processes wrote so far.
    fn output(&self) -> String {
        std::fs::read_to_string(&self.out).unwrap_or_default()
    }

    /// Kills process `i`'s group, as the check's own action.
    fn kill(&mut self, i: usize) {
        if let Some(r) = self.running[i].as_mut() {
            r.signal_group(Signal::SIGKILL);
        }
    }

    /// Waits for process `i` until the check's deadline.
    fn wait(&mut self, i: usize) -> &Finished {
        if let Some(r) = self.running[i].take() {
            self.finished[i] = Some(self.ctx.wait(r));
        }
        self.finished[i].as_ref().expect("waited")
    }

    /// Waits for process `i` at most until `deadline`; kills it if it is still running then.
    /// Returns whether it had exited by itself.
    fn wait_until(&mut self, i: usize, deadline: Instant) -> bool {
        let by_itself = crate::procfs::poll_until(deadline, || self.exited(i));
        if !by_itself {
            self.kill(i);
        }
        self.wait(i);
        by_itself
    }

    /// Waits for every process.
    fn wait_all(&mut self) -> Vec<Finished> {
        (0..self.running.len())
            .map(|i| self.wait(i).clone())
            .collect()
    }

    /// The command lines, for a failure's details.
    fn commands(&self) -> String {
        let lines: Vec<String> = self
            .finished
            .iter()
            .flatten()
            .map(|f| format!("    {} &", f.command))
            .collect();
        format!(
            "COMMANDS (run together, one shared stdout):\n{}\n    wait",
            lines.join("\n")
        )
    }
}

impl Drop for Procs<'_> {
    fn drop(&mut self) {
        for i in 0..self.running.len() {
            if self.running[i].is_some() {
                self.kill(i);
                self.wait(i);
            }
        }
    }
}

/// A fresh POSIX name, `/ipclab-…`.
fn fresh_name() -> String {
    format!("/{}", leaks::unique_name("ipclab-sem"))
}

/// A fresh, existing KEYPATH file in the check's directory.
fn fresh_key(ctx: &Ctx) -> Result<String, Failure> {
    let path = ctx.dir().join(leaks::unique_name("key"));
    File::create(&path)
        .map_err(|e| Failure::new(format!("the grader cannot create {}: {e}", path.display())))?;
    Ok(path.to_string_lossy().into_owned())
}

/// The `/dev/shm` files of the two semaphores of `name` that still exist.
fn named_left(name: &str) -> Vec<String> {
    ["ping", "pong"]
        .iter()
        .map(|side| format!("{}/sem.{}-{side}", leaks::DEV_SHM, &name[1..]))
        .filter(|p| Path::new(p).exists())
        .collect()
}

/// The SysV objects of `kinds` created since `before`.
fn sysv_added(before: &Snapshot, kinds: &[IpcKind]) -> Vec<Object> {
    Snapshot::take()
        .added_since(before)
        .into_iter()
        .filter(|o| matches!(o, Object::SysV { kind, .. } if kinds.contains(kind)))
        .collect()
}

/// Fails with `reason` when `left` is not empty, listing it.
fn nothing_left(left: &[String], when: &str, procs: &Procs) -> Result<(), Failure> {
    ensure(left.is_empty(), || {
        Failure::new(format!("{} object(s) left {when}", left.len()))
            .detail(format!("LEFT BEHIND:\n    {}", left.join("\n    ")))
            .detail(procs.commands())
            .detail("HINT: spec §1.6 says who removes what, on success and on failure.")
    })
}

fn describe(objects: &[Object]) -> Vec<String> {
    objects.iter().map(|o| o.to_string()).collect()
}

/// Compares the shared output with the expected lines: the first differing line, if any.
fn lines_match(expected: &str, actual: &str, procs: &Procs) -> Result<(), Failure> {
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
    .detail(procs.commands())
    .detail(
        "HINT: write each line with one write(2) on fd 1 before you post the next process, \
         never through a buffer that is flushed later (spec §1.2).",
    ))
}

/// Every run exited 0 with nothing on stderr.
fn all_ok(runs: &[Finished], procs: &Procs) -> Result<(), Failure> {
    for run in runs {
        expect::exit_code(run, 0).map_err(|f| f.detail(procs.commands()))?;
        ensure(run.stderr.total == 0, || {
            Failure::new("stderr is not empty on success")
                .detail(format!("STDERR:\n{}", message::block(&run.stderr.text())))
                .command(run)
        })?;
    }
    Ok(())
}

/// The run exited with `code` and its stderr starts with `PROGRAM: `.
fn gave_up(run: &Finished, code: i32, program: &str) -> Result<(), Failure> {
    expect::exit_code(run, code)?;
    expect::stderr_starts(run, &format!("{program}: "))
}

/// The semaphores of the spec carry the turns, as the kernel accounts for them (pids as the
/// grader started them). `ping` (ROUNDS 2, once it has written `ping 1`) and `pong` (ROUNDS 1),
/// each started alone: it sleeps in a futex wait and maps both `/dev/shm/sem.NAME-ping` and
/// `-pong` (the same inodes, `/proc/PID/maps`; glibc maps a new semaphore under a temporary name
/// it then links). Ring members 1 and 2 of K = 3, started without process 0: the key's set
/// exists with 3 semaphores and both sleep in `semtimedop`. Then the peers start and the runs
/// complete as specified.
fn uses_the_semaphores(ctx: &Ctx) -> Result<(), Failure> {
    use std::os::unix::fs::MetadataExt;
    let mut seen = Vec::new();
    for (first, rounds) in [("ping", 2), ("pong", 1)] {
        let second = if first == "ping" { "pong" } else { "ping" };
        let name = fresh_name();
        let mut procs = Procs::new(ctx, "out")?;
        let a = procs.start(pingpong_spec(ctx, first, &name, rounds, Some(3000)))?;
        let pid = procs.pid(a);
        let files: Vec<String> = ["ping", "pong"]
            .iter()
            .map(|side| format!("{}/sem.{}-{side}", leaks::DEV_SHM, &name[1..]))
            .collect();
        let inodes = || -> Option<Vec<u64>> {
            files
                .iter()
                .map(|f| std::fs::metadata(f).ok().map(|m| m.ino()))
                .collect()
        };
        let maps_both = |inodes: &[u64]| {
            let maps = crate::procfs::maps(pid);
            inodes
                .iter()
                .all(|i| maps.iter().any(|m| m.shared() && m.inode == *i))
        };
        let mut mapped = false;
        let mut asleep = false;
        let mut slept_in = String::from("no system call (it ran)");
        let ready = crate::procfs::poll_until(Instant::now() + ctx.limit() / 4, || {
            let wrote = first == "pong" || procs.output() == "ping 1\n";
            mapped = inodes().is_some_and(|i| maps_both(&i));
            asleep = crate::procfs::sleeps_in_wait(pid, "futex");
            if let Some(nr) = crate::procfs::syscall(pid) {
                slept_in = crate::procfs::syscall_name(nr);
            }
            (wrote && mapped && asleep) || procs.exited(a)
        });
        if !ready || procs.exited(a) {
            procs.kill(a);
            let run = procs.wait(a).clone();
            // Killed by the grader, not left by the program: not a leak of the program's.
            for file in &files {
                let _ = std::fs::remove_file(file);
            }
            let what = if !mapped {
                format!(
                    "does not map both {} and {} (/proc/{pid}/maps)",
                    files[0], files[1]
                )
            } else if !asleep {
                format!(
                    "never slept in a futex wait (the kernel's wait of sem_timedwait); it \
                     waited in {slept_in}"
                )
            } else {
                "exited instead of waiting".to_string()
            };
            return Err(Failure::new(format!(
                "{first}, started alone and waiting for {second}, {what}"
            ))
            .detail(
                "HINT: both processes sem_open NAME-ping and NAME-pong and wait with \
                 sem_timedwait, which sleeps in the kernel (a futex) until the peer posts \
                 (spec §2.2, §2.3).",
            )
            .command(&run));
        }
        seen.push(format!("{first} (pid {pid})"));
        procs.start(pingpong_spec(ctx, second, &name, rounds, Some(3000)))?;
        let runs = procs.wait_all();
        lines_match(&pingpong_lines(rounds), &procs.output(), &procs)?;
        all_ok(&runs, &procs)?;
    }
    // The ring: members 1 and 2 of 3 wait on the set for member 0.
    let key = fresh_key(ctx)?;
    let before = Snapshot::take();
    let mut procs = Procs::new(ctx, "ring")?;
    for i in [1, 2] {
        procs.start(ring_spec(ctx, &key, i, 3, 2, Some(3000)))?;
    }
    let pids = [procs.pid(0), procs.pid(1)];
    let mut set = None;
    let waiting = crate::procfs::poll_until(Instant::now() + ctx.limit() / 4, || {
        set = sysv_added(&before, &[IpcKind::Sem])
            .into_iter()
            .find_map(|o| match o {
                Object::SysV { id, .. } => Some(id),
                _ => None,
            })
            .and_then(|id| {
                crate::procfs::sysvipc("sem")
                    .into_iter()
                    .find(|r| r.num("semid") == i64::from(id))
            });
        (set.is_some()
            && pids
                .iter()
                .all(|&p| crate::procfs::sleeps_in_wait(p, "semtimedop")))
            || procs.exited(0)
            || procs.exited(1)
    });
    let nsems = set.as_ref().map_or(0, |r| r.num("nsems"));
    if !waiting || nsems != 3 || procs.exited(0) || procs.exited(1) {
        let where_ = pids
            .iter()
            .map(|&p| {
                let call = crate::procfs::syscall(p).map(crate::procfs::syscall_name);
                format!(
                    "pid {p} in {}",
                    call.unwrap_or_else(|| "no system call".into())
                )
            })
            .collect::<Vec<_>>()
            .join(", ");
        procs.wait_all();
        return Err(Failure::new(format!(
            "ring members 1 and 2 of 3, started without member 0, did not both sleep in \
             semtimedop on a set of 3 semaphores (set: {nsems} semaphores; {where_})"
        ))
        .detail(
            "HINT: each member waits on its own semaphore of the set of ftok(KEYPATH, 'R') \
             with semtimedop, which sleeps in the kernel until the previous member posts \
             (spec §3).",
        )
        .detail(procs.commands()));
    }
    let semid = set.as_ref().map_or(0, |r| r.num("semid"));
    procs.start(ring_spec(ctx, &key, 0, 3, 2, Some(3000)))?;
    let runs = procs.wait_all();
    lines_match(&ring_lines(3, 2), &procs.output(), &procs)?;
    all_ok(&runs, &procs)?;
    ctx.note(format!(
        "{} slept in futex waits mapping /dev/shm/sem.NAME-ping and -pong; ring members 1 and \
         2 (pids {} and {}) slept in semtimedop on set {semid} of 3 semaphores",
        seen.join(" and "),
        pids[0],
        pids[1]
    ));
    Ok(())
}

fn pingpong_lines(rounds: u64) -> String {
    (1..=rounds)
        .map(|i| format!("ping {i}\npong {i}\n"))
        .collect()
}

fn ring_lines(k: u16, rounds: u64) -> String {
    let mut s = String::new();
    for r in 1..=rounds {
        for i in 0..k {
            s.push_str(&format!("token {r} {i}\n"));
        }
    }
    s
}

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1000.0)
}

/// A permutation of `0..n` from `seed` (xorshift Fisher–Yates).
fn shuffled(n: u16, mut seed: u64) -> Vec<u16> {
    let mut v: Vec<u16> = (0..n).collect();
    for i in (1..v.len()).rev() {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        v.swap(i, (seed % (i as u64 + 1)) as usize);
    }
    v
}

// ---------------------------------------------------------------------------------------------
// Part 1: sem-pingpong

fn pingpong_spec(ctx: &Ctx, role: &str, name: &str, rounds: u64, timeout_ms: Option<u64>) -> Spec {
    let mut args = vec![role.to_string(), name.to_string(), rounds.to_string()];
    if let Some(ms) = timeout_ms {
        args.extend(["--timeout-ms".to_string(), ms.to_string()]);
    }
    ctx.cmd("sem-pingpong", args)
}

fn pingpong_order(ctx: &Ctx) -> Result<(), Failure> {
    for (rounds, ping_first) in [
        (1, true),
        (1, false),
        (1000, false),
        (20000, true),
        (20000, false),
    ] {
        let name = fresh_name();
        let mut procs = Procs::new(ctx, "out")?;
        let roles = if ping_first {
            ["ping", "pong"]
        } else {
            ["pong", "ping"]
        };
        for role in roles {
            procs.start(pingpong_spec(ctx, role, &name, rounds, None).on_cpu(CPU))?;
        }
        let runs = procs.wait_all();
        lines_match(&pingpong_lines(rounds), &procs.output(), &procs)?;
        all_ok(&runs, &procs)?;
    }
    Ok(())
}

fn pingpong_cleanup(ctx: &Ctx) -> Result<(), Failure> {
    // Success.
    let name = fresh_name();
    let mut procs = Procs::new(ctx, "out")?;
    procs.start(pingpong_spec(ctx, "ping", &name, 3, None))?;
    procs.start(pingpong_spec(ctx, "pong", &name, 3, None))?;
    let runs = procs.wait_all();
    all_ok(&runs, &procs)?;
    nothing_left(&named_left(&name), "after a successful run", &procs)?;
    // A lone side gives up: ping waits for pong in round 2, pong waits for ping in round 1.
    for (role, rounds) in [("ping", 2), ("pong", 1)] {
        let name = fresh_name();
        let mut procs = Procs::new(ctx, "out")?;
        procs.start(pingpong_spec(ctx, role, &name, rounds, Some(200)))?;
        let run = procs.wait(0).clone();
        gave_up(&run, 3, "sem-pingpong")?;
        nothing_left(
            &named_left(&name),
            &format!("after {role} gave up waiting (exit 3)"),
            &procs,
        )?;
    }
    // Pong is killed while it waits for ping; ping then gives up and must remove the names.
    let name = fresh_name();
    let mut procs = Procs::new(ctx, "out")?;
    let pong = procs.start(pingpong_spec(ctx, "pong", &name, 2, None))?;
    let deadline = Instant::now() + ctx.limit() / 3;
    // Both names exist *and* pong sleeps in its wait: a kill inside sem_open could leave
    // glibc's temporary `sem.XXXXXX` behind, which no program could remove.
    let pong_pid = procs.pid(pong);
    crate::procfs::poll_until(deadline, || {
        (named_left(&name).len() == 2 && crate::procfs::state(pong_pid) == Some('S'))
            || procs.exited(pong)
    });
    procs.kill(pong);
    procs.wait(pong);
    let ping = procs.start(pingpong_spec(ctx, "ping", &name, 2, Some(200)))?;
    let run = procs.wait(ping).clone();
    gave_up(&run, 3, "sem-pingpong")?;
    nothing_left(
        &named_left(&name),
        "after pong was killed and ping gave up",
        &procs,
    )
}

fn pingpong_peer_killed(ctx: &Ctx) -> Result<(), Failure> {
    for victim in ["ping", "pong"] {
        let name = fresh_name();
        let mut procs = Procs::new(ctx, "out")?;
        let ping = procs.start(pingpong_spec(
            ctx,
            "ping",
            &name,
            1_000_000,
            Some(PEER_TIMEOUT_MS),
        ))?;
        let pong = procs.start(pingpong_spec(
            ctx,
            "pong",
            &name,
            1_000_000,
            Some(PEER_TIMEOUT_MS),
        ))?;
        let (killed, survivor, other) = if victim == "ping" {
            (ping, pong, "pong")
        } else {
            (pong, ping, "ping")
        };
        let started = crate::procfs::poll_until(Instant::now() + ctx.limit() / 4, || {
            std::fs::metadata(&procs.out).map_or(0, |m| m.len()) >= 2000
                || procs.exited(ping)
                || procs.exited(pong)
        });
        if !started || procs.exited(ping) || procs.exited(pong) {
            procs.wait_all();
            return Err(Failure::new("the two processes did not get going: fewer than 2000 bytes of output, or one exited")
                .detail(format!("OUTPUT (start):\n{}", message::block(&procs.output().chars().take(300).collect::<String>())))
                .detail(procs.commands()));
        }
        procs.kill(killed);
        let killed_at = Instant::now();
        let allowed = (Duration::from_millis(PEER_TIMEOUT_MS) + PEER_GRACE).mul_f64(ctx.scale());
        let in_time = procs.wait_until(survivor, killed_at + allowed);
        procs.wait(killed);
        let run = procs.finished[survivor].clone().expect("waited");
        ensure(in_time, || {
            Failure::new(format!(
                "{other} was still waiting {} after {victim} was killed (--timeout-ms {PEER_TIMEOUT_MS})",
                ms(allowed)
            ))
            .detail(procs.commands())
            .detail(format!("HINT: {BOUNDED_HINT}"))
        })?;
        gave_up(&run, 3, "sem-pingpong")
            .map_err(|f| f.detail(format!("(after {victim} was killed with SIGKILL)")))?;
        nothing_left(
            &named_left(&name),
            &format!("after {victim} was killed"),
            &procs,
        )?;
    }
    Ok(())
}

/// CPU share of a process that waited `STALL` for a peer started late: fails above the bound.
fn stall_cpu(runs: &[&Finished], what: &str, procs: &Procs, scale: f64) -> Result<(), Failure> {
    let cpu: Duration = runs.iter().map(|r| r.cpu).sum();
    let waited: Duration = runs.iter().map(|r| r.wall).sum();
    let allowed = (STALL_CPU_SHARE * scale).min(0.9);
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
        .detail(procs.commands())
        .detail(format!("HINT: {SPIN_HINT}"))
    })
}

fn pingpong_no_busy_wait(ctx: &Ctx) -> Result<(), Failure> {
    // Ping alone: its first wait returns at once, its second waits for a pong started late.
    // Pong alone: its first wait waits for a ping started late.
    for (first, rounds) in [("ping", 2), ("pong", 1)] {
        let second = if first == "ping" { "pong" } else { "ping" };
        let name = fresh_name();
        let mut procs = Procs::new(ctx, "out")?;
        let a = procs.start(pingpong_spec(ctx, first, &name, rounds, None))?;
        // It is waiting once it has opened both semaphores (and, for ping, written line 1).
        let ready = crate::procfs::poll_until(Instant::now() + ctx.limit() / 4, || {
            procs.exited(a)
                || (named_left(&name).len() == 2
                    && (first == "pong" || procs.output() == "ping 1\n"))
        });
        if !ready || procs.exited(a) {
            let run = procs.wait(a).clone();
            return Err(Failure::new(format!(
                "{first}, started alone, did not wait for {second}: it exited or never opened both semaphores"
            ))
            .command(&run));
        }
        std::thread::sleep(STALL);
        let b = procs.start(pingpong_spec(ctx, second, &name, rounds, None))?;
        let runs = procs.wait_all();
        lines_match(&pingpong_lines(rounds), &procs.output(), &procs)?;
        all_ok(&runs, &procs)?;
        let _ = b;
        stall_cpu(
            &[&runs[a]],
            &format!("{first}, for {} until {second} started", ms(runs[a].wall)),
            &procs,
            ctx.scale(),
        )?;
    }
    Ok(())
}

/// Runs one ping-pong of `rounds` on one CPU, both sides started with `spec`; its wall time,
/// or the processes when they did not finish within `give_up` (killed by then).
fn timed_pair<'a>(
    ctx: &'a Ctx,
    spec: impl Fn(&str, &str) -> Spec,
    name: &str,
    rounds: u64,
    give_up: Duration,
) -> Result<Result<Duration, Procs<'a>>, Failure> {
    let mut procs = Procs::new(ctx, "out")?;
    let started = Instant::now();
    procs.start(spec("pong", name).on_cpu(CPU))?;
    procs.start(spec("ping", name).on_cpu(CPU))?;
    let deadline = started + give_up;
    let ok = procs.wait_until(0, deadline) & procs.wait_until(1, deadline);
    let wall = started.elapsed();
    if !ok {
        return Ok(Err(procs));
    }
    let runs = procs.wait_all();
    lines_match(&pingpong_lines(rounds), &procs.output(), &procs)?;
    all_ok(&runs, &procs)?;
    Ok(Ok(wall))
}

/// Whether the grader's own probe is to fail (`IPCLAB_TEST_FAIL_PROBE=semaphores` in the
/// grader's environment): for the kit's test of the `ERROR` path (`grader/tests/
/// grader_error.rs`) only. Compiled only into the instructor's grader (feature `instructor`),
/// never into the student release's; a student's program cannot set its grader's environment.
fn probe_fails_on_purpose() -> bool {
    cfg!(feature = "instructor")
        && std::env::var("IPCLAB_TEST_FAIL_PROBE").is_ok_and(|v| v == "semaphores")
}

/// One run of the grader's own ping-pong: its wall time, or a [`Failure::grader`] (never the
/// program's fault) with its processes ended and its semaphores removed, so that nothing of it
/// is counted as left behind.
fn probe_pair(ctx: &Ctx, rounds: u64, give_up: Duration) -> Result<Duration, Failure> {
    let count = rounds.to_string();
    let probe = |role: &str, name: &str| ctx.tool("semaphores-probe", [role, name, &count]);
    let name = fresh_name();
    let unlink_probe = || {
        for path in named_left(&name) {
            let _ = std::fs::remove_file(path);
        }
    };
    let give_up = if probe_fails_on_purpose() {
        Duration::ZERO
    } else {
        give_up
    };
    let result = timed_pair(ctx, probe, &name, rounds, give_up);
    unlink_probe();
    match result {
        Ok(Ok(wall)) => Ok(wall),
        Ok(Err(procs)) => {
            let commands = procs.commands();
            drop(procs);
            Err(Failure::grader(format!(
                "the grader's own ping-pong probe did not finish {rounds} rounds within {}",
                ms(give_up)
            ))
            .detail(commands))
        }
        Err(failure) => Err(Failure::grader(format!(
            "the grader's own ping-pong probe went wrong: {}",
            failure.reason
        ))
        .detail(failure.details)),
    }
}

fn pingpong_latency(ctx: &Ctx) -> Result<(), Failure> {
    const ROUNDS: u64 = 5_000;
    const TRIES: usize = 3;
    let allowed = LATENCY_RATIO * ctx.scale();
    // The probe's own time limit: a share of the check's (which the time scale already
    // stretches), far above the tens of milliseconds it takes on an idle machine, so that a
    // loaded machine slows it without failing it.
    let probe_limit = ctx.limit().mul_f64(0.4);
    let student = |role: &str, name: &str| pingpong_spec(ctx, role, name, ROUNDS, None);
    let (mut best_probe, mut best_student) = (Duration::MAX, Duration::MAX);
    let mut tries = 0;
    while tries < TRIES {
        let started = Instant::now();
        let p = probe_pair(ctx, ROUNDS, probe_limit)?;
        best_probe = best_probe.min(p);
        // A student run far beyond the bound is stopped early: it has failed anyway.
        let give_up = best_probe
            .mul_f64(allowed * 4.0)
            .max(Duration::from_secs(1));
        match timed_pair(ctx, student, &fresh_name(), ROUNDS, give_up)? {
            Ok(s) => best_student = best_student.min(s),
            Err(procs) => {
                return Err(Failure::new(format!(
                    "{ROUNDS} rounds took more than {} (the grader's probe: {}); stopped",
                    ms(give_up),
                    ms(best_probe)
                ))
                .detail(procs.commands())
                .detail(format!("HINT: {SPIN_HINT}")));
            }
        }
        tries += 1;
        // On a loaded machine, fewer tries rather than a check killed at its limit.
        if Instant::now() + started.elapsed() * 2 > ctx.deadline() {
            break;
        }
    }
    let ratio = best_student.as_secs_f64() / best_probe.as_secs_f64().max(1e-6);
    ensure(ratio <= allowed, || {
        let per = |d: Duration| d.as_secs_f64() * 1e6 / ROUNDS as f64;
        Failure::new(format!(
            "a round trip took {ratio:.1}× as long as the grader's own (allowed {allowed:.1}×)"
        ))
        .detail(format!(
            "MEASURED (best of {tries}, {ROUNDS} rounds, both sides on CPU {CPU}):\n    \
             yours: {:.1} µs per round\n    grader's probe: {:.1} µs per round",
            per(best_student),
            per(best_probe)
        ))
        .detail(format!("HINT: {SPIN_HINT}"))
    })?;
    ctx.note(format!(
        "a round trip took {ratio:.2}× as long as the grader's own (allowed {allowed:.1}×)"
    ));
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Part 2: sem-ring

fn ring_spec(
    ctx: &Ctx,
    key: &str,
    index: u16,
    k: u16,
    rounds: u64,
    timeout_ms: Option<u64>,
) -> Spec {
    let mut args = vec![
        key.to_string(),
        index.to_string(),
        k.to_string(),
        rounds.to_string(),
    ];
    if let Some(ms) = timeout_ms {
        args.extend(["--timeout-ms".to_string(), ms.to_string()]);
    }
    ctx.cmd("sem-ring", args)
}

/// Runs a whole ring, processes started in `order`, and checks its output and statuses.
fn ring_once(
    ctx: &Ctx,
    k: u16,
    rounds: u64,
    order: &[u16],
    cpu: Option<usize>,
    timeout_ms: Option<u64>,
) -> Result<(), Failure> {
    let key = fresh_key(ctx)?;
    let mut procs = Procs::new(ctx, "out")?;
    for &i in order {
        let spec = ring_spec(ctx, &key, i, k, rounds, timeout_ms);
        procs.start(match cpu {
            Some(c) => spec.on_cpu(c),
            None => spec,
        })?;
    }
    let runs = procs.wait_all();
    lines_match(&ring_lines(k, rounds), &procs.output(), &procs)?;
    all_ok(&runs, &procs)
}

fn ring_order(ctx: &Ctx) -> Result<(), Failure> {
    for (n, (k, rounds)) in [(2u16, 20_000u64), (3, 5_000), (8, 2_000)]
        .into_iter()
        .enumerate()
    {
        let order = shuffled(k, ctx.seed() ^ ((n as u64 + 1) * 0x9E37_79B9));
        ring_once(ctx, k, rounds, &order, Some(CPU), None)?;
    }
    Ok(())
}

fn ring_race_free_init(ctx: &Ctx) -> Result<(), Failure> {
    for n in 0..20u64 {
        let order = shuffled(8, ctx.seed() ^ ((n + 7) * 0x2545_F491));
        ring_once(ctx, 8, 3, &order, None, Some(2000)).map_err(|f| {
            f.detail(format!("(attempt {} of 20)", n + 1))
                .detail(format!("HINT: {INIT_HINT}"))
        })?;
    }
    Ok(())
}

fn ring_peer_killed(ctx: &Ctx) -> Result<(), Failure> {
    const K: u16 = 4;
    let before = Snapshot::take();
    let key = fresh_key(ctx)?;
    let mut procs = Procs::new(ctx, "out")?;
    for i in 0..K {
        procs.start(ring_spec(ctx, &key, i, K, 1_000_000, Some(PEER_TIMEOUT_MS)))?;
    }
    let going = crate::procfs::poll_until(Instant::now() + ctx.limit() / 4, || {
        std::fs::metadata(&procs.out).map_or(0, |m| m.len()) >= 2000
            || (0..K as usize).any(|i| procs.exited(i))
    });
    if !going || (0..K as usize).any(|i| procs.exited(i)) {
        procs.wait_all();
        return Err(Failure::new(
            "the ring did not get going: fewer than 2000 bytes of output, or a process exited",
        )
        .detail(format!(
            "OUTPUT (start):\n{}",
            message::block(&procs.output().chars().take(300).collect::<String>())
        ))
        .detail(procs.commands()));
    }
    let victim = 1;
    procs.kill(victim);
    let killed_at = Instant::now();
    let allowed = (Duration::from_millis(PEER_TIMEOUT_MS) + PEER_GRACE).mul_f64(ctx.scale());
    let mut late = Vec::new();
    for i in (0..K as usize).filter(|&i| i != victim) {
        if !procs.wait_until(i, killed_at + allowed) {
            late.push(i.to_string());
        }
    }
    procs.wait(victim);
    ensure(late.is_empty(), || {
        Failure::new(format!(
            "process(es) {} still waiting {} after process {victim} was killed (--timeout-ms {PEER_TIMEOUT_MS})",
            late.join(", "),
            ms(allowed)
        ))
        .detail(procs.commands())
        .detail(format!(
            "HINT: {BOUNDED_HINT} The process that gives up removes the set, which wakes the \
             others with EIDRM (spec §3.4)."
        ))
    })?;
    for i in (0..K as usize).filter(|&i| i != victim) {
        let run = procs.finished[i].clone().expect("waited");
        gave_up(&run, 3, "sem-ring")
            .map_err(|f| f.detail(format!("(process {i}, after process {victim} was killed)")))?;
    }
    nothing_left(
        &describe(&sysv_added(&before, &[IpcKind::Sem])),
        "after a process was killed and the others gave up",
        &procs,
    )
}

fn ring_cleanup(ctx: &Ctx) -> Result<(), Failure> {
    let before = Snapshot::take();
    let key = fresh_key(ctx)?;
    let mut procs = Procs::new(ctx, "out")?;
    for i in [2, 0, 1] {
        procs.start(ring_spec(ctx, &key, i, 3, 2, None))?;
    }
    let runs = procs.wait_all();
    lines_match(&ring_lines(3, 2), &procs.output(), &procs)?;
    all_ok(&runs, &procs)?;
    nothing_left(
        &describe(&sysv_added(&before, &[IpcKind::Sem])),
        "after a successful ring",
        &procs,
    )?;
    // Alone, process 1 waits for a token that never comes; process 0 passes once and waits.
    for (index, rounds) in [(1u16, 1u64), (0, 2)] {
        let key = fresh_key(ctx)?;
        let mut procs = Procs::new(ctx, "out")?;
        procs.start(ring_spec(ctx, &key, index, 3, rounds, Some(200)))?;
        let run = procs.wait(0).clone();
        gave_up(&run, 3, "sem-ring")?;
        nothing_left(
            &describe(&sysv_added(&before, &[IpcKind::Sem])),
            &format!("after process {index}, alone, gave up (exit 3)"),
            &procs,
        )?;
    }
    Ok(())
}

fn no_spin_ring(ctx: &Ctx) -> Result<(), Failure> {
    const K: u16 = 4;
    let before = Snapshot::take();
    let key = fresh_key(ctx)?;
    let mut procs = Procs::new(ctx, "out")?;
    for i in 1..K {
        procs.start(ring_spec(ctx, &key, i, K, 2, None))?;
    }
    // They wait once the set exists and every one of them has been started.
    let ready = crate::procfs::poll_until(Instant::now() + ctx.limit() / 4, || {
        !sysv_added(&before, &[IpcKind::Sem]).is_empty()
            || (0..procs.running.len()).any(|i| procs.exited(i))
    });
    if !ready || (0..procs.running.len()).any(|i| procs.exited(i)) {
        procs.wait_all();
        return Err(Failure::new(
            "processes 1 to 3, started without process 0, did not create the set and wait",
        )
        .detail(procs.commands()));
    }
    std::thread::sleep(STALL);
    procs.start(ring_spec(ctx, &key, 0, K, 2, None))?;
    let runs = procs.wait_all();
    lines_match(&ring_lines(K, 2), &procs.output(), &procs)?;
    all_ok(&runs, &procs)?;
    let waiters: Vec<&Finished> = runs.iter().take(K as usize - 1).collect();
    stall_cpu(
        &waiters,
        &format!(
            "processes 1 to 3, for {} until process 0 started",
            ms(STALL)
        ),
        &procs,
        ctx.scale(),
    )
}

// ---------------------------------------------------------------------------------------------
// Part 3: sem-mutex

fn mutex_spec(ctx: &Ctx, args: &[&str]) -> Spec {
    ctx.cmd("sem-mutex", args.iter().map(|a| a.to_string()))
}

/// Runs `sem-mutex ARGS` alone and returns it.
fn mutex_run(ctx: &Ctx, args: &[&str]) -> Result<Finished, Failure> {
    ctx.run(mutex_spec(ctx, args))
}

fn mutex_init(ctx: &Ctx, key: &str) -> Result<(), Failure> {
    let run = mutex_run(ctx, &["init", key])?;
    expect::exit_code(&run, 0)?;
    expect::stdout_empty(&run)
}

fn mutex_finish(ctx: &Ctx, key: &str, expected: u64, what: &str) -> Result<(), Failure> {
    let run = mutex_run(ctx, &["finish", key])?;
    expect::exit_code(&run, 0)?;
    expect::stdout_is(&run, format!("{expected}\n").as_bytes())
        .map_err(|f| f.detail(format!("HINT: {what}")))
}

fn mutex_exact(ctx: &Ctx) -> Result<(), Failure> {
    let key = fresh_key(ctx)?;
    mutex_init(ctx, &key)?;
    let mut procs = Procs::new(ctx, "out")?;
    for _ in 0..4 {
        procs.start(mutex_spec(ctx, &["add", &key, "25000"]))?;
    }
    let runs = procs.wait_all();
    all_ok(&runs, &procs)?;
    // Every take/give pair carries SEM_UNDO (spec §4.3): once the adds have exited, nobody
    // holds the semaphore and nothing is left to undo, so it is back at init's 1.
    let value = probe::sysv_value(&key, b'M', 0);
    ensure(matches!(value, Ok(1)), || {
        Failure::new(format!(
            "after the 4 adds exited the semaphore of ftok(KEYPATH, 'M') was {}, expected 1",
            match &value {
                Ok(v) => v.to_string(),
                Err(e) => format!("unreadable ({e})"),
            }
        ))
        .detail(
            "HINT: take (-1) and give back (+1) both with SEM_UNDO, so that the kernel's \
             adjustment for the process is 0 again after each pair; with SEM_UNDO on the take \
             only, each add that exits adds TIMES to the semaphore (spec §4.3).",
        )
        .detail(procs.commands())
    })?;
    mutex_finish(
        ctx,
        &key,
        100_000,
        "4 × add 25000 ran at once: every increment must happen with the semaphore taken, \
         and the semaphore must start at 1 (one holder at a time).",
    )
}

fn mutex_sem_undo(ctx: &Ctx) -> Result<(), Failure> {
    let key = fresh_key(ctx)?;
    mutex_init(ctx, &key)?;
    let mut procs = Procs::new(ctx, "out")?;
    let holder = procs.start(mutex_spec(ctx, &["add", &key, "5", "--hold-ms", "60000"]))?;
    let holding = crate::procfs::poll_until(Instant::now() + ctx.limit() / 4, || {
        procs.output() == "holding\n" || procs.exited(holder)
    });
    if !holding || procs.exited(holder) {
        procs.kill(holder);
        let run = procs.wait(holder).clone();
        return Err(Failure::new(format!(
            "`add --hold-ms` did not print exactly \"holding\\n\" and wait (output: {:?})",
            procs.output()
        ))
        .command(&run));
    }
    let a = procs.start(mutex_spec(
        ctx,
        &["add", &key, "1000", "--timeout-ms", "2000"],
    ))?;
    let b = procs.start(mutex_spec(
        ctx,
        &["add", &key, "1000", "--timeout-ms", "2000"],
    ))?;
    // Let both reach their wait (asleep in the kernel) before the holder dies.
    crate::procfs::poll_until(Instant::now() + Duration::from_millis(500), || {
        [a, b]
            .iter()
            .all(|&i| procs.exited(i) || crate::procfs::state(procs.pid(i)) == Some('S'))
    });
    procs.kill(holder);
    procs.wait(holder);
    for i in [a, b] {
        let run = procs.wait(i).clone();
        expect::exit_code(&run, 0).map_err(|f| {
            f.detail(format!(
                "(this add was waiting while the holder, `add --hold-ms`, was killed with SIGKILL)\n{}\nHINT: {UNDO_HINT}",
                procs.commands()
            ))
        })?;
    }
    mutex_finish(
        ctx,
        &key,
        2000,
        "the killed holder had not incremented; the two adds of 1000 had to complete.",
    )
}

fn mutex_cleanup(ctx: &Ctx) -> Result<(), Failure> {
    let kinds = [IpcKind::Sem, IpcKind::Shm];
    let before = Snapshot::take();
    let key = fresh_key(ctx)?;
    mutex_init(ctx, &key)?;
    let run = mutex_run(ctx, &["add", &key, "10"])?;
    expect::exit_code(&run, 0)?;
    // init again: exit 1, and what exists is left alone (finish still prints 10).
    let run = mutex_run(ctx, &["init", &key])?;
    gave_up(&run, 1, "sem-mutex")
        .map_err(|f| f.detail("(init on a key whose set and segment exist)"))?;
    mutex_finish(
        ctx,
        &key,
        10,
        "a second init must fail and leave the existing objects alone",
    )?;
    let left = describe(&sysv_added(&before, &kinds));
    ensure(left.is_empty(), || {
        Failure::new("finish left SysV objects behind")
            .detail(format!("LEFT BEHIND:\n    {}", left.join("\n    ")))
            .command(&run)
    })?;
    // finish gives up while a holder keeps the semaphore: it must still remove both.
    let key = fresh_key(ctx)?;
    mutex_init(ctx, &key)?;
    let mut procs = Procs::new(ctx, "out")?;
    let holder = procs.start(mutex_spec(ctx, &["add", &key, "1", "--hold-ms", "60000"]))?;
    crate::procfs::poll_until(Instant::now() + ctx.limit() / 4, || {
        procs.output() == "holding\n" || procs.exited(holder)
    });
    let fin = procs.start(mutex_spec(ctx, &["finish", &key, "--timeout-ms", "200"]))?;
    let run = procs.wait(fin).clone();
    procs.kill(holder);
    procs.wait(holder);
    gave_up(&run, 3, "sem-mutex")
        .map_err(|f| f.detail("(finish while another add held the semaphore)"))?;
    let left = describe(&sysv_added(&before, &kinds));
    ensure(left.is_empty(), || {
        Failure::new("finish gave up (exit 3) but left SysV objects behind")
            .detail(format!("LEFT BEHIND:\n    {}", left.join("\n    ")))
            .command(&run)
            .detail(
                "HINT: finish removes the set and the segment also when it gives up (spec §4.4).",
            )
    })?;
    // add and finish before init.
    let key = fresh_key(ctx)?;
    for args in [
        vec!["add", key.as_str(), "1", "--timeout-ms", "200"],
        vec!["finish", key.as_str(), "--timeout-ms", "200"],
    ] {
        let run = mutex_run(ctx, &args)?;
        gave_up(&run, 1, "sem-mutex").map_err(|f| f.detail("(no init was run for this key)"))?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Bad input

fn bad_input(ctx: &Ctx) -> Result<(), Failure> {
    let before = Snapshot::take();
    let shm_before: Vec<String> = crate::procfs::dev_shm_entries();
    let key = fresh_key(ctx)?;
    let name = fresh_name();
    let k = key.as_str();
    let n = name.as_str();
    let bare = &name[1..];
    let t = ["--timeout-ms", "200"];
    let with_t = |args: &[&str]| -> Vec<String> {
        args.iter().chain(t.iter()).map(|s| s.to_string()).collect()
    };
    let cases: Vec<(&str, Vec<String>)> = vec![
        ("sem-pingpong", with_t(&["ping", n, "0"])),
        ("sem-pingpong", with_t(&["pong", n, "1000001"])),
        ("sem-pingpong", with_t(&["ping", n, "12x"])),
        ("sem-pingpong", with_t(&["ping", bare, "3"])),
        ("sem-pingpong", with_t(&["ping", "/a/b", "3"])),
        ("sem-pingpong", with_t(&["pang", n, "3"])),
        ("sem-pingpong", with_t(&["ping", n, "3", "--bogus", "1"])),
        ("sem-pingpong", with_t(&["ping", n])),
        (
            "sem-pingpong",
            vec!["ping".into(), n.into(), "3".into(), "--timeout-ms".into()],
        ),
        ("sem-ring", with_t(&[k, "0", "1", "3"])),
        ("sem-ring", with_t(&[k, "0", "17", "3"])),
        ("sem-ring", with_t(&[k, "3", "3", "3"])),
        ("sem-ring", with_t(&[k, "0", "3", "0"])),
        ("sem-ring", with_t(&[k, "0", "3", "1000001"])),
        ("sem-ring", with_t(&[k, "0", "3"])),
        (
            "sem-ring",
            vec![
                k.into(),
                "0".into(),
                "3".into(),
                "3".into(),
                "--timeout-ms".into(),
                "0".into(),
            ],
        ),
        ("sem-mutex", vec!["frob".into(), k.into()]),
        (
            "sem-mutex",
            vec!["init".into(), k.into(), "--timeout-ms".into(), "5".into()],
        ),
        ("sem-mutex", with_t(&["add", k])),
        ("sem-mutex", with_t(&["add", k, "0"])),
        ("sem-mutex", with_t(&["add", k, "1000001"])),
    ];
    for (program, args) in cases {
        let run = ctx.run(ctx.cmd(program, args))?;
        let usage = match program {
            "sem-pingpong" => "usage: sem-pingpong ping|pong NAME ROUNDS [--timeout-ms MS]",
            "sem-ring" => "usage: sem-ring KEYPATH INDEX K ROUNDS [--timeout-ms MS]",
            _ => {
                "usage: sem-mutex init KEYPATH | add KEYPATH TIMES [--timeout-ms MS] [--hold-ms MS] | finish KEYPATH [--timeout-ms MS]"
            }
        };
        let hint = "HINT: spec §1.1 gives every range; a usage error exits 2 with `PROGRAM: message` \
                    and the usage line on stderr, before any IPC object is touched.";
        expect::exit_code(&run, 2).map_err(|f| f.detail(hint))?;
        expect::stderr_starts(&run, &format!("{program}: ")).map_err(|f| f.detail(hint))?;
        ensure(run.stderr.text().lines().any(|l| l == usage), || {
            Failure::new("the usage line is missing from stderr")
                .detail(format!("EXPECTED A LINE:\n{}", message::block(usage)))
                .detail(format!("STDERR:\n{}", message::block(&run.stderr.text())))
                .command(&run)
        })?;
        expect::stdout_empty(&run)?;
        let mut left = describe(&sysv_added(
            &before,
            &[IpcKind::Sem, IpcKind::Shm, IpcKind::Msg],
        ));
        left.extend(
            crate::procfs::dev_shm_entries()
                .into_iter()
                .filter(|e| !shm_before.contains(e)),
        );
        ensure(left.is_empty(), || {
            Failure::new("a rejected command line created IPC objects")
                .detail(format!("CREATED:\n    {}", left.join("\n    ")))
                .command(&run)
                .detail(hint)
        })?;
    }
    // A KEYPATH that does not exist is a runtime failure, not a usage error.
    let missing = ctx
        .dir()
        .join("no-such-keyfile")
        .to_string_lossy()
        .into_owned();
    for (program, args) in [
        (
            "sem-ring",
            vec![missing.as_str(), "0", "2", "1", "--timeout-ms", "200"],
        ),
        ("sem-mutex", vec!["init", missing.as_str()]),
    ] {
        let run = ctx.run(ctx.cmd(program, args))?;
        gave_up(&run, 1, program)
            .map_err(|f| f.detail("(KEYPATH names no file: exit 1, spec §1.1)"))?;
    }
    Ok(())
}
