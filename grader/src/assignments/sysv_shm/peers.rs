//! A side whose peer dies or never comes: it gives up (exit 3) in bounded time and cleans up.

use std::io::Write;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use crate::check::ensure;
use crate::check::{Check, Ctx, Failure};
use crate::expect;
use crate::run::Input;
use crate::stream::Stream;

use super::common::{MIB, any_exited, error_run, in_case, look, new_key, stream_bytes};
use super::transfer::{side, wait_attached};

const GIVE_UP_HINT: &str = "every wait for the peer must be bounded: pthread_cond_timedwait with \
a deadline at most 100 ms away, then check shm_nattch and the timeout (spec §5.6).";

/// The checks of this family, in the spec's order.
pub(super) fn checks() -> Vec<Check> {
    let secs = Duration::from_secs;
    vec![
        Check::new(
            "transfer-kill-producer",
            6,
            "producer killed mid-stream: the consumer gives up (3) within 3 s, cleans up",
            transfer_kill_producer,
        )
        .limit(secs(10))
        .lesson("§10, §21")
        .on_timeout(GIVE_UP_HINT),
        Check::new(
            "transfer-kill-consumer",
            4,
            "consumer killed mid-stream: the producer gives up (3) within 3 s, cleans up",
            transfer_kill_consumer,
        )
        .limit(secs(10))
        .lesson("§10, §21")
        .on_timeout(GIVE_UP_HINT),
        Check::new(
            "transfer-peer-absent",
            4,
            "a side alone with --timeout-ms 1000 gives up (3) within 2 s",
            transfer_peer_absent,
        )
        .limit(secs(10))
        .lesson("§21")
        .on_timeout(GIVE_UP_HINT),
    ]
}

/// The lock word of the header's mutex (`pthread_mutex_t`'s `__lock`, at offset 40 of the
/// header, spec §5.2): the owner's thread id while it is locked, 0 when free.
const MUTEX_LOCK: usize = 40;

/// The thread-id bits of a robust futex word (the rest are `FUTEX_WAITERS`, `FUTEX_OWNER_DIED`).
const FUTEX_TID_MASK: u32 = 0x3fff_ffff;

/// Starts a transfer with `--timeout-ms 2000`, lets `before` bytes through, SIGKILLs `victim`
/// (the producer if `kill_producer`) where it waits without the mutex, and expects the
/// survivor to exit 3 within 3 s.
fn kill_one(ctx: &Ctx, kill_producer: bool) -> Result<(), Failure> {
    let key = new_key(ctx)?;
    let d = 4096u64;
    let opts = ["--timeout-ms", "2000"];
    let before = 20_000u64;
    let input = Stream::new(ctx.seed() ^ 0x6b31, 64 * MIB);
    let prefix = stream_bytes(&input, before as usize);
    let cons = ctx.spawn(side(ctx, "svshm-consumer", &key, d, &opts))?;
    let mut prod = ctx.spawn(side(ctx, "svshm-producer", &key, d, &opts).stdin(Input::Held))?;
    wait_attached(ctx, &key, 2, &[&cons, &prod]);
    if let Some(pipe) = prod.stdin() {
        let _ = pipe.write_all(&prefix);
    }
    let (mut victim, survivor) = if kill_producer {
        (prod, cons)
    } else {
        (cons, prod)
    };
    // Mid-stream (the consumer has written out everything sent so far), the victim asleep in a
    // call it makes without the mutex (the producer in `read` for more input, the consumer in
    // a futex wait), then stopped and killed only if the mutex is free: a victim killed
    // holding the robust mutex would hand the survivor EOWNERDEAD, a way out however it waits.
    let victim_pid = victim.pid();
    let asleep = || {
        if kill_producer {
            crate::procfs::sleeps_in_call(victim_pid, libc::SYS_read)
        } else {
            crate::procfs::sleeps_in_wait(victim_pid, "futex")
        }
    };
    let deadline = Instant::now() + ctx.limit() / 4;
    loop {
        crate::procfs::poll_until(deadline, || {
            look(&key).is_some_and(|(_, m)| m.u64_at(24) == before) && asleep()
                || any_exited(&[&victim, &survivor])
        });
        victim.signal_group(Signal::SIGSTOP);
        crate::procfs::poll_until(deadline, || {
            matches!(crate::procfs::state(victim_pid), Some('T') | Some('Z') | None)
        });
        let mutex_free =
            look(&key).is_some_and(|(_, m)| m.u32_at(MUTEX_LOCK) & FUTEX_TID_MASK == 0);
        if mutex_free || Instant::now() >= deadline || any_exited(&[&victim, &survivor]) {
            break;
        }
        victim.signal_group(Signal::SIGCONT);
    }
    ctx.signal(&mut victim, Signal::SIGKILL);
    let killed_at = Instant::now();
    let mut survivor = survivor;
    if !kill_producer {
        // Keep the producer's input flowing, so that it is mid-stream, not at end of input.
        if let Some(pipe) = survivor.stdin() {
            let _ = pipe.write_all(&stream_bytes(&input, 8192)[..4096]);
        }
    }
    let survivor = ctx.wait(survivor);
    let took = killed_at.elapsed();
    let victim = ctx.wait(victim);
    let _ = victim;
    let (who, program) = if kill_producer {
        ("consumer", "svshm-consumer")
    } else {
        ("producer", "svshm-producer")
    };
    expect::exit_code(&survivor, 3)?;
    expect::stderr_starts(&survivor, &format!("{program}: "))?;
    let limit = ctx.loosen(Duration::from_secs(3));
    ensure(took <= limit, || {
        Failure::new(format!(
            "the {who} gave up {} ms after its peer was killed (allowed: {} ms)",
            took.as_millis(),
            limit.as_millis()
        ))
        .detail(GIVE_UP_HINT)
        .command(&survivor)
    })?;
    if kill_producer {
        let out = &survivor.stdout.bytes;
        ensure(prefix.starts_with(out) || out.starts_with(&prefix), || {
            Failure::new("the consumer's stdout is not a prefix of the producer's input")
                .command(&survivor)
        })?;
    } else {
        expect::stdout_empty(&survivor)?;
    }
    Ok(())
}

fn transfer_kill_producer(ctx: &Ctx) -> Result<(), Failure> {
    kill_one(ctx, true)
}

fn transfer_kill_consumer(ctx: &Ctx) -> Result<(), Failure> {
    kill_one(ctx, false)
}

fn transfer_peer_absent(ctx: &Ctx) -> Result<(), Failure> {
    let opts = ["--timeout-ms", "1000"];
    let d = 4096u64;
    let (k1, k2, k3) = (new_key(ctx)?, new_key(ctx)?, new_key(ctx)?);
    let started = Instant::now();
    let big = ctx.spawn(
        side(ctx, "svshm-producer", &k1, d, &opts)
            .stdin(Input::Stream(Stream::new(ctx.seed(), 3 * d))),
    )?;
    let small = ctx.spawn(
        side(ctx, "svshm-producer", &k2, d, &opts)
            .stdin(Input::Stream(Stream::new(ctx.seed(), 100))),
    )?;
    let alone = ctx.spawn(side(ctx, "svshm-consumer", &k3, d, &opts))?;
    let runs = [
        (
            "a producer alone with more input than DATA_SIZE",
            "svshm-producer",
            ctx.wait(big),
        ),
        (
            "a producer alone with less input than DATA_SIZE",
            "svshm-producer",
            ctx.wait(small),
        ),
        ("a consumer alone", "svshm-consumer", ctx.wait(alone)),
    ];
    let took = started.elapsed();
    let limit = ctx.loosen(Duration::from_secs(2));
    for (case, program, run) in &runs {
        error_run(run, program, 3).map_err(in_case(case))?;
        ensure(run.wall <= limit, || {
            Failure::new(format!(
                "{case}: gave up after {} ms with --timeout-ms 1000 (allowed: {} ms)",
                run.wall.as_millis(),
                limit.as_millis()
            ))
            .detail(GIVE_UP_HINT)
            .command(run)
        })?;
    }
    let _ = took;
    Ok(())
}
