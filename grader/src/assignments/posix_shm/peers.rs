//! A peer that dies or never comes: the survivor gives up within its timeout.

use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use crate::check::ensure;
use crate::check::{Check, Ctx, Failure};
use crate::expect;
use crate::leaks::unique_name;
use crate::run::{Input, Output, Running};
use crate::stream::Stream;

use super::MIB;
use super::common::*;

/// The checks of this family, in the spec's order.
pub(super) fn checks() -> Vec<Check> {
    let secs = Duration::from_secs;
    vec![
        Check::new(
            "peer-killed",
            8,
            "SIGKILL one side mid-stream: the other exits 3 `gave up` within T + 1 s",
            peer_killed,
        )
        .limit(secs(10))
        .lesson("§12, §13")
        .on_timeout(BOUND_HINT),
        Check::new(
            "alone",
            4,
            "each program alone, --timeout 300: exit 3 `gave up` in 0.3–1.3 s, name removed",
            alone,
        )
        .limit(secs(5))
        .lesson("§12")
        .on_timeout(BOUND_HINT),
    ]
}

/// Starts a transfer of an endless stream, kills `victim` once the receiver has written
/// 1 MiB, and checks that the survivor exits 3 with `gave up` within `timeout` + 1 s.
pub(super) fn kill_one(ctx: &Ctx, kill_sender: bool, timeout_ms: u64) -> Result<(), Failure> {
    let chan = Chan::shm();
    let t = timeout_ms.to_string();
    let args = chan.args(&["--timeout", &t, "--ring", "64K"]);
    let out_path = ctx.dir().join(unique_name("out"));
    let out = std::fs::File::create(&out_path)
        .map_err(|e| Failure::new(format!("grader: cannot create {}: {e}", out_path.display())))?;
    let stream = Stream::new(ctx.seed() ^ 0xdead, 1 << 40);
    let r = ctx.spawn(ctx.cmd("pshm-recv", args.clone()).stdout(Output::File(out)))?;
    poll_until(ctx.limit() / 4, &[&r], || chan.exists());
    let s = ctx.spawn(ctx.cmd("pshm-send", args).stdin(Input::Stream(stream)))?;
    let size = || std::fs::metadata(&out_path).map(|m| m.len()).unwrap_or(0);
    let moving = poll_until(ctx.limit() / 4, &[&r, &s], || size() >= MIB);
    let (mut victim, survivor) = if kill_sender { (s, r) } else { (r, s) };
    let killed_at = Instant::now();
    ctx.signal(&mut victim, Signal::SIGKILL);
    let victim = ctx.wait(victim);
    let survived = ctx.wait(survivor);
    let took = killed_at.elapsed();
    let _ = std::fs::remove_file(&out_path);
    let (vname, sname) = if kill_sender {
        ("pshm-send", "pshm-recv")
    } else {
        ("pshm-recv", "pshm-send")
    };
    if !moving {
        return Err(Failure::new(format!(
            "no data reached pshm-recv's stdout (1 MiB) before {vname} was to be killed"
        ))
        .detail(stderr_of(&survived))
        .command(&survived)
        .command(&victim));
    }
    let bound = Duration::from_millis(timeout_ms) + ctx.loosen(Duration::from_secs(1));
    if survived.code() != Some(3) || !survived.stderr.text().contains("gave up") || took > bound {
        return Err(Failure::new(format!(
            "after {vname} was killed, {sname} ended with {} after {:.2} s; expected exit \
             status 3 with `gave up` within {:.1} s (--timeout {timeout_ms} + 1 s)",
            survived.end,
            took.as_secs_f64(),
            bound.as_secs_f64()
        ))
        .detail(stderr_of(&survived))
        .command(&survived)
        .detail(
            "HINT: a dead peer never posts again: every sem_timedwait ends at its deadline and \
             the program exits 3 (§6.3).",
        ));
    }
    if chan.exists() {
        return Err(Failure::new(format!(
            "{} is left in /dev/shm after {vname} was killed mid-stream",
            chan.entry.display()
        ))
        .command(&survived)
        .detail("HINT: the joiner removes the name before any data moves (§5.3)."));
    }
    Ok(())
}

fn peer_killed(ctx: &Ctx) -> Result<(), Failure> {
    kill_one(ctx, true, 500)?;
    kill_one(ctx, false, 500)
}

fn alone(ctx: &Ctx) -> Result<(), Failure> {
    let runs: Vec<(Chan, Running)> = ["pshm-send", "pshm-recv"]
        .into_iter()
        .map(|bin| {
            let chan = Chan::shm();
            let spec = ctx.cmd(bin, chan.args(&["--timeout", "300"]));
            ctx.spawn(spec).map(|r| (chan, r))
        })
        .collect::<Result<_, _>>()?;
    for (chan, running) in runs {
        let run = ctx.wait(running);
        let (lo, hi) = (
            Duration::from_millis(300),
            Duration::from_millis(300) + ctx.loosen(Duration::from_secs(1)),
        );
        expect::exit_code(&run, 3)?;
        expect::stderr_has(&run, "gave up")?;
        ensure(run.wall >= lo && run.wall <= hi, || {
            Failure::new(format!(
                "gave up after {:.2} s, expected 0.3 to {:.1} s (--timeout 300)",
                run.wall.as_secs_f64(),
                hi.as_secs_f64()
            ))
            .command(&run)
            .detail("HINT: the creator waits on `joined` with sem_timedwait, now + T (§5.1).")
        })?;
        ensure(!chan.exists(), || {
            Failure::new(format!(
                "{} is still there after the program gave up",
                chan.entry.display()
            ))
            .command(&run)
            .detail(
                "HINT: a creator that gives up withdraws (state READY → ABANDONED) and \
                 removes the name it created (§5.1 step 5).",
            )
        })?;
    }
    Ok(())
}
