//! `msgq` checks: who removes the queue: after `shutdown`, on SIGTERM, and not after a killed
//! server.

use std::time::Duration;

use nix::sys::signal::Signal;

use super::common::*;
use super::ffi;
use crate::check::ensure;
use crate::check::{Check, Ctx, Failure};
use crate::expect;

/// This family's checks, in the spec's order.
pub(super) fn checks() -> Vec<Check> {
    let secs = Duration::from_secs;
    vec![
        Check::new(
            "shutdown-cleanup",
            4,
            "`shutdown`: `ok`, the server exits 0, no queue and no segment left",
            shutdown_cleanup,
        )
        .limit(secs(10))
        .lesson("§11, §18"),
        Check::new(
            "terminate-cleanup",
            2,
            "SIGTERM to a waiting server: exit 0, queue removed",
            terminate_cleanup,
        )
        .limit(secs(5))
        .lesson("§11"),
        Check::new(
            "killed-server",
            2,
            "server SIGKILLed: a client exits 3 within its bound; the queue stays for ipcrm",
            killed_server,
        )
        .limit(secs(10))
        .lesson("§18")
        .on_timeout(WAIT_HINT),
    ]
}

fn shutdown_cleanup(ctx: &Ctx) -> Result<(), Failure> {
    let path = key_file(ctx);
    let server = start_server(ctx, &path)?;
    if let Err(f) = put(ctx, &path, 8192, 20000, 3) {
        return Err(abandon(ctx, server, f));
    }
    let run = client(ctx, &path, &["shutdown"])?;
    let server = ctx.wait(server);
    expect::exit_code(&run, 0)?;
    expect::stdout_is(&run, b"ok\n")?;
    expect::exit_code(&server, 0)?;
    let queue = queue_of(&path);
    let segments = std::fs::read_to_string("/proc/sysvipc/shm")
        .map(|t| t.lines().count().saturating_sub(1))
        .unwrap_or(0);
    ensure(queue.is_none() && segments == 0, || {
        Failure::new(format!(
            "after `shutdown` the server left {} queue(s) and {segments} segment(s)",
            usize::from(queue.is_some())
        ))
        .detail("HINT: after the acknowledgement the server removes the queue (IPC_RMID); the client marks its segment for removal as soon as it has attached it (specs/msgq.md §2.4, §5.6).")
        .command(&server)
    })
}

fn terminate_cleanup(ctx: &Ctx) -> Result<(), Failure> {
    let path = key_file(ctx);
    let server = start_server(ctx, &path)?;
    let mut server = until_in_msgrcv(ctx, server, "your server", "wait in msgrcv for a request")?;
    ctx.signal(&mut server, Signal::SIGTERM);
    let run = ctx.wait(server);
    expect::exit_code(&run, 0)?;
    expect::stdout_empty(&run)?;
    ensure(queue_of(&path).is_none(), || {
        Failure::new("the server ended on SIGTERM without removing its queue")
            .detail("HINT: on SIGINT, SIGTERM and SIGHUP the server removes the queue (msgctl IPC_RMID) and exits 0 (specs/msgq.md §5.6, §6).")
            .command(&run)
    })
}

fn killed_server(ctx: &Ctx) -> Result<(), Failure> {
    let path = key_file(ctx);
    let server = start_server(ctx, &path)?;
    let mut server = until_in_msgrcv(ctx, server, "your server", "wait in msgrcv for a request")?;
    // The queue the client will meet is the server's only if it has the key of ftok(PATH, ID):
    // otherwise the client creates one of its own, and removing that is right.
    let Some((queue, _)) = queue_of(&path) else {
        let keys: Vec<String> = crate::procfs::sysvipc("msg")
            .iter()
            .map(|r| format!("key {:#010x} (id {})", r.num("key") as u32, r.num("msqid")))
            .collect();
        let failure = Failure::new(format!(
            "your server waits in msgrcv, but no queue has the key ftok(PATH, {ID}): it \
             opened its queue under another key"
        ))
        .detail(format!(
            "QUEUES THERE ARE (/proc/sysvipc/msg): {}",
            if keys.is_empty() {
                "none".to_string()
            } else {
                keys.join(", ")
            }
        ))
        .detail(format!(
            "HINT: the key is ftok(PATH, N) with N the --id given ({ID} here, 1 by default) \
             (specs/msgq.md §1, §2.1)."
        ));
        return Err(abandon(ctx, server, failure));
    };
    ctx.signal(&mut server, Signal::SIGKILL);
    ctx.wait(server);
    let bound = 300;
    let args = client_args_within(ctx, &path, bound, &["sum", "1", "2"]);
    let run = ctx.run(ctx.cmd("msgq-client", args))?;
    // The killed server's queue is its leftover, not the client's: the client did not create
    // it and must leave it; the grader removes it (as `ipcrm -q` would).
    let left = queue_of(&path).filter(|&(id, _)| id == queue);
    if let Some((id, _)) = left {
        let _ = ffi::msg_remove(id);
    }
    expect::exit_code(&run, 3)?;
    let allowed = ctx.loosen(Duration::from_millis(bound + 500));
    ensure(run.wall <= allowed, || {
        Failure::new(format!(
            "the client gave up after {} ms, allowed {} ms",
            run.wall.as_millis(),
            allowed.as_millis()
        ))
        .command(&run)
    })?;
    ensure(left.is_some(), || {
        Failure::new(format!(
            "the client removed queue {queue}, which the killed server had created"
        ))
        .detail(
            "HINT: only a client that created the queue itself removes it (specs/msgq.md §2.1).",
        )
        .command(&run)
    })
}
