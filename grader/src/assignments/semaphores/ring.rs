//! Part 2, `sem-ring`: the token's order for several K and start orders, a race-free creation
//! of the set, members giving up when one dies, and the set removed however a ring ends.

use std::time::{Duration, Instant};

use crate::check::ensure;
use crate::check::{Check, Ctx, Failure};
use crate::leaks::Snapshot;
use crate::message;
use crate::run::Spec;
use crate::sys::IpcKind;

use super::common::{
    BOUNDED_HINT, CPU, PEER_GRACE, PEER_TIMEOUT_MS, Procs, WAIT_HINT, all_ok, describe, fresh_key,
    gave_up, lines_match, ms, nothing_left, sysv_added,
};

const INIT_HINT: &str = "create the set with IPC_CREAT | IPC_EXCL; on EEXIST open it and wait \
for sem_otime != 0 (spec §3.2).";

/// The checks of this family, in the spec's order.
pub(super) fn checks() -> Vec<Check> {
    let secs = Duration::from_secs;
    vec![
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
    ]
}

pub(super) fn ring_spec(
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

pub(super) fn ring_lines(k: u16, rounds: u64) -> String {
    let mut s = String::new();
    for r in 1..=rounds {
        for i in 0..k {
            s.push_str(&format!("token {r} {i}\n"));
        }
    }
    s
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
        .commands(procs.commands()));
    }
    let victim = 1;
    procs.kill(victim);
    let killed_at = Instant::now();
    let allowed = ctx.loosen(Duration::from_millis(PEER_TIMEOUT_MS) + PEER_GRACE);
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
        .commands(procs.commands())
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
