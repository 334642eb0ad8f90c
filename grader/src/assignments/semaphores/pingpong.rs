//! Part 1, `sem-pingpong`: the turns' order, the names removed however a run ends, a side
//! giving up when its peer dies, no busy waiting, and round trips timed against the grader's
//! own ping-pong ([`super::probe`]).

use std::time::{Duration, Instant};

use crate::check::ensure;
use crate::check::{Check, Ctx, Failure};
use crate::message;
use crate::run::Spec;

use super::common::{
    BOUNDED_HINT, CPU, PEER_GRACE, PEER_TIMEOUT_MS, Procs, SPIN_HINT, STALL, WAIT_HINT, all_ok,
    fresh_name, gave_up, lines_match, ms, named_left, nothing_left, stall_cpu,
};

/// Allowed ratio of a student's ping-pong wall time to the probe's.
const LATENCY_RATIO: f64 = 5.0;

/// The checks of this family, in the spec's order.
pub(super) fn checks() -> Vec<Check> {
    let secs = Duration::from_secs;
    vec![
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
    ]
}

pub(super) fn pingpong_spec(
    ctx: &Ctx,
    role: &str,
    name: &str,
    rounds: u64,
    timeout_ms: Option<u64>,
) -> Spec {
    let mut args = vec![role.to_string(), name.to_string(), rounds.to_string()];
    if let Some(ms) = timeout_ms {
        args.extend(["--timeout-ms".to_string(), ms.to_string()]);
    }
    ctx.cmd("sem-pingpong", args)
}

pub(super) fn pingpong_lines(rounds: u64) -> String {
    (1..=rounds)
        .map(|i| format!("ping {i}\npong {i}\n"))
        .collect()
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
                .commands(procs.commands()));
        }
        procs.kill(killed);
        let killed_at = Instant::now();
        let allowed = ctx.loosen(Duration::from_millis(PEER_TIMEOUT_MS) + PEER_GRACE);
        let in_time = procs.wait_until(survivor, killed_at + allowed);
        procs.wait(killed);
        let run = procs.finished[survivor].clone().expect("waited");
        ensure(in_time, || {
            Failure::new(format!(
                "{other} was still waiting {} after {victim} was killed (--timeout-ms {PEER_TIMEOUT_MS})",
                ms(allowed)
            ))
            .commands(procs.commands())
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
            .commands(commands))
        }
        Err(failure) => Err(Failure::grader(format!(
            "the grader's own ping-pong probe went wrong: {}",
            failure.reason
        ))
        .detail(failure.details)
        .commands(failure.failed)),
    }
}

fn pingpong_latency(ctx: &Ctx) -> Result<(), Failure> {
    const ROUNDS: u64 = 5_000;
    const TRIES: usize = 3;
    let allowed = ctx.at_most(LATENCY_RATIO);
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
                .commands(procs.commands())
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
