//! `msgq` checks: what the server and client survive: garbage on the queue, no server at all,
//! signals while blocked in msgrcv.

use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use super::common::*;
use super::peer;
use crate::check::ensure;
use crate::check::{Check, Ctx, Failure};
use crate::expect;
use crate::run::Input;

/// This family's checks, in the spec's order.
pub(super) fn checks() -> Vec<Check> {
    let secs = Duration::from_secs;
    vec![
        Check::new(
            "garbage-on-queue",
            4,
            "short messages, lying sizes, unknown ops, pid < 3: discarded or error reply",
            garbage_on_queue,
        )
        .limit(secs(10))
        .lesson("§5")
        .on_timeout(SERVE_HINT),
        Check::new(
            "server-absent",
            3,
            "no server: the client exits 3 within --timeout + 0.5 s and leaves no queue",
            server_absent,
        )
        .limit(secs(10))
        .lesson("§17")
        .on_timeout(WAIT_HINT),
        Check::new(
            "signal-in-msgrcv",
            4,
            "SIGUSR1 at a server and a client blocked in msgrcv: nothing lost or duplicated",
            signal_in_msgrcv,
        )
        .limit(secs(15))
        .lesson("§16"),
    ]
}

fn garbage_on_queue(ctx: &Ctx) -> Result<(), Failure> {
    let path = key_file(ctx);
    let server = serving(ctx, &path)?;
    let spid = server.pid();
    match garbage_served(ctx, &path, spid) {
        Ok(()) => stop(ctx, &path, server),
        Err(f) => Err(abandon(ctx, server, f)),
    }
}

/// Messages no reply may follow, one at a time, each followed by the kernel's accounting:
/// once the server has taken it and waits for more, the queue's last sender must still be
/// the grader's client that sent it (a reply to pid 1 or 2 is typed as a request: the server
/// would take it itself, and only `lspid` shows it was sent). One message a client, so that a
/// reply cannot hide behind a later message of the same client. Then the garbage answered
/// with errors, and a plain `sum`.
fn garbage_served(ctx: &Ctx, path: &str, spid: i32) -> Result<(), Failure> {
    const WHAT: [&str; peer::GARBAGE_SILENT as usize] = [
        "a message of 0 bytes after its type",
        "a message of 1 byte after its type",
        "a message of 20 bytes after its type",
        "a message of 39 bytes after its type",
        "a request from pid 0",
        "a request from pid 1",
        "a request from pid 2",
        "a request from pid -5",
    ];
    for (which, what) in WHAT.iter().enumerate() {
        let silent = ctx.spawn(ctx.tool(
            PEER,
            [
                "--id",
                ID_ARG,
                "garbage-silent",
                path,
                &ms(ctx, PEER_MS),
                &which.to_string(),
            ],
        ))?;
        let gpid = silent.pid();
        let run = ctx.wait(silent);
        peer_ok(
            &run,
            "the grader's client, sending a message no reply may follow",
        )?;
        let taken = wait_for(ctx, || {
            crate::procfs::gone(spid)
                || (queue_row(path).is_some_and(|r| r.num("qnum") == 0) && in_msgrcv(spid))
        });
        let row = queue_row(path).unwrap_or_default();
        ensure(taken && !crate::procfs::gone(spid), || {
            Failure::new(format!(
                "after {what}, the server did not go back to waiting in msgrcv with the queue \
                 empty ({} message(s) left)",
                row.num("qnum")
            ))
        })?;
        let last = row.num("lspid") as i32;
        ensure(last == gpid, || {
            Failure::new(format!(
                "the server sent a message after {what}, which it must discard: the queue's \
                 last sender is pid {last}, the server (pid {spid}), not the grader's client \
                 (pid {gpid})"
            ))
            .detail(
                "HINT: a reply typed 1 or 2 is a request: the server would take its own reply \
                 back. Discard (one stderr line, no reply) every request whose pid is below 3, \
                 and every message too short for a header (specs/msgq.md §3.3, §5.3).",
            )
        })?;
    }
    let run = peer_run(ctx, "garbage", path, &[])?;
    peer_ok(&run, "after garbage")?;
    answered(ctx, path, &["sum", "1", "2"], 0, b"3\n").map(drop)
}

fn server_absent(ctx: &Ctx) -> Result<(), Failure> {
    let path = key_file(ctx);
    let bound = 300;
    for command in [&["sum", "1", "2"][..], &["session"][..]] {
        let args = client_args_within(ctx, &path, bound, command);
        let run = ctx.run(
            ctx.cmd("msgq-client", args)
                .stdin(Input::Bytes(b"sum 1 2\n".to_vec())),
        )?;
        expect::exit_code(&run, 3)?;
        expect::stdout_empty(&run)?;
        expect::stderr_starts(&run, "msgq-client: ")?;
        let allowed = ctx.loosen(Duration::from_millis(bound + 500));
        ensure(run.wall <= allowed, || {
            Failure::new(format!(
                "the client gave up after {} ms, allowed {} ms (--timeout {bound} + 500)",
                run.wall.as_millis(),
                allowed.as_millis()
            ))
            .command(&run)
        })?;
        ensure(queue_of(&path).is_none(), || {
            Failure::new("the client created the queue, got no reply, and left the queue")
                .detail("HINT: a client that created the queue and never got a reply removes it when it gives up (specs/msgq.md §2.1).")
                .command(&run)
        })?;
    }
    Ok(())
}

fn signal_in_msgrcv(ctx: &Ctx) -> Result<(), Failure> {
    let path = key_file(ctx);
    // A client blocked waiting for its reply, signalled, then answered.
    let early = ctx.spawn(ctx.cmd("msgq-client", client_args(ctx, &path, &["sum", "1", "2"])))?;
    let cpid = early.pid();
    let early = until_in_msgrcv(
        ctx,
        early,
        "the client",
        "wait in msgrcv for its reply (no server runs yet)",
    )?;
    for _ in 0..5 {
        let _ = kill(Pid::from_raw(cpid), Signal::SIGUSR1);
    }
    let server = start_server(ctx, &path)?;
    let spid = server.pid();
    let run = ctx.wait(early);
    let result = (|| {
        expect::exit_code(&run, 0)?;
        expect::stdout_is(&run, b"3\n")?;
        crossed(&path, ID, &[cpid], &run)?;
        // The server blocked in msgrcv, signalled, then a storm during a session.
        ensure(
            wait_for(ctx, || in_msgrcv(spid)) && !crate::procfs::gone(spid),
            || Failure::new("the server, having answered, never went back to waiting in msgrcv"),
        )?;
        for _ in 0..5 {
            let _ = kill(Pid::from_raw(spid), Signal::SIGUSR1);
        }
        let (input, want) = sums_input(1500, 77);
        let session = ctx.spawn(
            ctx.cmd("msgq-client", client_args(ctx, &path, &["session"]))
                .stdin(Input::Bytes(input)),
        )?;
        let sess = session.pid();
        // Signals only once its handler is installed (before that SIGUSR1 would kill it).
        wait_for(ctx, || catches(sess, libc::SIGUSR1) || session.has_exited());
        while !session.has_exited() {
            let _ = kill(Pid::from_raw(spid), Signal::SIGUSR1);
            let _ = kill(Pid::from_raw(sess), Signal::SIGUSR1);
            std::thread::sleep(Duration::from_micros(200));
        }
        let run = ctx.wait(session);
        expect::exit_code(&run, 0)?;
        expect::stdout_is(&run, &want)?;
        crossed(&path, ID, &[sess], &run)
    })();
    match result {
        Ok(()) => stop(ctx, &path, server),
        Err(f) => Err(abandon(ctx, server, f)),
    }
}

/// Whether process `pid` has a handler for `signal` (the `SigCgt` mask of its status).
fn catches(pid: i32, signal: i32) -> bool {
    let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
        return false;
    };
    status
        .lines()
        .find_map(|l| l.strip_prefix("SigCgt:"))
        .and_then(|m| u64::from_str_radix(m.trim(), 16).ok())
        .is_some_and(|m| m & (1 << (signal - 1)) != 0)
}
