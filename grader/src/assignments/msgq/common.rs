//! What the `msgq` checks share: the arguments they pass, starting and stopping a server,
//! the queue as the kernel accounts for it, and failures that show what a program printed.

use std::time::Duration;

use nix::sys::signal::Signal;

use super::{ffi, peer};
use crate::check::ensure;
use crate::check::{Ctx, Failure};
use crate::expect;
use crate::run::{Finished, Input, Running};
use crate::stream::Stream;

pub(super) const MIB: u64 = 1024 * 1024;
/// `--timeout` of a server: how long it waits for a client mid-transfer or for an ack.
pub(super) const SERVER_MS: u64 = 500;
/// `--timeout` of a client that is expected to be answered (only reached on failure).
pub(super) const CLIENT_MS: u64 = 4000;
pub(super) const PEER: &str = "msgq-peer";
/// How long the grader's client waits for each reply of your server.
pub(super) const PEER_MS: u64 = 1500;
/// The `ftok` project id the checks pass with `--id`, to your programs and to the grader's
/// peers alike: not the default 1, so that a program that ignores `--id` meets nobody.
/// `sum-basic` alone runs both programs with the default.
pub(super) const ID: u8 = 90;
/// The `--id` of [`ID`].
pub(super) const ID_ARG: &str = "90";

pub(super) const SERVE_HINT: &str = "a client waits for a reply typed with its own pid: check that the \
server replies with mtype = the request's pid, that msgsz excludes the 8-byte mtype, and that \
the server loops with msgrcv(-2) (specs/msgq.md §3, §5.2).";
pub(super) const WAIT_HINT: &str = "msgrcv has no timeout: arm setitimer(ITIMER_REAL) with a SIGALRM \
handler installed without SA_RESTART, and give up on EINTR once the deadline has passed \
(specs/msgq.md §6).";
pub(super) const FULL_HINT: &str = "a server blocked in msgsnd on a queue full of requests waits forever: \
send replies with IPC_NOWAIT and on EAGAIN move a request into the backlog (specs/msgq.md §5.4).";
pub(super) const TRANSFER_HINT: &str = "each round is: fill the segment, send DATA typed 2^32 + pid, wait \
for the DATA reply; a round of 0 bytes ends the transfer (specs/msgq.md §4.3, §5.5).";

/// A fresh key file in the check's directory.
pub(super) fn key_file(ctx: &Ctx) -> String {
    let path = ctx.dir().join(crate::leaks::unique_name("key"));
    let _ = std::fs::write(&path, b"");
    path.to_string_lossy().into_owned()
}

/// `ms` milliseconds loosened by the time scale, for a command line: rounded to the nearest
/// millisecond, at least 1.
pub(super) fn ms(ctx: &Ctx, ms: u64) -> String {
    let loosened = ctx.loosen(Duration::from_millis(ms));
    ((loosened.as_micros() + 500) / 1000).max(1).to_string()
}

pub(super) fn start_server(ctx: &Ctx, path: &str) -> Result<Running, Failure> {
    ctx.spawn(ctx.cmd(
        "msgq-server",
        ["--id", ID_ARG, "--timeout", &ms(ctx, SERVER_MS), path],
    ))
}

pub(super) fn client_args(ctx: &Ctx, path: &str, command: &[&str]) -> Vec<String> {
    client_args_within(ctx, path, CLIENT_MS, command)
}

/// A client's arguments: `--id`, a `--timeout` of `timeout_ms` (scaled), the key file,
/// `command`.
pub(super) fn client_args_within(
    ctx: &Ctx,
    path: &str,
    timeout_ms: u64,
    command: &[&str],
) -> Vec<String> {
    let mut args = vec![
        "--id".to_string(),
        ID_ARG.to_string(),
        "--timeout".to_string(),
        ms(ctx, timeout_ms),
        path.to_string(),
    ];
    args.extend(command.iter().map(|s| s.to_string()));
    args
}

pub(super) fn client(ctx: &Ctx, path: &str, command: &[&str]) -> Result<Finished, Failure> {
    ctx.run(ctx.cmd("msgq-client", client_args(ctx, path, command)))
}

/// Runs your client with `command`, expects exit `code` and exactly `stdout`, and then that
/// the answer crossed the queue ([`crossed`]).
pub(super) fn answered(
    ctx: &Ctx,
    path: &str,
    command: &[&str],
    code: i32,
    stdout: &[u8],
) -> Result<Finished, Failure> {
    let running = ctx.spawn(ctx.cmd("msgq-client", client_args(ctx, path, command)))?;
    let pid = running.pid();
    let run = ctx.wait(running);
    expect::exit_code(&run, code)?;
    expect::stdout_is(&run, stdout)?;
    crossed(path, ID, &[pid], &run)?;
    Ok(run)
}

/// The kernel's accounting of the queue of `ftok(path, id)` shows that one of the clients
/// `pids` took the last message received from it (`lrpid` of `/proc/sysvipc/msg`): the
/// answer the client printed came through the queue, not from the client itself.
pub(super) fn crossed(path: &str, id: u8, pids: &[i32], run: &Finished) -> Result<(), Failure> {
    let Some(row) = queue_row_id(path, id) else {
        return Err(Failure::new(format!(
            "the client ended as if answered, but no queue of key ftok(PATH, {id}) exists: \
             the answer never crossed the server's queue"
        ))
        .detail(CROSSED_HINT)
        .command(run));
    };
    let last = row.num("lrpid") as i32;
    let clients = pids
        .iter()
        .map(|p| p.to_string())
        .collect::<Vec<_>>()
        .join(", ");
    ensure(pids.contains(&last), || {
        let who = if last == 0 {
            "nobody has ever received a message from it".to_string()
        } else {
            format!("its last receiver is pid {last}")
        };
        Failure::new(format!(
            "the client (pid {clients}) ended as if answered, but took no reply from the queue: \
             {who} (/proc/sysvipc/msg)"
        ))
        .detail(CROSSED_HINT)
        .command(run)
    })
}

pub(super) const CROSSED_HINT: &str = "HINT: every answer comes from the server through the queue: the \
client msgsnd's its request and takes the reply typed with its own pid with msgrcv (specs/msgq.md \
§4.2). The grader reads who last received from the queue in the kernel's accounting.";

/// The queue of `path`'s key: (id, messages on it), if it exists.
pub(super) fn queue_of(path: &str) -> Option<(i32, u64)> {
    queue_of_id(path, ID)
}

/// The queue of `ftok(path, id)`: (id, messages on it), if it exists.
pub(super) fn queue_of_id(path: &str, id: u8) -> Option<(i32, u64)> {
    let key = ffi::ftok(std::path::Path::new(path), id).ok()?;
    let id = ffi::msgget(key, 0).ok()?;
    let (n, _) = ffi::msg_stat(id).ok()?;
    Some((id, n))
}

/// What a program printed, for a failure: its stdout and stderr, each as a block.
pub(super) fn printed(who: &str, run: &Finished) -> String {
    let block = |t: String| {
        if t.trim().is_empty() {
            "    (nothing)".to_string()
        } else {
            crate::message::block(&t)
        }
    };
    let end = match run.end {
        crate::run::End::Signaled {
            by_grader: true, ..
        } => "WAS STILL RUNNING (THE GRADER ENDED IT)".to_string(),
        end => format!("ENDED WITH {}", end.to_string().to_uppercase()),
    };
    format!(
        "{who} {end}; ITS STDOUT:\n{}\nITS STDERR:\n{}",
        block(run.stdout.text()),
        block(run.stderr.text())
    )
}

/// Waits until your program `running` sleeps in `msgrcv`. If it ends first, or never sleeps
/// there, the failure says so at once, with what it did instead (its status and output),
/// rather than what a later step would make of it.
pub(super) fn until_in_msgrcv(
    ctx: &Ctx,
    mut running: Running,
    who: &str,
    why: &str,
) -> Result<Running, Failure> {
    let pid = running.pid();
    let slept = wait_for(ctx, || in_msgrcv(pid));
    let gone = crate::procfs::gone(pid);
    if slept && !gone {
        return Ok(running);
    }
    let reason = if gone {
        format!(
            "{who} was to {why}, but it ended first, after {} ms",
            running.elapsed().as_millis()
        )
    } else {
        let call = crate::procfs::syscall(pid)
            .map(crate::procfs::syscall_name)
            .unwrap_or_else(|| "user space".into());
        running.signal_group(Signal::SIGKILL);
        format!(
            "{who} was to {why}, but in {} ms it never slept in msgrcv (last seen in {call})",
            (ctx.limit() / 2).as_millis()
        )
    };
    let run = ctx.wait(running);
    Err(Failure::new(reason)
        .detail(printed(&who.to_uppercase(), &run))
        .command(&run))
}

/// Waits for `client` while `server` serves it. A client whose server has exited waits for
/// replies that cannot come: it gets a moment to finish, then is ended.
pub(super) fn wait_served(ctx: &Ctx, mut client: Running, server: &Running) -> Finished {
    crate::procfs::poll_until(ctx.deadline(), || {
        client.has_exited() || server.has_exited()
    });
    if !crate::procfs::poll_for(Duration::from_millis(200), || client.has_exited()) {
        client.signal_group(Signal::SIGKILL);
    }
    ctx.wait(client)
}

/// Polls `cond` until it holds or half the check's limit has passed.
pub(super) fn wait_for(ctx: &Ctx, cond: impl FnMut() -> bool) -> bool {
    crate::procfs::poll_for(ctx.limit() / 2, cond)
}

/// Whether process `pid` sleeps in `msgrcv` (its `wchan`), or has ended, so that a wait for
/// it stops at once for a program that exits early (a `todo!()`).
pub(super) fn in_msgrcv(pid: i32) -> bool {
    crate::procfs::gone(pid) || crate::procfs::sleeps_in_wait(pid, "msgrcv")
}

/// Sends `shutdown` with the student's client and expects `ok` and the server's exit 0.
pub(super) fn stop(ctx: &Ctx, path: &str, server: Running) -> Result<(), Failure> {
    let run = client(ctx, path, &["shutdown"])?;
    let server = ctx.wait(server);
    let with_server = |f: Failure| f.detail(printed("YOUR SERVER", &server));
    expect::exit_code(&run, 0).map_err(with_server)?;
    expect::stdout_is(&run, b"ok\n").map_err(with_server)?;
    expect::exit_code(&server, 0)?;
    expect::stdout_empty(&server)
}

/// Ends a server that a failing check leaves behind, and reports the failure with what the
/// server said and how it had ended (or that it still ran).
pub(super) fn abandon(ctx: &Ctx, mut server: Running, failure: Failure) -> Failure {
    server.signal_group(Signal::SIGKILL);
    let run = ctx.wait(server);
    failure.detail(printed("YOUR SERVER", &run))
}

/// Starts the server and waits until its queue exists. A server that exits before that serves
/// nobody: that is said at once, rather than after every client has waited out its timeout.
pub(super) fn serving(ctx: &Ctx, path: &str) -> Result<Running, Failure> {
    let server = start_server(ctx, path)?;
    wait_for(ctx, || queue_of(path).is_some() || server.has_exited());
    if queue_of(path).is_none() {
        let running = !server.has_exited();
        let failure = if running {
            Failure::new(format!(
                "your server has run for {} ms, but no queue has the key ftok(PATH, {ID}) (it \
                 was given --id {ID})",
                (ctx.limit() / 2).as_millis()
            ))
        } else {
            Failure::new("your server exited without creating its queue")
        };
        return Err(abandon(ctx, server, failure));
    }
    Ok(server)
}

/// Runs `body` against a running server, then stops it with `shutdown`.
pub(super) fn with_server(
    ctx: &Ctx,
    body: impl FnOnce(&str) -> Result<(), Failure>,
) -> Result<(), Failure> {
    let path = key_file(ctx);
    let server = serving(ctx, &path)?;
    match body(&path) {
        Ok(()) => stop(ctx, &path, server),
        Err(f) => Err(abandon(ctx, server, f)),
    }
}

/// Runs the grader's peer in `mode` and expects exit 0; its stdout says what went wrong.
pub(super) fn peer_run(
    ctx: &Ctx,
    mode: &str,
    path: &str,
    extra: &[&str],
) -> Result<Finished, Failure> {
    let mut args = vec![
        "--id".to_string(),
        ID_ARG.to_string(),
        mode.to_string(),
        path.to_string(),
        ms(ctx, PEER_MS),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    ctx.spawn(ctx.tool(PEER, args)).map(|r| ctx.wait(r))
}

pub(super) fn peer_ok(run: &Finished, what: &str) -> Result<(), Failure> {
    if run.code() == Some(0) {
        return Ok(());
    }
    let reason = run.stdout.text();
    let first = reason.lines().next().unwrap_or("no output").to_string();
    Err(Failure::new(format!("{what}: {first}"))
        .detail(format!(
            "THE GRADER'S PEER SAYS:\n{}",
            crate::message::block(&reason)
        ))
        .detail(format!("(its exit: {})", run.end))
        .command(run))
}

pub(super) fn crc_of(stream: &Stream) -> u32 {
    use std::io::Read;
    let mut reader = stream.reader();
    let mut buf = vec![0u8; 1 << 16];
    let mut crc = 0;
    loop {
        match reader.read(&mut buf) {
            Ok(0) | Err(_) => return crc,
            Ok(n) => crc = peer::crc32(crc, &buf[..n]),
        }
    }
}

/// The row of `/proc/sysvipc/msg` of the queue of `path`, if it exists.
pub(super) fn queue_row(path: &str) -> Option<crate::procfs::IpcRow> {
    queue_row_id(path, ID)
}

/// The row of `/proc/sysvipc/msg` of the queue of `ftok(path, id)`, if it exists.
pub(super) fn queue_row_id(path: &str, id: u8) -> Option<crate::procfs::IpcRow> {
    let key = ffi::ftok(std::path::Path::new(path), id).ok()?;
    crate::procfs::sysvipc("msg")
        .into_iter()
        .find(|r| r.num("key") == i64::from(key))
}

pub(super) fn sums_input(n: u64, salt: i64) -> (Vec<u8>, Vec<u8>) {
    let (mut input, mut output) = (Vec::new(), Vec::new());
    for i in 0..n as i64 {
        let (a, b) = (i * 7919 - salt, salt * 3 - i);
        input.extend_from_slice(format!("sum {a} {b}\n").as_bytes());
        output.extend_from_slice(format!("{}\n", a + b).as_bytes());
    }
    (input, output)
}

pub(super) fn put(ctx: &Ctx, path: &str, seg: u64, len: u64, salt: u64) -> Result<(), Failure> {
    let input = Stream::new(ctx.seed() ^ salt ^ len, len);
    let running = ctx.spawn(
        ctx.cmd(
            "msgq-client",
            client_args(ctx, path, &["put", &seg.to_string()]),
        )
        .stdin(Input::Stream(input)),
    )?;
    let pid = running.pid();
    let run = ctx.wait(running);
    expect::exit_code(&run, 0)?;
    expect::stdout_is(&run, format!("{len} {:08x}\n", crc_of(&input)).as_bytes())?;
    crossed(path, ID, &[pid], &run)
}
