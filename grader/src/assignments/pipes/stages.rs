//! How `pipeline` sets up its stages: every write end closed, exactly 0, 1 and 2 open and
//! wired to the neighbours, SIGPIPE at its default, every child waited for.

use std::time::{Duration, Instant};

use crate::check::ensure;
use crate::check::{Check, Ctx, Failure};
use crate::expect;
use crate::run::{self, Finished, Input, Running};
use crate::stream::Stream;

use super::{MIB, words};

/// The checks of this family, in the spec's order.
pub(super) fn checks() -> Vec<Check> {
    let secs = Duration::from_secs;
    vec![
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
    ]
}

const EOF_HINT: &str = "a reader sees end-of-file only when every write end of its pipe is \
closed, the parent's copies included: close each end in the parent as soon as the child that \
uses it is forked, and let no child keep ends it does not use (lesson §5).";

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
    // The second stage lives a second after the last one ended: a pipeline that waits for the
    // last stage only leaves it running, long enough for no scan to miss it (a zombie of the
    // first case may be reaped by the check's own init before the scan).
    for line in [["true", "|", "sleep", "0.2"], ["sleep", "1", "|", "true"]] {
        let run = ctx.run(ctx.cmd("pipeline", words(&line)))?;
        expect::exit_code(&run, 0)?;
        expect::no_leftovers(&run)?;
    }
    Ok(())
}
