//! `msgq` checks: what the kernel's accounting shows: the queue carries the requests and
//! replies, a put's bytes go through a segment, and a client may start before the server.

use std::time::Duration;

use nix::sys::signal::Signal;

use super::common::*;
use crate::check::{Check, Ctx, Failure};
use crate::expect;
use crate::run::Input;
use crate::stream::Stream;

/// This family's checks, in the spec's order.
pub(super) fn checks() -> Vec<Check> {
    let secs = Duration::from_secs;
    vec![
        Check::new(
            "uses-the-queue",
            4,
            "the kernel's accounting shows the queue carried the requests and replies, and \
             the segment a put's bytes",
            uses_the_queue,
        )
        .limit(secs(15))
        .lesson("§5, §15, §16")
        .on_timeout(TRANSFER_HINT),
        Check::new(
            "either-start-order",
            3,
            "a client started before the server is answered once the server starts",
            either_start_order,
        )
        .limit(secs(10))
        .lesson("§11"),
    ]
}

/// The queue carries the requests and replies, and a transfer's bytes go through a segment the
/// server attaches read-only, as the kernel accounts for them (pids as the grader's spawns see
/// them, never as the programs report themselves). A client started alone: its 40-byte request
/// waits on the queue (`qnum` 1, `lspid` the client) while it sleeps in `msgrcv`; once the
/// server has answered, the last sender is the server and the last receiver the client. Then the
/// grader's own client `put`s through a segment it created: paused mid-transfer, the segment
/// is attached twice, last by the server, which maps it read-only (`/proc/PID/maps`).
fn uses_the_queue(ctx: &Ctx) -> Result<(), Failure> {
    let path = key_file(ctx);
    let early = ctx.spawn(ctx.cmd("msgq-client", client_args(ctx, &path, &["sum", "20", "22"])))?;
    let cpid = early.pid();
    let mut waiting = None;
    let queued = wait_for(ctx, || {
        waiting = queue_row(&path);
        crate::procfs::gone(cpid)
            || (waiting.as_ref().is_some_and(|r| r.num("qnum") == 1) && in_msgrcv(cpid))
    });
    let Some(waiting) = waiting.filter(|_| queued && !crate::procfs::gone(cpid)) else {
        let run = ctx.wait(early);
        return Err(Failure::new(
            "with no server, the client's request did not wait on the queue while the client \
             slept in msgrcv",
        )
        .detail(format!(
            "THE CLIENT ENDED WITH {}; STDERR:\n{}",
            run.end,
            crate::message::block(&run.stderr.text())
        ))
        .command(&run));
    };
    let qid = waiting.num("msqid");
    let (sender, bytes) = (waiting.num("lspid") as i32, waiting.num("cbytes"));
    if sender != cpid || bytes != 40 {
        let run = ctx.wait(early);
        return Err(Failure::new(format!(
            "the queue held {bytes} bytes sent by pid {sender}; expected the client's 40-byte \
             request (pid {cpid})"
        ))
        .detail("HINT: a request is one msgsnd of a 48-byte message (msgsz 40) on the queue of ftok(PATH, N) (specs/msgq.md §3.1).")
        .command(&run));
    }
    let server = start_server(ctx, &path)?;
    let spid = server.pid();
    let run = ctx.wait(early);
    if let Err(f) = expect::exit_code(&run, 0).and_then(|()| expect::stdout_is(&run, b"42\n")) {
        return Err(abandon(ctx, server, f));
    }
    let answered = queue_row(&path).unwrap_or_default();
    let (last_sent, last_received) = (answered.num("lspid") as i32, answered.num("lrpid") as i32);
    if last_sent != spid || last_received != cpid || answered.num("qnum") != 0 {
        let failure = Failure::new(format!(
            "after the answer, the queue's last sender is pid {last_sent} and last receiver pid \
             {last_received} ({} message(s) left); expected the server (pid {spid}) and the \
             client (pid {cpid}), nothing left",
            answered.num("qnum")
        ))
        .detail("HINT: the server takes the request with msgrcv and answers with msgsnd on the same queue; the client takes its reply with msgrcv(type = its pid) (specs/msgq.md §4.2, §5.2).")
        .command(&run);
        return Err(abandon(ctx, server, failure));
    }
    // The grader's own client: a put paused mid-transfer, waiting for more input.
    let seg = 4096u64;
    let input = stream_bytes(&Stream::new(ctx.seed() ^ 0x9e7, 5000), 5000);
    let mut peer = match ctx.spawn(
        ctx.tool(
            PEER,
            [
                "--id",
                ID_ARG,
                "put",
                &path,
                &ms(ctx, PEER_MS),
                &seg.to_string(),
            ],
        )
        .stdin(Input::Held),
    ) {
        Ok(p) => p,
        Err(f) => return Err(abandon(ctx, server, f)),
    };
    let ppid = peer.pid();
    if let Some(pipe) = peer.stdin() {
        use std::io::Write;
        let _ = pipe.write_all(&input);
    }
    let mut row = None;
    let mut mapped = None;
    let attached = wait_for(ctx, || {
        row = crate::procfs::sysvipc("shm")
            .into_iter()
            .find(|r| r.num("cpid") == i64::from(ppid));
        mapped = row.as_ref().and_then(|r| {
            crate::procfs::maps(spid).into_iter().find(|m| {
                m.shared()
                    && m.file() == crate::procfs::sysv_segment_path(0)
                    && m.inode as i64 == r.num("shmid")
            })
        });
        row.as_ref().is_some_and(|r| r.num("nattch") == 2) && mapped.is_some()
            || peer.has_exited()
            || server.has_exited()
    });
    peer.close_stdin();
    let put = ctx.wait(peer);
    if let Err(f) = peer_ok(&put, "the grader's client, putting 5000 bytes") {
        return Err(abandon(ctx, server, f));
    }
    let row = row.unwrap_or_default();
    let (sid, nattch, last) = (row.num("shmid"), row.num("nattch"), row.num("lpid") as i32);
    let problem = if !attached || nattch != 2 || last != spid {
        Some(format!(
            "mid-transfer, the grader's segment had {nattch} attachment(s), the last by pid \
             {last}; expected 2, the last by the server (pid {spid})"
        ))
    } else {
        match &mapped {
            None => Some(format!(
                "the server (pid {spid}) does not map the segment mid-transfer"
            )),
            Some(m) if m.writable() => Some(format!(
                "the server maps the client's segment read-write ({}): attach it with \
                 SHM_RDONLY",
                m.perms
            )),
            Some(_) => None,
        }
    };
    if let Some(problem) = problem {
        let failure = Failure::new(problem).detail(
            "HINT: the server attaches the segment of a PUT by its id, read-only \
             (shmat(id, NULL, SHM_RDONLY)), keeps it attached for the whole transfer and \
             reads the bytes in place (specs/msgq.md §2.4, §5.5).",
        );
        return Err(abandon(ctx, server, failure));
    }
    // The transfer is over and the grader's client gone: once the server waits for the next
    // request, nobody holds the segment, and the kernel has destroyed it (marked for removal).
    let segment = || {
        crate::procfs::sysvipc("shm")
            .into_iter()
            .find(|r| r.num("shmid") == sid)
    };
    wait_for(ctx, || segment().is_none() || in_msgrcv(spid));
    if let Some(row) = segment().filter(|r| r.num("nattch") > 0) {
        let failure = Failure::new(format!(
            "after the transfer, with the grader's client gone and the server waiting for the \
             next request, segment {sid} is still attached ({} attachment(s), last attached \
             or detached by pid {}): the server never detached it",
            row.num("nattch"),
            row.num("lpid")
        ))
        .detail(
            "HINT: the server detaches (shmdt) the segment of a PUT when the transfer ends, \
             fails or is abandoned; a segment marked for removal lives on while any process \
             keeps it attached (specs/msgq.md §2.4).",
        );
        return Err(abandon(ctx, server, failure));
    }
    stop(ctx, &path, server)?;
    ctx.note(format!(
        "queue {qid} held the client's 40-byte request (sent by pid {cpid}) until the server \
         (pid {spid}) took it and answered (last sender {spid}, last receiver {cpid}); the \
         grader's 5000-byte put went through segment {sid}, attached read-only by the server \
         (nattch 2) and detached when the transfer ended"
    ));
    Ok(())
}

fn stream_bytes(stream: &Stream, n: usize) -> Vec<u8> {
    use std::io::Read;
    let mut v = vec![0u8; n];
    let _ = stream.reader().read_exact(&mut v);
    v
}

fn either_start_order(ctx: &Ctx) -> Result<(), Failure> {
    let path = key_file(ctx);
    let early = ctx.spawn(ctx.cmd("msgq-client", client_args(ctx, &path, &["sum", "20", "22"])))?;
    let pid = early.pid();
    let early = until_in_msgrcv(
        ctx,
        early,
        "the client",
        "queue its request and wait in msgrcv for the reply (no server runs yet)",
    )?;
    let queued = queue_of(&path).map(|(_, n)| n);
    if queued != Some(1) {
        let mut early = early;
        early.signal_group(Signal::SIGKILL);
        let run = ctx.wait(early);
        return Err(Failure::new(format!(
            "the client waits in msgrcv, but the queue of ftok(PATH, {ID}) holds {}: its \
             request is not there",
            queued.map_or("nothing (no such queue)".to_string(), |n| format!(
                "{n} message(s)"
            ))
        ))
        .command(&run));
    }
    let server = start_server(ctx, &path)?;
    let run = ctx.wait(early);
    if let Err(f) = expect::exit_code(&run, 0)
        .and_then(|()| expect::stdout_is(&run, b"42\n"))
        .and_then(|()| crossed(&path, ID, &[pid], &run))
    {
        return Err(abandon(ctx, server, f));
    }
    stop(ctx, &path, server)
}
