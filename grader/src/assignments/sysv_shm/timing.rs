//! The transfer's use of time: a waiting side uses almost no CPU, and 256 MiB move at a fair
//! share of the grader's own memcpy rate.

use std::io::Write;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use crate::check::ensure;
use crate::check::{Check, Ctx, Failure};
use crate::expect;
use crate::run::{Finished, Input, Output};
use crate::spent::{self, SlowHints};
use crate::stream::Stream;

use super::common::{MIB, TRANSFER_HINT, any_exited, look, new_key, proc_stat};
use super::transfer::{pair, side, wait_attached, wait_segment};

/// The checks of this family, in the spec's order.
pub(super) fn checks() -> Vec<Check> {
    let secs = Duration::from_secs;
    vec![
        Check::new(
            "transfer-no-busy-wait",
            6,
            "a side waiting for its peer uses almost no CPU",
            transfer_no_busy_wait,
        )
        .limit(secs(10))
        .lesson("§13"),
        Check::new(
            "transfer-throughput",
            6,
            "256 MiB through a 16 MiB ring at a fair share of the grader's memcpy rate",
            transfer_throughput,
        )
        .limit(secs(30))
        .lesson("§6, §9")
        .on_timeout(TRANSFER_HINT),
    ]
}

/// What a waiting side did over a window: the CPU it used and the times it was taken off
/// its CPU while it could still run.
struct Waiting {
    cpu: Duration,
    preempted: u64,
}

/// What `pid` did over `window` (`/proc/PID/stat` utime + stime, `nonvoluntary_ctxt_switches`
/// of `/proc/PID/status`); `None` if `pid` ended. Nothing of the grader competes for a CPU
/// meanwhile, but other processes of the machine may: a process that polls, even one that
/// yields its CPU between polls, uses a CPU of its own if it gets one, and is switched out at
/// almost every poll if it shares one.
fn waiting_over(pid: i32, window: Duration) -> Option<Waiting> {
    let before = (proc_stat(pid), crate::procfs::nonvoluntary_switches(pid));
    std::thread::sleep(window);
    let after = (proc_stat(pid), crate::procfs::nonvoluntary_switches(pid));
    Some(Waiting {
        cpu: after.0?.1.saturating_sub(before.0?.1),
        preempted: after.1?.saturating_sub(before.1?),
    })
}

/// Times a side waiting [`transfer_no_busy_wait`]'s 800 ms window may be taken off its CPU
/// while it could still run. One that sleeps in `pthread_cond_timedwait` is taken off only if
/// preempted in the microseconds it runs per wake-up (the reference: 0 times, also beside six
/// busy processes on two CPUs; at most about 8 with its 100 ms heartbeat); one that yields
/// between polls is at every poll that finds its CPU wanted by another process (162 times
/// beside those six, while its CPU time rounded to 0 ms).
const PREEMPTED: u64 = 20;

fn transfer_no_busy_wait(ctx: &Ctx) -> Result<(), Failure> {
    let window = Duration::from_millis(800);
    let allowed = ctx.loosen(window / 10 + Duration::from_millis(20));
    let busy = |who: &str, used: &Waiting, why: &str| {
        let reason = if used.cpu > allowed {
            format!(
                "the {who} used {} ms of CPU in {} ms while {why} (allowed: {} ms, a tenth of \
                 the window plus 20 ms)",
                used.cpu.as_millis(),
                window.as_millis(),
                allowed.as_millis(),
            )
        } else {
            format!(
                "the {who} was switched out {} times while it could still run, in {} ms while \
                 {why} (allowed: {PREEMPTED}): it polled, yielding its CPU to other processes",
                used.preempted,
                window.as_millis(),
            )
        };
        Failure::new(reason)
            .detail(format!(
                "MEASURED (/proc/PID/stat, /proc/PID/status over the window): {} ms of CPU, \
                 nonvoluntary_ctxt_switches +{}",
                used.cpu.as_millis(),
                used.preempted
            ))
            .detail(
            "HINT: wait in pthread_cond_timedwait (waking at most every 100 ms), never in \
                 a loop that polls the header, not even one that unlocks and yields the CPU \
                 between polls (spec §5.4, lesson §13).",
        )
    };
    // 1. A consumer whose producer has no input yet.
    let key = new_key(ctx)?;
    let cons = ctx.spawn(side(ctx, "svshm-consumer", &key, 4096, &[]))?;
    let mut prod = ctx.spawn(side(ctx, "svshm-producer", &key, 4096, &[]).stdin(Input::Held))?;
    wait_attached(ctx, &key, 2, &[&cons, &prod]);
    let used = waiting_over(cons.pid(), window);
    if let Some(pipe) = prod.stdin() {
        let _ = pipe.write_all(b"data");
    }
    prod.close_stdin();
    let prod = ctx.wait(prod);
    let cons = ctx.wait(cons);
    expect::exit_code(&prod, 0)?;
    expect::exit_code(&cons, 0)?;
    expect::stdout_is(&cons, b"data")?;
    let used = used.ok_or_else(|| {
        Failure::new("the consumer exited while the grader measured its CPU time").command(&cons)
    })?;
    ensure(used.cpu <= allowed && used.preempted <= PREEMPTED, || {
        busy("consumer", &used, "its producer waited for input").command(&cons)
    })?;
    let consumer = used;
    // 2. A producer whose consumer is stopped, on a full ring.
    let key = new_key(ctx)?;
    let len = 4 * 4096;
    let input = Stream::new(ctx.seed() ^ 0xb5, len);
    let mut cons =
        ctx.spawn(side(ctx, "svshm-consumer", &key, 4096, &[]).stdout(Output::Compare(input)))?;
    wait_segment(ctx, &key, &cons);
    ctx.signal(&mut cons, Signal::SIGSTOP);
    let prod =
        ctx.spawn(side(ctx, "svshm-producer", &key, 4096, &[]).stdin(Input::Stream(input)))?;
    let ppid = prod.pid();
    // The ring is full once the producer sleeps with `written` at 4096.
    crate::procfs::poll_for(ctx.limit() / 4, || {
        look(&key).is_some_and(|(_, m)| m.u64_at(16) == 4096)
            && proc_stat(ppid).is_some_and(|(s, _)| s == 'S')
            || any_exited(&[&cons, &prod])
    });
    let used = waiting_over(ppid, window);
    ctx.signal(&mut cons, Signal::SIGCONT);
    let prod = ctx.wait(prod);
    let cons = ctx.wait(cons);
    expect::stream_matched(&cons)?;
    expect::exit_code(&prod, 0)?;
    expect::exit_code(&cons, 0)?;
    let used = used.ok_or_else(|| {
        Failure::new("the producer exited while the grader measured its CPU time").command(&prod)
    })?;
    ensure(used.cpu <= allowed && used.preempted <= PREEMPTED, || {
        busy(
            "producer",
            &used,
            "its consumer was stopped and the ring full",
        )
        .command(&prod)
    })?;
    ctx.note(format!(
        "over {} ms of waiting, the consumer used {} ms of CPU and was switched out {} times \
         while it could run, the producer {} ms and {} times (allowed: {} ms, {PREEMPTED} \
         times)",
        window.as_millis(),
        consumer.cpu.as_millis(),
        consumer.preempted,
        used.cpu.as_millis(),
        used.preempted,
        allowed.as_millis()
    ));
    Ok(())
}

/// The hints of a slow transfer, by where its time went ([`spent`]).
const SLOW: SlowHints = SlowHints {
    asleep: "after each round, signal the condition variable the other side waits on \
             (`not_empty` after a write to the ring, `not_full` after a read from it): a side \
             never woken sleeps until its pthread_cond_timedwait times out (spec §5.4).",
    kernel: "move up to 1 MiB per round, as much as the ring has room or data for, and attach \
             the segment once: every round is system calls and a wake-up (spec §5.4, §5.8).",
    user: "read stdin straight into the ring and write straight from it, with no buffer of \
           your own between them, and hold the mutex only for the header (spec §5.4, §5.8).",
};

fn transfer_throughput(ctx: &Ctx) -> Result<(), Failure> {
    // A small transfer first: a program that cannot move 4 KiB fails here, quickly. Only one of
    // `transfer-sizes`' transfers, not all of them: this check cannot name that one as its
    // prerequisite (`Check::after`), a program may fail it and pass this.
    pair(ctx, 4096, 4096, true, &[])?;
    let len = 256 * MIB;
    let file = crate::probe::TempFile(ctx.dir().join("input"));
    Stream::new(ctx.seed() ^ 0x7b, len)
        .write_file(&file.0)
        .map_err(|e| Failure::new(format!("grader: cannot write the input file: {e}")))?;
    let open = |path: &std::path::Path, write: bool| {
        std::fs::OpenOptions::new()
            .read(!write)
            .write(write)
            .open(path)
            .map_err(|e| Failure::new(format!("grader: cannot open {}: {e}", path.display())))
    };
    let probe = crate::probe::memcpy_bandwidth();
    let mut best = Duration::MAX;
    let mut measured = None;
    // The round whose producer made the most read calls, with its accounting.
    let mut most_reads: Option<(crate::procfs::Io, Finished)> = None;
    for _ in 0..3 {
        let key = new_key(ctx)?;
        let started = Instant::now();
        let cons = ctx.spawn(
            side(ctx, "svshm-consumer", &key, 16 * MIB, &[])
                .stdout(Output::File(open(std::path::Path::new("/dev/null"), true)?)),
        )?;
        let prod = ctx.spawn(
            side(ctx, "svshm-producer", &key, 16 * MIB, &[])
                .stdin(Input::File(open(&file.0, false)?)),
        )?;
        let io = prod.io_at_exit(Instant::now() + ctx.limit());
        let prod = ctx.wait(prod);
        let cons = ctx.wait(cons);
        let took = started.elapsed();
        expect::exit_code(&prod, 0)?;
        expect::exit_code(&cons, 0)?;
        if let Some(io) = io
            && most_reads
                .as_ref()
                .is_none_or(|(most, _)| io.read_calls > most.read_calls)
        {
            most_reads = Some((io, prod.clone()));
        }
        if took < best {
            best = took;
            measured = Some((prod, cons));
        }
    }
    let (prod, cons) = measured.expect("three rounds ran");
    let rate = len as f64 / best.as_secs_f64().max(1e-9);
    let bound = ctx.at_least(0.1);
    let mibs = |r: f64| r / MIB as f64;
    ensure(rate >= bound * probe, || {
        Failure::new(format!(
            "the transfer moved {:.0} MiB/s, {:.0} % of the grader's memcpy rate (needed: {:.0} %)",
            mibs(rate),
            100.0 * rate / probe,
            100.0 * bound
        ))
        .detail(format!(
            "MEASURED (best of 3):\n    transfer, 256 MiB, DATA_SIZE 16 MiB: {:.0} MiB/s\n    \
             grader's memcpy: {:.0} MiB/s",
            mibs(rate),
            mibs(probe)
        ))
        .detail(spent::explain(
            &[("svshm-producer", &prod), ("svshm-consumer", &cons)],
            best,
            &SLOW,
        ))
    })?;
    // The size of the producer's reads, by the kernel's count: whatever the machine's speed.
    let allowed = len / 4096 + READ_SLACK;
    let calls = match &most_reads {
        Some((io, prod)) => expect::ReadCalls {
            who: "the producer",
            input: "a 256 MiB file",
            allowed,
            asks: "reads of 4 KiB or more on average",
            source: "/proc/PID/io of the producer at its exit, the round with the most",
            hint: "read stdin straight into the ring, as much as it has room for (up to 1 MiB) \
                   in one call: every read is a system call (spec §5.4, §5.8).",
        }
        .check(Some(*io), prod)?,
        None => None,
    };
    let reads = calls
        .map(|c| format!("; the producer made at most {c} read calls (allowed {allowed})"))
        .unwrap_or_default();
    ctx.note(format!(
        "the transfer moved {:.0} MiB/s, {:.0} % of the grader's memcpy rate (needed {:.0} \
         %){reads}",
        mibs(rate),
        100.0 * rate / probe,
        100.0 * bound
    ));
    Ok(())
}

/// Read calls the producer may make beyond one per 4 KiB of its input: end of file, and the
/// dynamic loader's reads before `main`.
const READ_SLACK: u64 = 32;
