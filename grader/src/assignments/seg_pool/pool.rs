//! The segments: all made by the server before the first FREE message, the same ones reused
//! for every chunk, and a client that finds none free sleeps until one is
//! (`specs/seg-pool.md` §3.2–3.3, §4.2).

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use crate::check::{Ctx, Failure, ensure};
use crate::expect;
use crate::procfs;
use crate::run::{Input, Output};
use crate::stream::Stream;

use super::{FREE, client, ffi, in_case, listing, new_key, pool_of, queue, server, wait_pool};

/// `pool-at-start`: once the queue holds the 5 FREE messages, the server has made exactly 5
/// segments of 12,345 bytes, `IPC_PRIVATE`, mode 600; the queue is mode 600.
pub fn at_start(ctx: &Ctx) -> Result<(), Failure> {
    let (n, size) = (5, 12_345);
    let key = new_key(ctx)?;
    let srv = ctx.spawn(server(ctx, &key, n, size, 1, &[]))?;
    let (srv, q) = wait_pool(ctx, &key, n as i64, srv)?;
    let segs = pool_of(srv.pid());
    let right = |r: &procfs::IpcRow| {
        r.num("size") == size as i64 && r.num("perms") % 1000 == 600 && r.num("key") == 0
    };
    let made = ensure(
        segs.len() == n as usize && segs.iter().all(right) && q.num("perms") % 1000 == 600,
        || {
            Failure::new(format!(
                "with {} FREE messages on the queue (mode {}) the server has made {} segments; \
                 expected {n} of {size} bytes, key IPC_PRIVATE (0), mode 600",
                q.num("qnum"),
                q.num("perms"),
                segs.len()
            ))
            .detail(format!("SEGMENTS OF THE SERVER:\n{}", listing(&segs)))
            .detail(
                "HINT: shmget(IPC_PRIVATE, SEG_SIZE, IPC_CREAT | 0600) SEGMENTS times, all \
                 before the first FREE message, and the queue with mode 0600 (spec §3.2).",
            )
        },
    );
    let run = ctx.run(client(ctx, &key))?;
    made?;
    expect::exit_code(&run, 0).map_err(in_case("a client with no input"))?;
    let srv = ctx.wait(srv);
    expect::exit_code(&srv, 0).map_err(in_case("the server"))?;
    ctx.note(format!(
        "{n} segments of {size} bytes, mode 600, made before the first FREE"
    ));
    Ok(())
}

/// `pool-reused`: 3 segments of 4096 bytes carry 1 MiB; while they do, the server's segments
/// are never more than 3 and always those it made first; once the client is done and all 3
/// are free again, they are still those.
pub fn reused(ctx: &Ctx) -> Result<(), Failure> {
    let len = 1 << 20;
    let key = new_key(ctx)?;
    let stream = Stream::new(ctx.seed() ^ 0x9001, len);
    let srv = ctx.spawn(server(ctx, &key, 3, 4096, 2, &[]).stdout(Output::Compare(stream)))?;
    let (srv, _) = wait_pool(ctx, &key, 3, srv)?;
    let ids = |rows: &[procfs::IpcRow]| -> BTreeSet<i64> {
        rows.iter().map(|r| r.num("shmid")).collect()
    };
    let first = ids(&pool_of(srv.pid()));
    let cli = ctx.spawn(client(ctx, &key).stdin(Input::Stream(stream)))?;
    let (mut most, mut strangers, mut samples) = (first.len(), BTreeSet::new(), 0);
    while !cli.has_exited() && Instant::now() < ctx.deadline() {
        let now = pool_of(srv.pid());
        most = most.max(now.len());
        strangers.extend(ids(&now).difference(&first).copied());
        samples += 1;
        std::thread::sleep(Duration::from_micros(500));
    }
    let cli = ctx.wait(cli);
    expect::exit_code(&cli, 0).map_err(in_case("the client of 1 MiB"))?;
    procfs::poll_for(ctx.loosen(Duration::from_secs(2)), || {
        queue(&key).is_some_and(|q| q.num("qnum") >= 3)
    });
    let last = pool_of(srv.pid());
    strangers.extend(ids(&last).difference(&first).copied());
    let kept = ensure(
        first.len() == 3 && most <= 3 && strangers.is_empty() && ids(&last) == first,
        || {
            Failure::new(format!(
                "the pool changed during the transfer: {} segments at first, up to {most} \
                 at once, {} identifiers not among the first (in {samples} looks)",
                first.len(),
                strangers.len()
            ))
            .detail(format!(
                "FIRST: {first:?}\nAFTER THE CLIENT:\n{}",
                listing(&last)
            ))
            .detail(
                "HINT: the server makes its SEGMENTS segments once; after writing a chunk \
                 out it puts the same identifier back on the free list (spec §3.3).",
            )
        },
    );
    let run = ctx.run(client(ctx, &key))?;
    kept?;
    expect::exit_code(&run, 0).map_err(in_case("the second client, no input"))?;
    let srv = ctx.wait(srv);
    expect::exit_code(&srv, 0).map_err(in_case("the server"))?;
    expect::stream_matched(&srv).map_err(in_case("the server's output"))?;
    ctx.note(format!(
        "1 MiB through the same 3 segments ({samples} looks at /proc/sysvipc/shm)"
    ));
    Ok(())
}

/// `client-blocks`: the grader takes both FREE messages of a 2-segment pool; a client of
/// 10,000 bytes must then wait, asleep, for 800 ms, and complete once they are back. Its
/// CPU time for the whole run is at most a tenth of the window plus 20 ms.
pub fn client_blocks(ctx: &Ctx) -> Result<(), Failure> {
    let window = Duration::from_millis(800);
    let key = new_key(ctx)?;
    let stream = Stream::new(ctx.seed() ^ 0xb10c, 10_000);
    let srv = ctx.spawn(server(ctx, &key, 2, 4096, 1, &[]).stdout(Output::Compare(stream)))?;
    let (srv, q) = wait_pool(ctx, &key, 2, srv)?;
    let qid = q.num("msqid") as i32;
    let mut held = Vec::new();
    while held.len() < 2 {
        match ffi::take(qid, FREE) {
            Ok(Some(m)) => held.push(m),
            Ok(None) => break,
            Err(e) => return Err(Failure::grader(format!("msgrcv of a FREE message: {e}"))),
        }
    }
    ensure(held.len() == 2, || {
        Failure::new(format!(
            "the queue held {} FREE messages (type 3) for a pool of 2",
            held.len()
        ))
    })?;
    let cli = ctx.spawn(client(ctx, &key).stdin(Input::Stream(stream)))?;
    let pid = cli.pid();
    // The client's start is not judged (under load it is runnable for a while before it
    // reaches its first msgrcv): the window opens once it first sleeps there.
    let asleep = || procfs::sleeps_in_wait(pid, "msgrcv");
    let entered = procfs::poll_for(ctx.limit() / 4, || cli.has_exited() || asleep());
    let start = Instant::now();
    let (mut looks, mut elsewhere) = (0u32, 0u32);
    while entered && start.elapsed() < window && !cli.has_exited() {
        std::thread::sleep(Duration::from_millis(10));
        // A client waiting as it should stays asleep in msgrcv until a segment is free; a
        // loop of IPC_NOWAIT attempts is seen running or asleep elsewhere (a sleep between
        // attempts), however loaded the machine is.
        match procfs::state(pid) {
            None => break,
            Some(_) if !asleep() => elsewhere += 1,
            Some(_) => {}
        }
        looks += 1;
    }
    let waited = !cli.has_exited();
    for m in &held {
        ffi::put(qid, m).map_err(|e| Failure::grader(format!("msgsnd of a FREE message: {e}")))?;
    }
    let cli = ctx.wait(cli);
    ensure(waited, || {
        Failure::new("with every segment in use the client did not wait for a free one")
            .detail(
                "HINT: msgrcv of type FREE without IPC_NOWAIT sleeps until a segment is free \
                 (spec §4.2).",
            )
            .command(&cli)
    })?;
    expect::exit_code(&cli, 0).map_err(in_case("the client"))?;
    let allowed = window.mul_f64(ctx.at_most(0.1)) + ctx.loosen(Duration::from_millis(20));
    ensure(entered && elsewhere <= looks / 10, || {
        Failure::new(if entered {
            format!(
                "while every segment was in use the client was not asleep in msgrcv in \
                 {elsewhere} of {looks} looks at it (allowed: a tenth)"
            )
        } else {
            "with every segment in use the client never went to sleep in msgrcv".to_string()
        })
        .detail(
            "HINT: wait in a blocking msgrcv, never in a loop of IPC_NOWAIT attempts, with or \
             without a sleep (spec §4.2, lesson §20).",
        )
        .command(&cli)
    })?;
    ensure(cli.cpu <= allowed, || {
        Failure::new(format!(
            "the client used {} ms of CPU, {} ms of it waiting (allowed: {} ms, a tenth of \
             the wait plus 20 ms)",
            cli.cpu.as_millis(),
            window.as_millis(),
            allowed.as_millis()
        ))
        .detail(
            "HINT: wait in a blocking msgrcv, never in a loop of IPC_NOWAIT attempts, with or \
             without a sleep (spec §4.2, lesson §20).",
        )
        .command(&cli)
    })?;
    let srv = ctx.wait(srv);
    expect::exit_code(&srv, 0).map_err(in_case("the server"))?;
    expect::stream_matched(&srv).map_err(in_case("the server's output"))?;
    ctx.note(format!(
        "the client slept {} ms waiting for a segment (out of msgrcv in {elsewhere} of {looks} looks), \
         using {} ms of CPU (allowed {} ms)",
        window.as_millis(),
        cli.cpu.as_millis(),
        allowed.as_millis()
    ));
    Ok(())
}
