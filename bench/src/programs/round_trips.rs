//! Round trips: the semaphore and message-queue programs against the futex ping-pong.

use super::*;

/// Seconds per round of `sem-pingpong`, `sem-ring` with two processes and a `msgq-client
/// session` of `sum` requests, each against the futex ping-pong in the same placement. A
/// round's time is (run of `n` rounds − run of 1 round) / (`n` − 1), which leaves out the
/// programs' start-up.
pub(super) fn round_trips(
    config: &Config,
    scratch: &Scratch,
    placement: Placement,
    cpus: Cpus,
    allowed: &[usize],
) -> io::Result<Vec<Row>> {
    let n = match placement {
        Placement::SameCpu => config.rounds_same,
        Placement::CrossCpu => config.rounds_cross,
    }
    .max(2);
    let pid = std::process::id();
    let ring_key = scratch.key("key-ring")?;
    let msgq_key = scratch.key("key-msgq")?;
    let mut session = BufWriter::new(File::create(scratch.path(&format!("session-{n}")))?);
    for _ in 0..n {
        session.write_all(b"sum 1 2\n")?;
    }
    session.flush()?;
    drop(session);
    let mut one = File::create(scratch.path("session-1"))?;
    one.write_all(b"sum 1 2\n")?;
    drop(one);

    let pingpong = |rounds: usize| {
        timed(|| {
            let name = format!("/ipclab-bench-pp-{pid}");
            let r = rounds.to_string();
            let pong = spawn_on(
                program(config, "sem-pingpong").args(["pong", &name, &r]),
                Some(cpus.b),
                allowed,
            )?;
            let ping = spawn_on(
                program(config, "sem-pingpong").args(["ping", &name, &r]),
                Some(cpus.a),
                allowed,
            )?;
            Ok(vec![("pong".into(), pong, 0), ("ping".into(), ping, 0)])
        })
    };
    let ring = |rounds: usize| {
        timed(|| {
            let r = rounds.to_string();
            let key = ring_key.as_os_str();
            let second = spawn_on(
                program(config, "sem-ring").args([key, "1".as_ref(), "2".as_ref(), r.as_ref()]),
                Some(cpus.b),
                allowed,
            )?;
            let first = spawn_on(
                program(config, "sem-ring").args([key, "0".as_ref(), "2".as_ref(), r.as_ref()]),
                Some(cpus.a),
                allowed,
            )?;
            Ok(vec![
                ("sem-ring 1".into(), second, 0),
                ("sem-ring 0".into(), first, 0),
            ])
        })
    };
    // One server per pair: a session of one request, one of `n`, then `shutdown`.
    let msgq = || -> io::Result<(Run, Run)> {
        let key = msgq_key.as_os_str();
        let server = spawn_on(
            program(config, "msgq-server").arg(key),
            Some(cpus.b),
            allowed,
        )?;
        // The client's CPU time comes from its rusage, the server's (still running) from the
        // scheduler's count of its time on a CPU.
        let server_pid = server.id();
        let session = |rounds: usize| {
            let before = task_cpu(server_pid);
            let run = timed(|| {
                let client = spawn_on(
                    program(config, "msgq-client")
                        .args([key, "session".as_ref()])
                        .stdin(File::open(scratch.path(&format!("session-{rounds}")))?),
                    Some(cpus.a),
                    allowed,
                )?;
                Ok(vec![("msgq-client session".into(), client, 0)])
            })?;
            let served = task_cpu(server_pid) - before;
            Ok::<_, io::Error>(Run {
                cpu: run.cpu + served,
                ..run
            })
        };
        let runs = session(1).and_then(|one| Ok((one, session(n)?)));
        let stop = timed(|| {
            let client = program(config, "msgq-client")
                .args([key, "shutdown".as_ref()])
                .spawn()?;
            Ok(vec![("msgq-client shutdown".into(), client, 0)])
        });
        let served = finish("msgq-server", server, 0);
        let runs = runs?;
        stop?;
        served?;
        Ok(runs)
    };

    // Wall and CPU seconds of one round.
    let per_round = |one: Run, all: Run| {
        let rounds = (n - 1) as f64;
        ((all.wall - one.wall) / rounds, (all.cpu - one.cpu) / rounds)
    };
    let mut rows = Vec::new();
    let mut pp = Vec::new();
    let mut rg = Vec::new();
    let mut mq = Vec::new();
    let mut mq_bare = Vec::new();
    for _ in 0..config.reps {
        let futex = measure::futex_round_trip(n, 20, cpus)?;
        measure::unpin(allowed)?;
        let pair = |(wall, cpu): (f64, f64)| {
            (
                wall * 1e6,
                futex.wall * 1e6,
                wall / futex.wall,
                cpu / futex.cpu,
            )
        };
        pp.push(pair(per_round(pingpong(1)?, pingpong(n)?)));
        rg.push(pair(per_round(ring(1)?, ring(n)?)));
        let (one, all) = msgq()?;
        mq.push(pair(per_round(one, all)));
        // The bare mechanism: one 48-byte message each way on one queue, by the bench.
        let bare = measure::round_trip(Mechanism::SysvMsgq, 48, n, 20, cpus, Limits::read())?;
        measure::unpin(allowed)?;
        let (wall, cpu) = per_round(one, all);
        mq_bare.push((
            wall * 1e6,
            bare.wall * 1e6,
            wall / bare.wall,
            cpu / bare.cpu,
        ));
    }
    let probe = format!("futex ping-pong, {}", placement.name());
    for (assignment, label, pairs) in [
        ("semaphores", "sem-pingpong ping/pong, a round", &pp),
        ("semaphores", "sem-ring, K = 2, a round", &rg),
        ("msgq", "msgq-client session, a sum request", &mq),
    ] {
        rows.push(row(
            assignment,
            label,
            &probe,
            "us",
            pairs,
            Goal::AtMost(1.5),
            placement.name(),
        ));
    }
    rows.push(row(
        "msgq",
        "msgq-client session, a sum request",
        &format!(
            "the bench's sysv-msgq round trip (48 B each way), {}",
            placement.name()
        ),
        "us",
        &mq_bare,
        Goal::None,
        placement.name(),
    ));
    Ok(rows)
}
