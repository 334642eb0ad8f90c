//! The `pipes` assignment (`specs/pipes.md`): `pipeline` runs commands connected by pipes,
//! `relay` feeds a filter through one pipe and reads it back through another (lesson §4–5).

pub mod needs;

use std::time::{Duration, Instant};

use crate::check::ensure;
use crate::check::{Assignment, Check, Ctx, Failure};
use crate::expect;
use crate::faults::Faults;
use crate::run::{self, Finished, Input, Output, Running, Spec};
use crate::stream::{self, Stream};

const MIB: u64 = 1024 * 1024;
/// A command that no `PATH` holds.
const MISSING: &str = "ipclab-no-such-command";

/// The assignment and its checks, in the spec's order.
pub fn assignment() -> Assignment {
    let secs = Duration::from_secs;
    Assignment {
        name: "pipes",
        title: "Pipes: a byte stream from one process to another",
        package: "pipes",
        binaries: &["pipeline", "relay"],
        tools: vec![],
        checks: vec![
            Check::new(
                "usage-errors",
                2,
                "a malformed command line prints usage and exits 2",
                usage_errors,
            )
            .lesson("§5"),
            Check::new(
                "command-not-found",
                1,
                "a command that cannot be run: its name on stderr, status 127",
                command_not_found,
            )
            .lesson("§5"),
            Check::new(
                "exit-status",
                2,
                "the status is the last stage's, 128 + N for a signal",
                exit_status,
            )
            .lesson("§5"),
            Check::new(
                "stream-empty",
                1,
                "an empty stream passes through `cat | cat`",
                |ctx| stream_through(ctx, 0, &["cat", "|", "cat"], stream::same),
            )
            .lesson("§5"),
            Check::new(
                "stream-one-byte",
                1,
                "one byte passes through `cat | cat`",
                |ctx| stream_through(ctx, 1, &["cat", "|", "cat"], stream::same),
            )
            .lesson("§5"),
            Check::new(
                "stream-64k-edges",
                2,
                "64 KiB − 1, 64 KiB and 64 KiB + 1 through `cat | tr a-z A-Z | cat`",
                stream_64k,
            )
            .lesson("§5"),
            Check::new(
                "stream-256mib",
                3,
                "256 MiB of binary data through `cat | cat`, byte for byte",
                |ctx| stream_through(ctx, 256 * MIB, &["cat", "|", "cat"], stream::same),
            )
            .limit(secs(30))
            .lesson("§4–5"),
            Check::new(
                "eof-reaches-reader",
                2,
                "`cat | wc -c` ends: every write end is closed",
                eof_reaches_reader,
            )
            .limit(secs(5))
            .lesson("§5")
            .on_timeout(EOF_HINT),
            Check::new(
                "child-descriptors",
                2,
                "each stage has exactly 0, 1, 2 open, wired to its neighbours",
                child_descriptors,
            )
            .limit(secs(5))
            .lesson("§5")
            .on_timeout(EOF_HINT),
            Check::new(
                "child-sigpipe",
                1,
                "each stage starts with SIGPIPE at its default action",
                child_sigpipe,
            )
            .limit(secs(5))
            .lesson("§5"),
            Check::new(
                "reaps-children",
                2,
                "every child is waited for, whichever ends first",
                reaps_children,
            )
            .limit(secs(5))
            .lesson("§5"),
            Check::new(
                "relay-basic",
                1,
                "`relay tr a-z A-Z` upper-cases; the filter's status is relay's",
                relay_basic,
            )
            .limit(secs(5))
            .lesson("§4"),
            Check::new(
                "relay-eof",
                2,
                "`relay wc -c` ends: the filter's input is closed at end of input",
                relay_eof,
            )
            .limit(secs(5))
            .lesson("§4–5")
            .on_timeout(RELAY_EOF_HINT),
            Check::new(
                "relay-no-deadlock",
                3,
                "64 MiB through `relay tr a-z A-Z`, byte for byte, no deadlock",
                relay_no_deadlock,
            )
            .limit(secs(20))
            .lesson("§4–5")
            .on_timeout(DEADLOCK_HINT),
            Check::new(
                "relay-faults",
                2,
                "16 MiB through `relay tr a-z A-Z` with short reads and writes and EINTR injected",
                relay_faults,
            )
            .limit(secs(20))
            .lesson("§4–5")
            .on_timeout(DEADLOCK_HINT),
            Check::new(
                "pipeline-faults",
                1,
                "16 MiB through `pipeline cat | tr a-z A-Z` with EINTR injected into waitpid",
                pipeline_faults,
            )
            .limit(secs(20))
            .lesson("§5"),
            Check::new(
                "relay-in-the-middle",
                2,
                "the filter's stdin and stdout are pipes whose other ends relay holds",
                relay_in_the_middle,
            )
            .limit(secs(5))
            .lesson("§4"),
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
        ],
    }
}

const EOF_HINT: &str = "a reader sees end-of-file only when every write end of its pipe is \
closed, the parent's copies included: close each end in the parent as soon as the child that \
uses it is forked, and let no child keep ends it does not use (lesson §5).";
const RELAY_EOF_HINT: &str = "when relay's input ends, close the write end of the filter's \
input pipe: a filter such as `wc` writes nothing until it reads end-of-file.";
const DEADLOCK_HINT: &str = "a pipe holds 64 KiB: if relay writes everything before reading, \
the filter blocks writing its output while relay blocks writing its input. Wait for whichever \
pipe is ready (poll(2)) and move what can move.";

/// Splits a `pipeline` command line written with `|` words into arguments.
fn words(line: &[&str]) -> Vec<String> {
    line.iter().map(|w| w.to_string()).collect()
}

fn usage_errors(ctx: &Ctx) -> Result<(), Failure> {
    let cases: [(&str, &[&str]); 5] = [
        ("pipeline", &[]),
        ("pipeline", &["|", "cat"]),
        ("pipeline", &["cat", "|"]),
        ("pipeline", &["cat", "|", "|", "cat"]),
        ("relay", &[]),
    ];
    for (bin, args) in cases {
        let run = ctx.run(ctx.cmd(bin, words(args)).stdin(Input::Null))?;
        expect::exit_code(&run, 2)?;
        expect::stderr_starts(&run, "usage:")?;
        expect::stdout_empty(&run)?;
    }
    Ok(())
}

fn command_not_found(ctx: &Ctx) -> Result<(), Failure> {
    for line in [vec![MISSING], vec!["cat", "|", MISSING]] {
        let run = ctx.run(ctx.cmd("pipeline", words(&line)))?;
        expect::exit_code(&run, 127)?;
        expect::stderr_has(&run, MISSING)?;
    }
    Ok(())
}

fn exit_status(ctx: &Ctx) -> Result<(), Failure> {
    let cases: [(&[&str], i32); 3] = [
        (&["sh", "-c", "exit 3"], 3),
        (&["sh", "-c", "exit 5", "|", "cat"], 0),
        (
            &["true", "|", "sh", "-c", "kill -TERM $$"],
            128 + libc::SIGTERM,
        ),
    ];
    for (line, status) in cases {
        let run = ctx.run(ctx.cmd("pipeline", words(line)))?;
        expect::exit_code(&run, status)?;
    }
    Ok(())
}

/// Sends `len` generated bytes through `pipeline LINE` and compares the output with the same
/// bytes passed through `map`.
fn stream_through(ctx: &Ctx, len: u64, line: &[&str], map: fn(u8) -> u8) -> Result<(), Failure> {
    let input = Stream::new(ctx.seed() ^ len, len);
    let run = ctx.run(
        ctx.cmd("pipeline", words(line))
            .stdin(Input::Stream(input))
            .stdout(Output::Compare(input.mapped(map))),
    )?;
    expect::stream_matched(&run)?;
    expect::exit_code(&run, 0)
}

fn stream_64k(ctx: &Ctx) -> Result<(), Failure> {
    for len in [65535, 65536, 65537] {
        stream_through(
            ctx,
            len,
            &["cat", "|", "tr", "a-z", "A-Z", "|", "cat"],
            stream::upper,
        )?;
    }
    Ok(())
}

fn eof_reaches_reader(ctx: &Ctx) -> Result<(), Failure> {
    let len = MIB;
    let run = ctx.run(
        ctx.cmd("pipeline", ["cat", "|", "wc", "-c"])
            .stdin(Input::Stream(Stream::new(ctx.seed(), len))),
    )?;
    expect::exit_code(&run, 0)?;
    expect::stdout_is(&run, format!("{len}\n").as_bytes())
}

/// Starts `pipeline cat | cat | …` (`n` stages) with stdin held open, and waits until all `n`
/// stages have become `cat`. Returns the run and the stages' pids.
fn cats(ctx: &Ctx, n: usize) -> Result<(Running, Vec<i32>), Failure> {
    let mut line = vec!["cat"];
    for _ in 1..n {
        line.extend(["|", "cat"]);
    }
    let running = ctx.spawn(ctx.cmd("pipeline", words(&line)).stdin(Input::Held))?;
    let deadline = Instant::now() + ctx.limit() / 2;
    loop {
        let members = run::group_members(running.pid());
        let stages: Vec<i32> = members
            .iter()
            .filter(|m| m.comm == "cat" && !m.zombie)
            .map(|m| m.pid)
            .collect();
        // Each stage is `cat` once its first `read` sleeps: before that, the dynamic loader
        // may still hold a file of its own open (`/etc/ld.so.cache`), which is not the stage's.
        let reading = |&pid: &i32| crate::procfs::sleeps_in_call(pid, libc::SYS_read);
        let late = Instant::now() > deadline;
        if stages.len() == n && (late || stages.iter().all(reading)) {
            return Ok((running, stages));
        }
        if late || running.has_exited() {
            let run = ctx.wait(running);
            return Err(Failure::new(format!(
                "expected {n} `cat` stages to be running, saw {}",
                stages.len()
            ))
            .command(&run));
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Closes a held run's stdin and expects it to end with status 0.
fn finish(ctx: &Ctx, mut running: Running) -> Result<Finished, Failure> {
    running.close_stdin();
    let run = ctx.wait(running);
    expect::exit_code(&run, 0)?;
    Ok(run)
}

fn child_descriptors(ctx: &Ctx) -> Result<(), Failure> {
    let (running, stages) = cats(ctx, 3)?;
    let outer = run::open_fds(running.pid());
    let target = |fds: &[(i32, String)], fd: i32| {
        fds.iter()
            .find(|(n, _)| *n == fd)
            .map(|(_, t)| t.clone())
            .unwrap_or_default()
    };
    let all: Vec<Vec<(i32, String)>> = stages.iter().map(|&pid| run::open_fds(pid)).collect();
    let mut problems = Vec::new();
    for (i, fds) in all.iter().enumerate() {
        let stray: Vec<String> = fds
            .iter()
            .filter(|(fd, _)| *fd > 2)
            .map(|(fd, t)| format!("{fd} -> {t}"))
            .collect();
        if !stray.is_empty() {
            problems.push(format!(
                "a stage (pid {}) has descriptors beyond 0, 1, 2 open: {}",
                stages[i],
                stray.join(", ")
            ));
        }
    }
    // Follow the wiring from pipeline's stdin: each stage must read what the one before writes.
    let mut want = target(&outer, 0);
    let mut used = vec![false; all.len()];
    for position in 1..=all.len() {
        let next = (0..all.len()).find(|&i| !used[i] && target(&all[i], 0) == want);
        let Some(i) = next else {
            problems.push(format!(
                "no stage reads {want}: stage {position} is not wired to the one before it"
            ));
            break;
        };
        used[i] = true;
        want = target(&all[i], 1);
        if position < all.len() && !want.starts_with("pipe:") {
            problems.push(format!(
                "stage {position} writes {want}, not a pipe to the next stage"
            ));
            break;
        }
    }
    if problems.is_empty() && want != target(&outer, 1) {
        problems.push("the last stage does not write pipeline's own stdout".into());
    }
    let run = finish(ctx, running)?;
    ensure(problems.is_empty(), || {
        Failure::new(problems[0].clone())
            .detail(format!("ALL PROBLEMS:\n    {}", problems.join("\n    ")))
            .detail(
                "HINT: create pipes with O_CLOEXEC (pipe2) or close every end a child does not \
                 use before execvp; dup2 the ends it uses onto 0 and 1 (lesson §5).",
            )
            .command(&run)
    })
}

fn child_sigpipe(ctx: &Ctx) -> Result<(), Failure> {
    let (running, stages) = cats(ctx, 2)?;
    let ignoring: Vec<i32> = stages
        .iter()
        .copied()
        .filter(|&pid| run::ignores_signal(pid, libc::SIGPIPE) == Some(true))
        .collect();
    let run = finish(ctx, running)?;
    ensure(ignoring.is_empty(), || {
        Failure::new(format!(
            "{} of {} stages started with SIGPIPE ignored",
            ignoring.len(),
            stages.len()
        ))
        .detail(
            "HINT: an ignored signal stays ignored across execvp, and Rust programs start \
                 with SIGPIPE ignored: set it back to SIG_DFL in the child before execvp, or \
                 `yes | head -1` never ends `yes` the usual way.",
        )
        .command(&run)
    })
}

fn reaps_children(ctx: &Ctx) -> Result<(), Failure> {
    for line in [["true", "|", "sleep", "0.2"], ["sleep", "0.2", "|", "true"]] {
        let run = ctx.run(ctx.cmd("pipeline", words(&line)))?;
        expect::exit_code(&run, 0)?;
        expect::no_leftovers(&run)?;
    }
    Ok(())
}

fn relay_basic(ctx: &Ctx) -> Result<(), Failure> {
    let run = ctx.run(
        ctx.cmd("relay", ["tr", "a-z", "A-Z"])
            .stdin(Input::Bytes(b"hello, pipes\n".to_vec())),
    )?;
    expect::exit_code(&run, 0)?;
    expect::stdout_is(&run, b"HELLO, PIPES\n")?;
    let run = ctx.run(
        ctx.cmd("relay", ["sh", "-c", "cat >/dev/null; echo done; exit 4"])
            .stdin(Input::Bytes(b"x".to_vec())),
    )?;
    expect::exit_code(&run, 4)?;
    expect::stdout_is(&run, b"done\n")?;
    let run = ctx.run(ctx.cmd("relay", [MISSING]))?;
    expect::exit_code(&run, 127)?;
    expect::stderr_has(&run, MISSING)?;
    // A filter that stops reading: more input than the pipe and `head` take together, so
    // relay's next write to the filter fails with EPIPE. It stops feeding, not relaying.
    let run = ctx.run(
        ctx.cmd("relay", ["head", "-c", "5"])
            .stdin(Input::Zeros(4 * MIB)),
    )?;
    let hint = |f: Failure| {
        f.detail(
            "HINT: `relay head -c 5` with 4 MiB of input: head exits after 5 bytes, and \
             relay's next write to it fails with EPIPE. That is no error: close the filter's \
             input, leave the rest of stdin unread, and go on relaying the filter's output \
             until it ends (specs/pipes.md §3.2).",
        )
    };
    expect::exit_code(&run, 0).map_err(hint)?;
    expect::stdout_is(&run, &[0u8; 5]).map_err(hint)
}

fn relay_eof(ctx: &Ctx) -> Result<(), Failure> {
    let len = MIB;
    let run = ctx.run(
        ctx.cmd("relay", ["wc", "-c"])
            .stdin(Input::Stream(Stream::new(ctx.seed(), len))),
    )?;
    expect::exit_code(&run, 0)?;
    expect::stdout_is(&run, format!("{len}\n").as_bytes())
}

fn relay_no_deadlock(ctx: &Ctx) -> Result<(), Failure> {
    let input = Stream::new(ctx.seed() ^ 0x64, 64 * MIB);
    let run = ctx.run(
        ctx.cmd("relay", ["tr", "a-z", "A-Z"])
            .stdin(Input::Stream(input))
            .stdout(Output::Compare(input.mapped(stream::upper))),
    )?;
    expect::stream_matched(&run)?;
    expect::exit_code(&run, 0)
}

const FAULTS_HINT: &str = "a read may return fewer bytes than asked and a write may write \
fewer, and a call that blocks (read, write, waitpid) may fail with EINTR when a signal \
arrives: loop until every byte is moved, and retry on EINTR (lesson §4–5). The grader injected \
these faults on purpose (IPCLAB_FAULTS_* in the environment, libipclab_faults.so preloaded).";

/// Sends 16 MiB through `spec` with faults injected; the output must be the input upper-cased.
fn through_with_faults(ctx: &Ctx, spec: Spec, salt: u64) -> Result<(), Failure> {
    let input = Stream::new(ctx.seed() ^ salt, 16 * MIB);
    let run = ctx.run(
        spec.with_faults(Faults::all(ctx.seed()))
            .stdin(Input::Stream(input))
            .stdout(Output::Compare(input.mapped(stream::upper))),
    )?;
    let hint = |f: Failure| f.detail(format!("HINT: {FAULTS_HINT}"));
    expect::stream_matched(&run).map_err(hint)?;
    expect::exit_code(&run, 0).map_err(hint)
}

fn relay_faults(ctx: &Ctx) -> Result<(), Failure> {
    through_with_faults(ctx, ctx.cmd("relay", ["tr", "a-z", "A-Z"]), 0xfa)
}

fn pipeline_faults(ctx: &Ctx) -> Result<(), Failure> {
    through_with_faults(
        ctx,
        ctx.cmd("pipeline", ["cat", "|", "tr", "a-z", "A-Z"]),
        0xfb,
    )
}

fn relay_in_the_middle(ctx: &Ctx) -> Result<(), Failure> {
    let mut running = ctx.spawn(ctx.cmd("relay", ["cat"]).stdin(Input::Held))?;
    let deadline = Instant::now() + ctx.limit() / 2;
    // The filter is inspected once its first `read` sleeps (relay has nothing to give it):
    // before that the dynamic loader may still hold a file of its own open.
    let filter = loop {
        let found = run::group_members(running.pid())
            .into_iter()
            .find(|m| m.comm == "cat" && !m.zombie);
        let late = Instant::now() > deadline;
        if let Some(m) = &found
            && (late || crate::procfs::sleeps_in_call(m.pid, libc::SYS_read))
        {
            break Some(m.pid);
        }
        if late || running.has_exited() {
            break None;
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    let relay_fds = run::open_fds(running.pid());
    let filter_fds = filter.map(run::open_fds).unwrap_or_default();
    let filter_ignores_sigpipe =
        filter.and_then(|pid| run::ignores_signal(pid, libc::SIGPIPE)) == Some(true);
    if let Some(pipe) = running.stdin() {
        use std::io::Write;
        let _ = pipe.write_all(b"through the middle\n");
    }
    running.close_stdin();
    let run = ctx.wait(running);
    let Some(_) = filter else {
        return Err(Failure::new("relay did not start `cat` as a child process").command(&run));
    };
    let get =
        |fds: &[(i32, String)], fd| fds.iter().find(|(n, _)| *n == fd).map(|(_, t)| t.clone());
    let mut seen = Vec::new();
    for (fd, name) in [(0, "stdin"), (1, "stdout")] {
        let (outer, inner) = (get(&relay_fds, fd), get(&filter_fds, fd));
        if inner.is_none() || outer == inner {
            return Err(Failure::new(format!(
                "the filter's {name} is relay's own {name} ({}): relay must carry the bytes \
                 through pipes of its own",
                outer.unwrap_or_default()
            ))
            .command(&run));
        }
        // The kernel names a pipe `pipe:[INODE]`, the same at both ends: relay holds the other.
        let inner = inner.unwrap_or_default();
        let held = relay_fds
            .iter()
            .find(|(n, t)| *n > 2 && *t == inner)
            .map(|(n, _)| *n);
        match held {
            Some(n) if inner.starts_with("pipe:") => {
                seen.push(format!("{name} {inner} (relay's fd {n})"));
            }
            _ => {
                return Err(Failure::new(format!(
                    "the filter's {name} is {inner}, not a pipe whose other end relay holds"
                ))
                .detail(format!(
                    "RELAY'S DESCRIPTORS (/proc/PID/fd):\n    {}",
                    relay_fds
                        .iter()
                        .map(|(n, t)| format!("{n} -> {t}"))
                        .collect::<Vec<_>>()
                        .join("\n    ")
                ))
                .detail("HINT: make two pipes with pipe2(O_CLOEXEC): one to the filter's stdin, one from its stdout; relay keeps the other ends (lesson §4).")
                .command(&run));
            }
        }
    }
    // The stage rules of §2.3 hold for the filter: exactly 0, 1 and 2, SIGPIPE at its default.
    let stray: Vec<String> = filter_fds
        .iter()
        .filter(|(fd, _)| *fd > 2)
        .map(|(fd, t)| format!("{fd} -> {t}"))
        .collect();
    if !stray.is_empty() {
        return Err(Failure::new(format!(
            "the filter has descriptors beyond 0, 1, 2 open: {}",
            stray.join(", ")
        ))
        .detail(
            "HINT: the rules of a pipeline's stages hold for relay's filter (specs/pipes.md \
             §2.3, §3.2): create both pipes with O_CLOEXEC (pipe2) or close every end the \
             filter does not use before execvp.",
        )
        .command(&run));
    }
    if filter_ignores_sigpipe {
        return Err(Failure::new("the filter started with SIGPIPE ignored")
            .detail(
                "HINT: an ignored signal stays ignored across execvp, and Rust programs start \
                 with SIGPIPE ignored: set it back to SIG_DFL in the filter's child before \
                 execvp, as for a pipeline's stages (specs/pipes.md §2.3, §3.2).",
            )
            .command(&run));
    }
    ctx.note(format!(
        "the filter's {}; it had exactly 0, 1, 2 open and SIGPIPE at its default",
        seen.join(", ")
    ));
    expect::exit_code(&run, 0)?;
    expect::stdout_is(&run, b"through the middle\n")
}

/// Times one run that moves `len` zero bytes through unchanged; fails if any go missing.
/// Zeros in and a byte count out keep the grader's own share of the work negligible, so the
/// ratio measures the programs; `stream-256mib` checks the bytes themselves.
fn timed(ctx: &Ctx, spec: Spec, len: u64) -> Result<Duration, Failure> {
    let run = ctx.run(spec.stdin(Input::Zeros(len)).stdout(Output::Count))?;
    expect::exit_code(&run, 0)?;
    ensure(run.stdout.total == len, || {
        Failure::new(format!("moved {} bytes of {len}", run.stdout.total)).command(&run)
    })?;
    Ok(run.wall)
}

/// Runs the student's and the reference command alternately, `ROUNDS` times each, and
/// compares their best times: `student ≤ bound × reference` (scaled), or a failure that says
/// both figures.
/// The CPU the throughput checks pin both sides to.
const CPU: usize = 1;

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
    // Both on the same CPU, so that neither gains or loses by where the scheduler puts its
    // processes (one CPU each, or all on one) from one run to the next.
    for _ in 0..ROUNDS {
        best_reference = best_reference.min(timed(ctx, reference().on_cpu(CPU), len)?);
        best_student = best_student.min(timed(ctx, student().on_cpu(CPU), len)?);
    }
    let ratio = best_student.as_secs_f64() / best_reference.as_secs_f64().max(1e-6);
    let allowed = bound * ctx.scale();
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
        .detail(
            "HINT: data should flow between the stages directly, or through relay in large \
                 reads and writes (64 KiB or more), never a byte at a time.",
        )
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
    crate::procfs::poll_until(ctx.deadline(), || running.has_exited());
    // The thread's own accounting: the process's (`/proc/PID/io`) adds what the children it
    // reaped read, the filter's reads among them.
    let pid = running.pid();
    let io = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/io")).unwrap_or_default();
    let run = ctx.wait(running);
    let _ = std::fs::remove_file(&file);
    expect::exit_code(&run, 0)?;
    expect::stdout_is(&run, format!("{LARGE_READS_LEN}\n").as_bytes())?;
    let field = |name: &str| {
        io.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
            .and_then(|v| v.trim().parse::<u64>().ok())
    };
    let (Some(calls), Some(bytes)) = (field("syscr"), field("rchar")) else {
        return Ok(());
    };
    let allowed = LARGE_READS_LEN / (64 * 1024) + LARGE_READS_SLACK;
    ensure(calls <= allowed, || {
        Failure::new(format!(
            "relay made {calls} read calls to read an {} MiB file (allowed: {allowed}, reads \
             of at least 64 KiB)",
            LARGE_READS_LEN / MIB
        ))
        .detail(format!(
            "MEASURED (/proc/PID/task/PID/io of relay at its exit): syscr {calls}, rchar {bytes}: \
             {} bytes per read on average",
            bytes / calls.max(1)
        ))
        .detail(
            "HINT: read into a buffer of 64 KiB or more (the reference reads 128 KiB at a \
             time): every read is a system call and a wake-up (specs/pipes.md §3.2).",
        )
        .command(&run)
    })?;
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
