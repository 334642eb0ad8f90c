//! `msgq` checks: many requests and many clients: `session` line by line, concurrent sessions,
//! a queue full of requests, priorities.

use std::time::Duration;

use nix::sys::signal::Signal;

use super::common::*;
use crate::check::ensure;
use crate::check::{Check, Ctx, Failure};
use crate::expect;
use crate::run::{Finished, Input, Output};

/// This family's checks, in the spec's order.
pub(super) fn checks() -> Vec<Check> {
    let secs = Duration::from_secs;
    vec![
        Check::new(
            "session-many",
            3,
            "`session` with 1000 lines: one line out per line in, in order",
            session_many,
        )
        .limit(secs(15))
        .lesson("§4"),
        Check::new(
            "concurrent-clients",
            6,
            "8 sessions of 300 requests at once: each gets exactly its own answers",
            concurrent_clients,
        )
        .limit(secs(20))
        .lesson("§5"),
        Check::new(
            "full-queue-no-deadlock",
            4,
            "12 clients sending 8000-byte texts at once (queue full of requests): all answered",
            full_queue,
        )
        .limit(secs(20))
        .lesson("§5")
        .on_timeout(FULL_HINT),
        Check::new(
            "priority-batch",
            5,
            "a mixed batch queued before the server starts: urgent first, FIFO within a kind",
            priority_batch,
        )
        .limit(secs(10))
        .lesson("§5"),
    ]
}

fn session_many(ctx: &Ctx) -> Result<(), Failure> {
    with_server(ctx, |path| {
        let (mut input, mut want) = sums_input(1000, 5);
        input.extend_from_slice(b"upper last line\n!sum 1 2");
        want.extend_from_slice(b"LAST LINE\n3\n");
        let running = ctx.spawn(
            ctx.cmd("msgq-client", client_args(ctx, path, &["session"]))
                .stdin(Input::Bytes(input)),
        )?;
        let pid = running.pid();
        let run = ctx.wait(running);
        expect::exit_code(&run, 0)?;
        expect::stdout_is(&run, &want)?;
        crossed(path, ID, &[pid], &run)?;
        session_line_by_line(ctx, path)
    })
}

/// Lines a slow `session` is fed, one at a time, and the answer each must get before the
/// next is written.
const SLOW_LINES: [(&str, &str); 4] = [
    ("sum 20 22", "42"),
    ("upper one line at a time", "ONE LINE AT A TIME"),
    ("!sum -1 -2", "-3"),
    ("bogus", "error: bad-line"),
];

/// `session` fed through a pipe one line at a time, with a pause after each: the answer to
/// each line must be on stdout (flushed) before the next line is written. A client that reads
/// all its input before answering, or keeps its answers in a buffer, prints nothing while the
/// grader waits.
fn session_line_by_line(ctx: &Ctx, path: &str) -> Result<(), Failure> {
    let out_path = ctx.dir().join(crate::leaks::unique_name("session-out"));
    let file = std::fs::File::create(&out_path)
        .map_err(|e| Failure::new(format!("cannot create {}: {e}", out_path.display())))?;
    let mut running = ctx.spawn(
        ctx.cmd("msgq-client", client_args(ctx, path, &["session"]))
            .stdin(Input::Held)
            .stdout(Output::File(file)),
    )?;
    let printed_lines = || {
        std::fs::read(&out_path)
            .map(|b| b.iter().filter(|&&c| c == b'\n').count())
            .unwrap_or(0)
    };
    let wait = ctx.loosen(Duration::from_millis(2000));
    for (i, (line, _)) in SLOW_LINES.iter().enumerate() {
        std::thread::sleep(Duration::from_millis(30));
        if let Some(pipe) = running.stdin() {
            use std::io::Write;
            let _ = pipe.write_all(format!("{line}\n").as_bytes());
            let _ = pipe.flush();
        }
        let answered =
            crate::procfs::poll_for(wait, || printed_lines() > i || running.has_exited());
        if !answered || printed_lines() <= i {
            let exited = running.has_exited();
            if !exited {
                running.signal_group(Signal::SIGKILL);
            }
            let run = ctx.wait(running);
            let so_far = std::fs::read(&out_path).unwrap_or_default();
            let _ = std::fs::remove_file(&out_path);
            let why = if exited {
                format!("it ended ({}) without answering it", run.end)
            } else {
                format!(
                    "no answer for it was on stdout {} ms later, the next line not yet written",
                    wait.as_millis()
                )
            };
            return Err(Failure::new(format!(
                "`session` fed one line at a time: after line {} (`{line}`), {why}",
                i + 1
            ))
            .detail(format!(
                "ITS STDOUT SO FAR:\n{}",
                if so_far.is_empty() {
                    "    (nothing)".to_string()
                } else {
                    crate::message::block(&String::from_utf8_lossy(&so_far))
                }
            ))
            .detail(format!(
                "ITS STDERR:\n{}",
                crate::message::block(&run.stderr.text())
            ))
            .detail(
                "HINT: read one line, send it, wait for its reply, print the answer and flush \
                 stdout, and only then read the next line: the grader feeds lines one at a \
                 time through a pipe and waits for each answer (specs/msgq.md §4.4).",
            )
            .command(&run));
        }
    }
    running.close_stdin();
    let run = ctx.wait(running);
    let got = std::fs::read(&out_path).unwrap_or_default();
    let _ = std::fs::remove_file(&out_path);
    let want: String = SLOW_LINES.iter().map(|(_, a)| format!("{a}\n")).collect();
    // A bad line makes the exit status 1 (§4.4).
    expect::exit_code(&run, 1)?;
    ensure(got == want.as_bytes(), || {
        Failure::new("`session` fed one line at a time printed other answers")
            .detail(format!("EXPECTED:\n{}", crate::message::block(&want)))
            .detail(format!(
                "ACTUAL:\n{}",
                crate::message::block(&String::from_utf8_lossy(&got))
            ))
            .command(&run)
    })
}

fn concurrent_clients(ctx: &Ctx) -> Result<(), Failure> {
    with_server(ctx, |path| {
        let mut running = Vec::new();
        for c in 0..8i64 {
            let (input, want) = sums_input(300, c * 1_000_003);
            let r = ctx.spawn(
                ctx.cmd("msgq-client", client_args(ctx, path, &["session"]))
                    .stdin(Input::Bytes(input)),
            )?;
            running.push((r, want));
        }
        let pids: Vec<i32> = running.iter().map(|(r, _)| r.pid()).collect();
        let done: Vec<(Finished, Vec<u8>)> =
            running.into_iter().map(|(r, w)| (ctx.wait(r), w)).collect();
        for (run, want) in &done {
            expect::exit_code(run, 0)?;
            expect::stdout_is(run, want)?;
        }
        crossed(path, ID, &pids, &done[0].0)
    })
}

fn full_queue(ctx: &Ctx) -> Result<(), Failure> {
    with_server(ctx, |path| {
        let mut running = Vec::new();
        for c in 0..12u8 {
            let text: String = (0..8000)
                .map(|i| (b'a' + ((i + c as usize) % 26) as u8) as char)
                .collect();
            let mut input = Vec::new();
            for _ in 0..4 {
                input.extend_from_slice(format!("upper {text}\n").as_bytes());
            }
            let want = format!("{}\n", text.to_ascii_uppercase()).repeat(4);
            let r = ctx.spawn(
                ctx.cmd("msgq-client", client_args(ctx, path, &["batch"]))
                    .stdin(Input::Bytes(input)),
            )?;
            running.push((r, want));
        }
        let pids: Vec<i32> = running.iter().map(|(r, _)| r.pid()).collect();
        let done: Vec<(Finished, String)> =
            running.into_iter().map(|(r, w)| (ctx.wait(r), w)).collect();
        for (run, want) in &done {
            expect::exit_code(run, 0)?;
            let mut lines: Vec<&str> = run.stdout.text().leak().lines().collect();
            lines.sort();
            let got: String = lines
                .iter()
                .map(|l| format!("{}\n", l.split_once(' ').map_or(*l, |(_, t)| t)))
                .collect();
            ensure(&got == want, || {
                Failure::new("a batch of four 8000-byte texts did not get its four answers")
                    .detail(format!(
                        "ACTUAL STDOUT ({} bytes, {} lines)",
                        run.stdout.total,
                        lines.len()
                    ))
                    .command(run)
            })?;
        }
        crossed(path, ID, &pids, &done[0].0)
    })
}

fn priority_batch(ctx: &Ctx) -> Result<(), Failure> {
    // The grader's client queues 30 requests, then your server starts.
    let path = key_file(ctx);
    let n = 30;
    let early = ctx.spawn(ctx.tool(
        PEER,
        ["--id", ID_ARG, "priority", &path, &ms(ctx, CLIENT_MS), "30"],
    ))?;
    let queued = wait_for(ctx, || queue_of(&path).is_some_and(|(_, q)| q == n));
    let server = start_server(ctx, &path)?;
    let run = wait_served(ctx, early, &server);
    if !queued {
        return Err(abandon(
            ctx,
            server,
            Failure::new("the grader's client could not queue its batch (a grader bug)"),
        ));
    }
    if let Err(f) = peer_ok(&run, "served out of priority order") {
        return Err(abandon(ctx, server, f));
    }
    stop(ctx, &path, server)?;
    // Then your `batch`, queued before the server starts.
    let path = key_file(ctx);
    let input = b"sum 1 1\n!sum 2 2\nsum 3 3\n!upper u1\nsum 5 5\n!sum 6 6\n".to_vec();
    let early = ctx.spawn(
        ctx.cmd("msgq-client", client_args(ctx, &path, &["batch"]))
            .stdin(Input::Bytes(input)),
    )?;
    let pid = early.pid();
    let early = until_in_msgrcv(
        ctx,
        early,
        "your `batch`",
        "send its six requests and wait in msgrcv for the replies (no server runs yet)",
    )?;
    let queued = queue_of(&path).is_some_and(|(_, q)| q == 6);
    let server = start_server(ctx, &path)?;
    let run = wait_served(ctx, early, &server);
    let checked = (|| {
        ensure(queued, || {
            Failure::new("`batch` did not send all six requests before waiting for replies")
                .command(&run)
        })?;
        expect::exit_code(&run, 0)?;
        expect::stdout_is(&run, b"2 4\n4 U1\n6 12\n1 2\n3 6\n5 10\n")?;
        crossed(&path, ID, &[pid], &run)
    })();
    if let Err(f) = checked {
        return Err(abandon(ctx, server, f));
    }
    stop(ctx, &path, server)
}
