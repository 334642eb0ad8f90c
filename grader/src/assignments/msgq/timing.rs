//! `msgq` checks: timing against the grader's probes: bulk throughput against `cat`, round
//! trips against the grader's ping-pong, and a server that sleeps while idle.

use std::time::Duration;

use super::common::*;
use crate::check::ensure;
use crate::check::{Check, Ctx, Failure};
use crate::expect;
use crate::run::{Input, Output};

/// This family's checks, in the spec's order.
pub(super) fn checks() -> Vec<Check> {
    let secs = Duration::from_secs;
    vec![
        Check::new(
            "bulk-throughput",
            3,
            "64 MiB `put` through a 1 MiB segment within 8× the time of `cat` alone",
            bulk_throughput,
        )
        .limit(secs(30))
        .lesson("§8, §15"),
        Check::new(
            "round-trip-latency",
            3,
            "2000 `session` round trips within 4× the grader's own ping-pong",
            round_trip_latency,
        )
        .limit(secs(20))
        .lesson("§4"),
    ]
}

/// Best of three: the wall time of `n` round trips through `server` with `client`, both
/// pinned to CPU 0.
fn best_round_trips(ctx: &Ctx, n: u64, student: bool) -> Result<Duration, Failure> {
    let mut best = Duration::MAX;
    for _ in 0..3 {
        let path = key_file(ctx);
        let server = if student {
            ctx.spawn(
                ctx.cmd(
                    "msgq-server",
                    ["--id", ID_ARG, "--timeout", &ms(ctx, SERVER_MS), &path],
                )
                .on_cpu(0),
            )?
        } else {
            ctx.spawn(
                ctx.tool(PEER, ["--id", ID_ARG, "server", &path, &ms(ctx, CLIENT_MS)])
                    .on_cpu(0),
            )?
        };
        let run = if student {
            let (mut input, mut want) = sums_input(n, 3);
            input.extend_from_slice(b"shutdown\n");
            want.extend_from_slice(b"ok\n");
            let run = ctx.run(
                ctx.cmd("msgq-client", client_args(ctx, &path, &["session"]))
                    .stdin(Input::Bytes(input))
                    .on_cpu(0),
            )?;
            if let Err(f) = expect::exit_code(&run, 0).and_then(|()| expect::stdout_is(&run, &want))
            {
                return Err(abandon(ctx, server, f));
            }
            run
        } else {
            let run = ctx.run(
                ctx.tool(
                    PEER,
                    [
                        "--id",
                        ID_ARG,
                        "ping",
                        &path,
                        &ms(ctx, CLIENT_MS),
                        &n.to_string(),
                    ],
                )
                .on_cpu(0),
            )?;
            peer_ok(&run, "the grader's probe")?;
            run
        };
        let server = ctx.wait(server);
        if student {
            expect::exit_code(&server, 0)?;
        }
        best = best.min(run.wall);
    }
    Ok(best)
}

fn round_trip_latency(ctx: &Ctx) -> Result<(), Failure> {
    server_sleeps_while_idle(ctx)?;
    let n = 2000;
    let probe = best_round_trips(ctx, n, false)?;
    let student = best_round_trips(ctx, n, true)?;
    let ratio = student.as_secs_f64() / probe.as_secs_f64().max(1e-6);
    let allowed = ctx.at_most(4.0);
    let us = |d: Duration| d.as_secs_f64() * 1e6 / n as f64;
    ensure(ratio <= allowed, || {
        Failure::new(format!(
            "{n} session round trips took {ratio:.1}× as long as the grader's (allowed {allowed:.1}×)"
        ))
        .detail(format!(
            "MEASURED (best of 3, both sides on CPU 0, process start included):\n    yours: {:.1} µs per round trip\n    the grader's: {:.1} µs",
            us(student),
            us(probe)
        ))
        .detail("HINT: block in msgrcv; never poll with IPC_NOWAIT and sleep, and flush each answer at once.")
    })?;
    ctx.note(format!(
        "{n} session round trips took {ratio:.2}× as long as the grader's (allowed {allowed:.1}×)"
    ));
    Ok(())
}

/// `put` of 64 MiB through a 1 MiB segment, against `cat` moving the same bytes through two
/// pipes: best of 3 each, alternated. Zeros in and a count out keep the grader's share of the
/// work negligible; `transfer-rounds` checks the bytes themselves.
fn bulk_throughput(ctx: &Ctx) -> Result<(), Failure> {
    const ROUNDS: usize = 3;
    const BOUND: f64 = 8.0;
    let len = 64 * MIB;
    with_server(ctx, |path| {
        let (mut best_put, mut best_cat) = (Duration::MAX, Duration::MAX);
        for _ in 0..ROUNDS {
            let cat = ctx.run(
                ctx.program("cat", Vec::<String>::new())
                    .stdin(Input::Zeros(len))
                    .stdout(Output::Count),
            )?;
            expect::exit_code(&cat, 0)?;
            best_cat = best_cat.min(cat.wall);
            let running = ctx.spawn(
                ctx.cmd(
                    "msgq-client",
                    client_args(ctx, path, &["put", &MIB.to_string()]),
                )
                .stdin(Input::Zeros(len)),
            )?;
            let pid = running.pid();
            let run = ctx.wait(running);
            expect::exit_code(&run, 0)?;
            crossed(path, ID, &[pid], &run)?;
            ensure(run.stdout.text().starts_with(&format!("{len} ")), || {
                Failure::new(format!(
                    "expected `{len} CRC` on stdout after moving {len} bytes"
                ))
                .detail(format!(
                    "ACTUAL STDOUT:\n    {}",
                    run.stdout.text().trim_end()
                ))
                .command(&run)
            })?;
            best_put = best_put.min(run.wall);
        }
        let ratio = best_put.as_secs_f64() / best_cat.as_secs_f64().max(1e-6);
        let allowed = ctx.at_most(BOUND);
        let mibs = |d: Duration| 64.0 / d.as_secs_f64().max(1e-6);
        ensure(ratio <= allowed, || {
            Failure::new(format!(
                "`put` took {ratio:.1}× as long as `cat` moving the same 64 MiB (allowed: {allowed:.1}×)"
            ))
            .detail(format!(
                "MEASURED (best of {ROUNDS}): put {:.0} MiB/s, cat {:.0} MiB/s",
                mibs(best_put),
                mibs(best_cat)
            ))
            .detail("HINT: fill the whole segment before each \"ready\": one round trip on the queue per segment, not per read (lesson §15, §21).")
        })?;
        ctx.note(format!(
            "`put` took {ratio:.2}× as long as `cat` moving the same 64 MiB (allowed {allowed:.1}×)"
        ));
        Ok(())
    })
}

/// A server with no request to serve sleeps in `msgrcv` and does not wake up: over a 300 ms
/// window it may go to sleep a few times (starting up), a server that polls with a 1 ms sleep
/// goes hundreds of times. Counted by the kernel, so a loaded machine does not blur it.
fn server_sleeps_while_idle(ctx: &Ctx) -> Result<(), Failure> {
    const WINDOW: Duration = Duration::from_millis(300);
    const ALLOWED: u64 = 10;
    let path = key_file(ctx);
    let server = start_server(ctx, &path)?;
    let pid = server.pid();
    wait_for(ctx, || {
        queue_of(&path).is_some() || crate::procfs::gone(pid)
    });
    let before = crate::procfs::voluntary_switches(pid);
    std::thread::sleep(WINDOW);
    let after = crate::procfs::voluntary_switches(pid);
    if let (Some(before), Some(after)) = (before, after) {
        let woke = after.saturating_sub(before);
        if woke > ALLOWED {
            let failure = Failure::new(format!(
                "the server went to sleep {woke} times in 0.3 s with no request to serve: it polls"
            ))
            .detail("HINT: block in msgrcv until a request comes; never poll with IPC_NOWAIT and sleep.");
            return Err(abandon(ctx, server, failure));
        }
    }
    stop(ctx, &path, server)
}
