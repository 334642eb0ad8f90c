//! What waiting costs and how fast the stream moves.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::check::ensure;
use crate::check::{Check, Ctx, Failure};
use crate::expect;
use crate::leaks::{DEV_SHM, unique_name};
use crate::run::{Finished, Input, Output};
use crate::spent::{self, SlowHints};
use crate::stream::Stream;

use super::common::*;
use super::transfer::PATTERN;
use super::{MIB, T};

/// The checks of this family, in the spec's order.
pub(super) fn checks() -> Vec<Check> {
    let secs = Duration::from_secs;
    vec![
        Check::new(
            "no-busy-wait",
            6,
            "CPU time < 5 % of wall time waiting alone, and while the sender stalls",
            no_busy_wait,
        )
        .limit(secs(10))
        .lesson("§13, §15")
        .on_timeout(BOUND_HINT),
        Check::new(
            "throughput",
            8,
            "256 MiB file → /dev/null, 1 MiB ring: ≥ ⅛ of the grader's memcpy, best of 3",
            throughput,
        )
        .limit(secs(30))
        .lesson("§9"),
    ]
}

/// CPU over wall time of a finished run, as a fraction.
fn cpu_share(run: &Finished) -> f64 {
    run.cpu.as_secs_f64() / run.wall.as_secs_f64().max(1e-3)
}

fn no_busy_wait(ctx: &Ctx) -> Result<(), Failure> {
    let limit = ctx.at_most(0.05);
    // A program alone, and a receiver whose sender stalls on a silent stdin, at the same time.
    let lone_chan = Chan::shm();
    let lone = ctx.spawn(ctx.cmd("pshm-recv", lone_chan.args(&["--timeout", "1000"])))?;
    let chan = Chan::shm();
    let args = chan.args(&["--timeout", "3000", "--ring", "64K"]);
    let r = ctx.spawn(
        ctx.cmd("pshm-recv", args.clone())
            .stdout(Output::Compare(Stream::new(7, 5))),
    )?;
    poll_until(ctx.limit() / 4, &[&r], || chan.exists());
    let mut s = ctx.spawn(ctx.cmd("pshm-send", args).stdin(Input::Held))?;
    // Let the meeting happen, then stall the sender 1 s before it sends anything.
    poll_until(ctx.limit() / 4, &[&r, &s], || !chan.exists());
    let stalled = Instant::now();
    let mut stdin_ok = true;
    while stalled.elapsed() < Duration::from_millis(1000) {
        if r.has_exited() || s.has_exited() {
            stdin_ok = false;
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    if let Some(pipe) = s.stdin() {
        use std::io::Write;
        let mut bytes = vec![0u8; 5];
        let _ = std::io::Read::read_exact(&mut Stream::new(7, 5).reader(), &mut bytes);
        stdin_ok &= pipe.write_all(&bytes).is_ok();
    }
    s.close_stdin();
    let lone = ctx.wait(lone);
    let sent = ctx.wait(s);
    let received = ctx.wait(r);
    expect::exit_code(&lone, 3)?;
    ensure(cpu_share(&lone) < limit, || {
        Failure::new(format!(
            "pshm-recv waiting alone for a sender used {:.0} % of a CPU ({:.3} s CPU in {:.2} s), \
             allowed {:.0} %",
            100.0 * cpu_share(&lone),
            lone.cpu.as_secs_f64(),
            lone.wall.as_secs_f64(),
            100.0 * limit
        ))
        .command(&lone)
        .detail("HINT: wait in sem_timedwait, never in a loop that checks a value (§6.3).")
    })?;
    ensure(stdin_ok, || {
        Failure::new("a side ended while the sender's stdin was silent for 1 s (--timeout 3000)")
            .detail(stderr_of(&received))
            .command(&received).command(&sent)
    })?;
    expect::exit_code(&sent, 0)?;
    expect::exit_code(&received, 0)?;
    expect::stream_matched(&received)?;
    ensure(cpu_share(&received) < limit, || {
        Failure::new(format!(
            "pshm-recv used {:.0} % of a CPU ({:.3} s CPU in {:.2} s) while the sender stalled \
             for 1 s, allowed {:.0} %",
            100.0 * cpu_share(&received),
            received.cpu.as_secs_f64(),
            received.wall.as_secs_f64(),
            100.0 * limit
        ))
        .command(&received).command(&sent)
        .detail("HINT: wait for `filled` in sem_timedwait, never spin on sem_trywait (§6.3).")
    })
}

/// The hints of a slow transfer, by where its time went ([`spent`]).
const SLOW: SlowHints = SlowHints {
    asleep: "post `filled` as soon as a slot is written and `free` as soon as it is read: a \
             side waits in sem_timedwait only while there is truly nothing to do (§6).",
    kernel: "fill whole slots with one read(0, slot, slot_size) and map the object once: \
             small reads and a mapping per round are system calls and page faults (§6, \
             lesson §9).",
    user: "read stdin straight into the slot and write stdout straight from it: no heap \
           buffer and no copy of your own in between (§6, §10).",
};

fn throughput(ctx: &Ctx) -> Result<(), Failure> {
    const ROUNDS: usize = 3;
    let len = 256 * MIB;
    // The input lives in tmpfs (the grader's /dev/shm), so reading it costs one copy.
    let input = pattern_file(ctx, len)?;
    let mut best = Duration::MAX;
    let mut probe: f64 = 0.0;
    let mut last = None;
    // The round whose sender made the most read calls, with its accounting.
    let mut most_reads: Option<(crate::procfs::Io, Finished)> = None;
    for _ in 0..ROUNDS {
        probe = probe.max(crate::probe::memcpy_bandwidth());
        let chan = Chan::shm();
        let args = chan.args(&["--timeout", T, "--ring", "1M"]);
        let file = std::fs::File::open(&input.0)
            .map_err(|e| Failure::new(format!("grader: cannot open the input file: {e}")))?;
        let null = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/null")
            .map_err(|e| Failure::new(format!("grader: /dev/null: {e}")))?;
        let r = ctx.spawn(
            ctx.cmd("pshm-recv", args.clone())
                .stdout(Output::File(null)),
        )?;
        poll_until(ctx.limit() / 4, &[&r], || chan.exists());
        let s = ctx.spawn(ctx.cmd("pshm-send", args).stdin(Input::File(file)))?;
        let io = s.io_at_exit(Instant::now() + ctx.limit());
        let sent = ctx.wait(s);
        let received = ctx.wait(r);
        expect::exit_code(&sent, 0)?;
        expect::exit_code(&received, 0)?;
        if let Some(io) = io
            && most_reads
                .as_ref()
                .is_none_or(|(most, _)| io.read_calls > most.read_calls)
        {
            most_reads = Some((io, sent.clone()));
        }
        if sent.wall < best {
            best = sent.wall;
            last = Some((received, sent));
        }
    }
    let rate = len as f64 / best.as_secs_f64().max(1e-9);
    let bound = ctx.at_least(0.125);
    let gbs = |r: f64| r / 1e9;
    ensure(rate >= bound * probe, || {
        let (r, s) = last.expect("at least one round ran");
        Failure::new(format!(
            "256 MiB moved at {:.2} GB/s, {:.0} % of the grader's memcpy ({:.2} GB/s); \
             at least {:.0} % expected",
            gbs(rate),
            100.0 * rate / probe,
            gbs(probe),
            100.0 * bound
        ))
        .detail(format!(
            "MEASURED (best of {ROUNDS}): transfer {:.2} GB/s, memcpy {:.2} GB/s",
            gbs(rate),
            gbs(probe)
        ))
        .command(&r).command(&s)
        .detail(spent::explain(
            &[("pshm-send", &s), ("pshm-recv", &r)],
            best,
            &SLOW,
        ))
    })?;
    // The size of the sender's reads, by the kernel's count: whatever the machine's speed.
    let allowed = len / 4096 + READ_SLACK;
    let calls = match &most_reads {
        Some((io, sent)) => expect::ReadCalls {
            who: "the sender",
            input: "a 256 MiB file",
            allowed,
            asks: "reads of 4 KiB or more on average",
            source: "/proc/PID/io of the sender at its exit, the round with the most",
            hint: "fill a whole slot with one read(0, slot, slot_size), straight into the \
                   mapping: every read is a system call (§6, lesson §9).",
        }
        .check(Some(*io), sent)?,
        None => None,
    };
    let reads = calls
        .map(|c| format!("; the sender made at most {c} read calls (allowed {allowed})"))
        .unwrap_or_default();
    ctx.note(format!(
        "256 MiB moved at {:.2} GB/s, {:.0} % of the grader's memcpy (at least {:.0} %){reads}",
        gbs(rate),
        100.0 * rate / probe,
        100.0 * bound
    ));
    Ok(())
}

/// Read calls the sender may make beyond one per 4 KiB of its input: end of file, and the
/// dynamic loader's reads before `main`.
const READ_SLACK: u64 = 32;

/// A tmpfs file of `len` bytes: a generated block of [`PATTERN`] bytes, repeated.
fn pattern_file(ctx: &Ctx, len: u64) -> Result<crate::probe::TempFile, Failure> {
    use std::io::{Read, Write};
    let file = crate::probe::TempFile(Path::new(DEV_SHM).join(unique_name("ipclab-input")));
    let mut block = vec![0u8; PATTERN];
    let _ = Stream::new(ctx.seed() ^ 0x9a77, PATTERN as u64)
        .reader()
        .read_exact(&mut block);
    let grader = |e: std::io::Error| Failure::new(format!("grader: the input file: {e}"));
    let mut f = std::io::BufWriter::with_capacity(
        4 * MIB as usize,
        std::fs::File::create(&file.0).map_err(grader)?,
    );
    let mut left = len;
    while left > 0 {
        let n = left.min(PATTERN as u64) as usize;
        f.write_all(&block[..n]).map_err(grader)?;
        left -= n as u64;
    }
    f.flush().map_err(grader)?;
    Ok(file)
}
