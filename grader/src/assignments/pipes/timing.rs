//! Throughput against a plain pipe, and the size of relay's reads.

use std::time::Duration;

use crate::check::ensure;
use crate::check::{Check, Ctx, Failure};
use crate::expect;
use crate::run::{self, Finished, Input, Output, Spec};
use crate::spent::{self, SlowHints};

use super::MIB;

/// The checks of this family, in the spec's order.
pub(super) fn checks() -> Vec<Check> {
    let secs = Duration::from_secs;
    vec![
        Check::new(
            "pipeline-throughput",
            2,
            "`pipeline cat | cat` moves data at least half as fast as `sh -c`",
            pipeline_throughput,
        )
        .limit(secs(40))
        .lesson("§4, §8"),
        Check::new(
            "relay-throughput",
            2,
            "relay moves at least an eighth of a plain pipe's throughput",
            relay_throughput,
        )
        .limit(secs(40))
        .lesson("§4, §8"),
    ]
}

/// Times one run that moves `len` zero bytes through unchanged; fails if any go missing.
/// Zeros in and a byte count out keep the grader's own share of the work negligible, so the
/// ratio measures the programs; `stream-256mib` checks the bytes themselves.
fn timed(ctx: &Ctx, spec: Spec, len: u64) -> Result<Finished, Failure> {
    let run = ctx.run(spec.stdin(Input::Zeros(len)).stdout(Output::Count))?;
    expect::exit_code(&run, 0)?;
    ensure(run.stdout.total == len, || {
        Failure::new(format!("moved {} bytes of {len}", run.stdout.total)).command(&run)
    })?;
    Ok(run)
}

/// The CPU the throughput checks pin both sides to.
const CPU: usize = 1;

/// The hints of a slow transfer, by where its time went ([`spent`]).
const SLOW: SlowHints = SlowHints {
    asleep: "start every stage at once and let the data flow as soon as it comes: no sleep, \
             no waiting for one stage to end before the next starts (§2.2).",
    kernel: "data should flow between the stages directly, or through relay in reads and \
             writes of 64 KiB or more, never a few bytes at a time (§3.2).",
    user: "relay passes each buffer on as it was read: no copy of your own, no work per \
           byte (§3.2).",
};

/// Runs the student's and the reference command alternately, `ROUNDS` times each, and
/// compares their best times: `student ≤ bound × reference` (scaled), or a failure that says
/// both figures.
fn ratio_check(
    ctx: &Ctx,
    what: &str,
    student: impl Fn() -> Spec,
    reference: impl Fn() -> Spec,
    reference_name: &str,
    bound: f64,
) -> Result<(), Failure> {
    const ROUNDS: usize = 3;
    let len = 64 * MIB;
    let (mut best_student, mut best_reference) = (Duration::MAX, Duration::MAX);
    let mut measured = None;
    // Both on the same CPU, so that neither gains or loses by where the scheduler puts its
    // processes (one CPU each, or all on one) from one run to the next.
    for _ in 0..ROUNDS {
        best_reference = best_reference.min(timed(ctx, reference().on_cpu(CPU), len)?.wall);
        let run = timed(ctx, student().on_cpu(CPU), len)?;
        if run.wall < best_student {
            best_student = run.wall;
            measured = Some(run);
        }
    }
    let measured = measured.expect("every round ran");
    let ratio = best_student.as_secs_f64() / best_reference.as_secs_f64().max(1e-6);
    let allowed = ctx.at_most(bound);
    ensure(ratio <= allowed, || {
        let mbs = |d: Duration| len as f64 / MIB as f64 / d.as_secs_f64().max(1e-6);
        Failure::new(format!(
            "{what} took {ratio:.2}× as long as {reference_name} (allowed: {allowed:.2}×)"
        ))
        .detail(format!(
            "MEASURED (best of {ROUNDS}, 64 MiB each, both on CPU {CPU}):\n    {what}: \
             {:.0} MiB/s\n    {reference_name}: {:.0} MiB/s",
            mbs(best_student),
            mbs(best_reference)
        ))
        .detail(spent::explain(
            &[(what, &measured)],
            best_student,
            &SLOW,
        ))
    })?;
    ctx.note(format!(
        "{what} took {ratio:.2}× as long as {reference_name} (allowed {allowed:.2}×)"
    ));
    Ok(())
}

fn pipeline_throughput(ctx: &Ctx) -> Result<(), Failure> {
    ratio_check(
        ctx,
        "pipeline cat | cat",
        || ctx.cmd("pipeline", ["cat", "|", "cat"]),
        || ctx.program("sh", ["-c", "cat | cat"]),
        "sh -c 'cat | cat'",
        2.0,
    )
}

/// Bytes `relay wc -c` reads from a regular file on its stdin in [`large_reads`]: a file
/// answers every `read` in full, so the number of read calls tells the size asked.
const LARGE_READS_LEN: u64 = 8 * MIB;
/// Read calls allowed beyond `LARGE_READS_LEN / 64 KiB`: end of file, the filter's few bytes
/// and end of file, the dynamic loader's and the shell's own reads before `exec`.
const LARGE_READS_SLACK: u64 = 32;

/// `relay wc -c < FILE` (8 MiB): the kernel counts relay's read calls (`syscr` of its main
/// thread's `/proc/PID/task/PID/io`, kept across `exec`); reads of at least 64 KiB make at most 128 of them
/// (and a few more, [`LARGE_READS_SLACK`]).
fn large_reads(ctx: &Ctx) -> Result<(), Failure> {
    let file = ctx.dir().join("relay-input");
    std::fs::write(&file, vec![0u8; LARGE_READS_LEN as usize])
        .map_err(|e| Failure::new(format!("cannot write {}: {e}", file.display())))?;
    let command = format!(
        "exec {} wc -c < {}",
        run::shell_quote(&ctx.bin("relay").to_string_lossy()),
        run::shell_quote(&file.to_string_lossy())
    );
    let running = ctx.spawn(ctx.program("sh", ["-c", command.as_str()]))?;
    // The thread's own accounting: the process's (`/proc/PID/io`) adds what the children it
    // reaped read, the filter's reads among them.
    let io = running.main_thread_io_at_exit(ctx.deadline());
    let run = ctx.wait(running);
    let _ = std::fs::remove_file(&file);
    expect::exit_code(&run, 0)?;
    expect::stdout_is(&run, format!("{LARGE_READS_LEN}\n").as_bytes())?;
    let allowed = LARGE_READS_LEN / (64 * 1024) + LARGE_READS_SLACK;
    let input = format!("an {} MiB file", LARGE_READS_LEN / MIB);
    let bound = expect::ReadCalls {
        who: "relay",
        input: &input,
        allowed,
        asks: "reads of at least 64 KiB",
        source: "/proc/PID/task/PID/io of relay at its exit",
        hint: "read into a buffer of 64 KiB or more (the reference reads 128 KiB at a time): \
               every read is a system call and a wake-up (specs/pipes.md §3.2).",
    };
    let Some(calls) = bound.check(io, &run)? else {
        return Ok(());
    };
    ctx.note(format!(
        "relay read its {} MiB input file in {calls} read calls (at most {allowed})",
        LARGE_READS_LEN / MIB
    ));
    Ok(())
}

fn relay_throughput(ctx: &Ctx) -> Result<(), Failure> {
    large_reads(ctx)?;
    ratio_check(
        ctx,
        "relay cat",
        || ctx.cmd("relay", ["cat"]),
        || ctx.program("cat", Vec::<String>::new()),
        "cat alone",
        8.0,
    )
}
