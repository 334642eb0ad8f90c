//! The `msgq` assignment (`specs/msgq.md`): a server and clients on one SysV message queue,
//! with priorities and bulk transfers through a shared-memory segment (lesson §4–5, §15–21).
//! The grader's own client and server of the wire format are the tool `msgq-peer`.

mod ffi;
mod peer;

use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::check::ensure;
use crate::check::{Assignment, Check, Ctx, Failure, Tool};
use crate::expect;
use crate::run::{Finished, Input, Output, Running};
use crate::stream::Stream;

const MIB: u64 = 1024 * 1024;
/// `--timeout` of a server: how long it waits for a client mid-transfer or for an ack.
const SERVER_MS: u64 = 500;
/// `--timeout` of a client that is expected to be answered (only reached on failure).
const CLIENT_MS: u64 = 4000;
const PEER: &str = "msgq-peer";
/// How long the grader's client waits for each reply of your server.
const PEER_MS: u64 = 1500;
/// The `ftok` project id the checks pass with `--id`, to your programs and to the grader's
/// peers alike: not the default 1, so that a program that ignores `--id` meets nobody.
/// `sum-basic` alone runs both programs with the default.
const ID: u8 = 90;
/// The `--id` of [`ID`].
const ID_ARG: &str = "90";
/// `msgmax` in `upper-basic` where the grader has an IPC namespace of its own: not 8192.
const RAISED_MSGMAX: usize = 12000;

/// The assignment and its checks, in the spec's order.
pub fn assignment() -> Assignment {
    let secs = Duration::from_secs;
    Assignment {
        name: "msgq",
        title: "Message queues: request and response on SysV queues",
        package: "msgq",
        binaries: &["msgq-server", "msgq-client"],
        tools: vec![Tool {
            name: PEER,
            run: peer::main,
        }],
        checks: vec![
            Check::new(
                "usage-errors",
                2,
                "bad command lines of both programs: exit 2, usage line, nothing created",
                usage_errors,
            )
            .limit(secs(5)),
            Check::new(
                "missing-key-path",
                2,
                "PATH does not exist: exit 1, an ftok message, nothing created",
                missing_key_path,
            )
            .limit(secs(5))
            .lesson("§11"),
            Check::new(
                "sum-basic",
                4,
                "your client and server: `sum` of negatives, zero and extremes, exact stdout",
                sum_basic,
            )
            .limit(secs(10))
            .lesson("§4, §16")
            .on_timeout(SERVE_HINT),
            Check::new(
                "sum-overflow",
                2,
                "an overflowing `sum`: error on stderr, exit 1, the server still serves",
                sum_overflow,
            )
            .limit(secs(10))
            .lesson("§4")
            .on_timeout(SERVE_HINT),
            Check::new(
                "upper-basic",
                3,
                "`upper` with spaces, the empty text, non-ASCII bytes, msgmax − 40 bytes",
                upper_basic,
            )
            .limit(secs(10))
            .lesson("§5")
            .on_timeout(SERVE_HINT),
            Check::new(
                "oversized-text",
                3,
                "a text of msgmax − 39 bytes is refused before sending: exit 1",
                oversized_text,
            )
            .limit(secs(10))
            .lesson("§5"),
            Check::new(
                "server-vs-grader-client",
                6,
                "your server against the grader's client: every op, replies exact to the byte",
                server_vs_grader_client,
            )
            .limit(secs(10))
            .lesson("§4, §5")
            .on_timeout(SERVE_HINT),
            Check::new(
                "client-vs-grader-server",
                6,
                "your client against the grader's server: layout, types, seq, ack, put rounds",
                client_vs_grader_server,
            )
            .limit(secs(15))
            .lesson("§4, §5, §15"),
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
            Check::new(
                "transfer-rounds",
                6,
                "`put` of 0, 1, SEGSIZE, SEGSIZE + 1 and 16 MiB bytes: count and CRC exact",
                transfer_rounds,
            )
            .limit(secs(20))
            .lesson("§15, §21")
            .on_timeout(TRANSFER_HINT),
            Check::new(
                "transfer-peer-dies",
                3,
                "client killed mid-transfer: the server gives up after --timeout, keeps serving",
                transfer_peer_dies,
            )
            .limit(secs(10))
            .lesson("§15"),
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
            Check::new(
                "bulk-throughput",
                3,
                "64 MiB `put` through a 1 MiB segment within 8× the time of `cat` alone",
                bulk_throughput,
            )
            .limit(secs(30))
            .lesson("§8, §15"),
            Check::new(
                "round-trip-latency",
                3,
                "2000 `session` round trips within 4× the grader's own ping-pong",
                round_trip_latency,
            )
            .limit(secs(20))
            .lesson("§4"),
        ],
    }
}

const SERVE_HINT: &str = "a client waits for a reply typed with its own pid: check that the \
server replies with mtype = the request's pid, that msgsz excludes the 8-byte mtype, and that \
the server loops with msgrcv(-2) (specs/msgq.md §3, §5.2).";
const WAIT_HINT: &str = "msgrcv has no timeout: arm setitimer(ITIMER_REAL) with a SIGALRM \
handler installed without SA_RESTART, and give up on EINTR once the deadline has passed \
(specs/msgq.md §6).";
const FULL_HINT: &str = "a server blocked in msgsnd on a queue full of requests waits forever: \
send replies with IPC_NOWAIT and on EAGAIN move a request into the backlog (specs/msgq.md §5.4).";
const TRANSFER_HINT: &str = "each round is: fill the segment, send DATA typed 2^32 + pid, wait \
for the DATA reply; a round of 0 bytes ends the transfer (specs/msgq.md §4.3, §5.5).";

/// A fresh key file in the check's directory.
fn key_file(ctx: &Ctx) -> String {
    let path = ctx.dir().join(crate::leaks::unique_name("key"));
    let _ = std::fs::write(&path, b"");
    path.to_string_lossy().into_owned()
}

fn ms(ctx: &Ctx, ms: u64) -> String {
    ((ms as f64 * ctx.scale()).round() as u64)
        .max(1)
        .to_string()
}

fn start_server(ctx: &Ctx, path: &str) -> Result<Running, Failure> {
    ctx.spawn(ctx.cmd(
        "msgq-server",
        ["--id", ID_ARG, "--timeout", &ms(ctx, SERVER_MS), path],
    ))
}

fn client_args(ctx: &Ctx, path: &str, command: &[&str]) -> Vec<String> {
    client_args_within(ctx, path, CLIENT_MS, command)
}

/// A client's arguments: `--id`, a `--timeout` of `timeout_ms` (scaled), the key file,
/// `command`.
fn client_args_within(ctx: &Ctx, path: &str, timeout_ms: u64, command: &[&str]) -> Vec<String> {
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

fn client(ctx: &Ctx, path: &str, command: &[&str]) -> Result<Finished, Failure> {
    ctx.run(ctx.cmd("msgq-client", client_args(ctx, path, command)))
}

/// Runs your client with `command`, expects exit `code` and exactly `stdout`, and then that
/// the answer crossed the queue ([`crossed`]).
fn answered(
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
fn crossed(path: &str, id: u8, pids: &[i32], run: &Finished) -> Result<(), Failure> {
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

const CROSSED_HINT: &str = "HINT: every answer comes from the server through the queue: the \
client msgsnd's its request and takes the reply typed with its own pid with msgrcv (specs/msgq.md \
§4.2). The grader reads who last received from the queue in the kernel's accounting.";

/// The queue of `path`'s key: (id, messages on it), if it exists.
fn queue_of(path: &str) -> Option<(i32, u64)> {
    queue_of_id(path, ID)
}

/// The queue of `ftok(path, id)`: (id, messages on it), if it exists.
fn queue_of_id(path: &str, id: u8) -> Option<(i32, u64)> {
    let key = ffi::ftok(std::path::Path::new(path), id).ok()?;
    let id = ffi::msgget(key, 0).ok()?;
    let (n, _) = ffi::msg_stat(id).ok()?;
    Some((id, n))
}

/// What a program printed, for a failure: its stdout and stderr, each as a block.
fn printed(who: &str, run: &Finished) -> String {
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
fn until_in_msgrcv(
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
fn wait_served(ctx: &Ctx, mut client: Running, server: &Running) -> Finished {
    crate::procfs::poll_until(ctx.deadline(), || {
        client.has_exited() || server.has_exited()
    });
    if !crate::procfs::poll_for(Duration::from_millis(200), || client.has_exited()) {
        client.signal_group(Signal::SIGKILL);
    }
    ctx.wait(client)
}

/// Polls `cond` until it holds or half the check's limit has passed.
fn wait_for(ctx: &Ctx, cond: impl FnMut() -> bool) -> bool {
    crate::procfs::poll_for(ctx.limit() / 2, cond)
}

/// Whether process `pid` sleeps in `msgrcv` (its `wchan`), or has ended, so that a wait for
/// it stops at once for a program that exits early (a `todo!()`).
fn in_msgrcv(pid: i32) -> bool {
    crate::procfs::gone(pid) || crate::procfs::sleeps_in_wait(pid, "msgrcv")
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

/// Sends `shutdown` with the student's client and expects `ok` and the server's exit 0.
fn stop(ctx: &Ctx, path: &str, server: Running) -> Result<(), Failure> {
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
fn abandon(ctx: &Ctx, mut server: Running, failure: Failure) -> Failure {
    server.signal_group(Signal::SIGKILL);
    let run = ctx.wait(server);
    failure.detail(printed("YOUR SERVER", &run))
}

/// Runs `body` against a running server, then stops it with `shutdown`.
/// Starts the server and waits until its queue exists. A server that exits before that serves
/// nobody: that is said at once, rather than after every client has waited out its timeout.
fn serving(ctx: &Ctx, path: &str) -> Result<Running, Failure> {
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

fn with_server(ctx: &Ctx, body: impl FnOnce(&str) -> Result<(), Failure>) -> Result<(), Failure> {
    let path = key_file(ctx);
    let server = serving(ctx, &path)?;
    match body(&path) {
        Ok(()) => stop(ctx, &path, server),
        Err(f) => Err(abandon(ctx, server, f)),
    }
}

fn usage_errors(ctx: &Ctx) -> Result<(), Failure> {
    let path = key_file(ctx);
    let p = path.as_str();
    let cases: [(&str, Vec<&str>); 9] = [
        ("msgq-server", vec![]),
        ("msgq-server", vec![p, p]),
        ("msgq-server", vec!["--id", "0", p]),
        ("msgq-server", vec!["--timeout", p]),
        ("msgq-client", vec![p]),
        ("msgq-client", vec![p, "sum", "1"]),
        ("msgq-client", vec![p, "sum", "1", "+2"]),
        ("msgq-client", vec![p, "put", "0"]),
        ("msgq-client", vec!["--urgent", p, "frobnicate"]),
    ];
    for (bin, args) in cases {
        let run = ctx.run(ctx.cmd(bin, args))?;
        expect::exit_code(&run, 2)?;
        expect::stderr_starts(&run, &format!("{bin}: usage:"))?;
        expect::stdout_empty(&run)?;
        ensure(queue_of(p).is_none(), || {
            Failure::new("a malformed command line created the queue")
                .detail("HINT: parse the whole command line before ftok and msgget.")
                .command(&run)
        })?;
    }
    Ok(())
}

fn missing_key_path(ctx: &Ctx) -> Result<(), Failure> {
    let missing = ctx
        .dir()
        .join("no-such-file")
        .to_string_lossy()
        .into_owned();
    for (bin, args) in [
        ("msgq-server", vec![missing.as_str()]),
        ("msgq-client", vec![missing.as_str(), "sum", "1", "2"]),
    ] {
        let run = ctx.run(ctx.cmd(bin, args))?;
        expect::exit_code(&run, 1)?;
        expect::stderr_starts(&run, &format!("{bin}: "))?;
        expect::stderr_has(&run, "ftok")?;
        expect::stdout_empty(&run)?;
    }
    Ok(())
}

/// With the default `--id` (1): neither program is given one.
fn sum_basic(ctx: &Ctx) -> Result<(), Failure> {
    let path = key_file(ctx);
    let timeout = |ms_: u64| vec!["--timeout".to_string(), ms(ctx, ms_), path.clone()];
    let server = ctx.spawn(ctx.cmd("msgq-server", timeout(SERVER_MS)))?;
    wait_for(ctx, || {
        queue_of_id(&path, 1).is_some() || server.has_exited()
    });
    if queue_of_id(&path, 1).is_none() {
        let failure = Failure::new(
            "your server, given no --id, made no queue of key ftok(PATH, 1) (the default)",
        );
        return Err(abandon(ctx, server, failure));
    }
    let result = (|| {
        let cases = [
            ("2", "3", "5"),
            ("-17", "4", "-13"),
            ("0", "0", "0"),
            ("-0", "7", "7"),
            ("9223372036854775807", "-9223372036854775808", "-1"),
            ("-9223372036854775808", "0", "-9223372036854775808"),
        ];
        for (a, b, sum) in cases {
            let mut args = timeout(CLIENT_MS);
            args.extend(["sum", a, b].map(String::from));
            let running = ctx.spawn(ctx.cmd("msgq-client", args))?;
            let pid = running.pid();
            let run = ctx.wait(running);
            expect::exit_code(&run, 0)?;
            expect::stdout_is(&run, format!("{sum}\n").as_bytes())?;
            crossed(&path, 1, &[pid], &run)?;
        }
        let mut args = timeout(CLIENT_MS);
        args.push("shutdown".into());
        let run = ctx.run(ctx.cmd("msgq-client", args))?;
        expect::exit_code(&run, 0)?;
        expect::stdout_is(&run, b"ok\n")
    })();
    if let Err(f) = result {
        return Err(abandon(ctx, server, f));
    }
    let server = ctx.wait(server);
    expect::exit_code(&server, 0)?;
    expect::stdout_empty(&server)
}

fn sum_overflow(ctx: &Ctx) -> Result<(), Failure> {
    with_server(ctx, |path| {
        for (a, b) in [("9223372036854775807", "1"), ("-9223372036854775808", "-1")] {
            let run = answered(ctx, path, &["sum", a, b], 1, b"")?;
            expect::stderr_has(&run, "overflow")?;
        }
        answered(ctx, path, &["sum", "1", "1"], 0, b"2\n").map(drop)
    })
}

/// Whether the grader grades in an IPC namespace of its own (it made it with `unshare`, so its
/// parent's is another), where it may change the namespace's limits without touching the
/// machine's.
fn own_ipc_namespace() -> bool {
    let ns = |pid: &str| std::fs::read_link(format!("/proc/{pid}/ns/ipc")).ok();
    let parent = std::os::unix::process::parent_id().to_string();
    matches!((ns("self"), ns(&parent)), (Some(a), Some(b)) if a != b)
}

/// `kernel.msgmax` set for as long as this lives, then restored.
struct Msgmax {
    old: Option<String>,
}

const MSGMAX: &str = "/proc/sys/kernel/msgmax";

impl Msgmax {
    /// Sets `msgmax` to `to` where the grader has an IPC namespace of its own; elsewhere (the
    /// machine's namespace) leaves it as it is.
    fn raise(to: usize) -> Msgmax {
        let old = std::fs::read_to_string(MSGMAX).ok();
        let set = own_ipc_namespace() && std::fs::write(MSGMAX, to.to_string()).is_ok();
        Msgmax {
            old: old.filter(|_| set),
        }
    }
}

impl Drop for Msgmax {
    fn drop(&mut self) {
        if let Some(old) = &self.old {
            let _ = std::fs::write(MSGMAX, old.trim());
        }
    }
}

/// Where the grader has an IPC namespace of its own, `msgmax` is raised to
/// [`RAISED_MSGMAX`] for this check: programs that assume 8192 refuse or truncate the longest
/// text.
fn upper_basic(ctx: &Ctx) -> Result<(), Failure> {
    let raised = Msgmax::raise(RAISED_MSGMAX);
    if raised.old.is_some() {
        ctx.note(format!(
            "msgmax was {RAISED_MSGMAX} (the grader's IPC namespace): the longest text had {} \
             bytes",
            RAISED_MSGMAX - 40
        ));
    }
    let max = peer::msgmax() - 40;
    let long: String = (0..max).map(|i| (b'a' + (i % 26) as u8) as char).collect();
    with_server(ctx, |path| {
        let cases = [
            ("hello, World".to_string(), "HELLO, WORLD".to_string()),
            (String::new(), String::new()),
            ("  a b  ".to_string(), "  A B  ".to_string()),
            ("héllo ß".to_string(), "HéLLO ß".to_string()),
            (long.clone(), long.to_ascii_uppercase()),
        ];
        for (text, want) in cases {
            let hint = |f: Failure| {
                f.detail(format!(
                    "HINT: msgmax is {} here: read it from the system at start-up \
                     (msgctl IPC_INFO or /proc/sys/kernel/msgmax), never assume 8192 \
                     (specs/msgq.md §2.3).",
                    max + 40
                ))
            };
            answered(
                ctx,
                path,
                &["upper", &text],
                0,
                format!("{want}\n").as_bytes(),
            )
            .map_err(hint)?;
        }
        Ok(())
    })
}

fn oversized_text(ctx: &Ctx) -> Result<(), Failure> {
    let text = "x".repeat(peer::msgmax() - 39);
    with_server(ctx, |path| {
        let run = client(ctx, path, &["upper", &text])?;
        expect::exit_code(&run, 1)?;
        expect::stdout_empty(&run)?;
        expect::stderr_starts(&run, "msgq-client: ")?;
        // Refused, not sent: the server must not have seen it; its next answer is ours.
        answered(ctx, path, &["upper", "still here"], 0, b"STILL HERE\n").map(drop)
    })
}

/// Runs the grader's peer in `mode` and expects exit 0; its stdout says what went wrong.
fn peer_run(ctx: &Ctx, mode: &str, path: &str, extra: &[&str]) -> Result<Finished, Failure> {
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

fn peer_ok(run: &Finished, what: &str) -> Result<(), Failure> {
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

fn server_vs_grader_client(ctx: &Ctx) -> Result<(), Failure> {
    let path = key_file(ctx);
    let server = serving(ctx, &path)?;
    let run = peer_run(ctx, "client-suite", &path, &[])?;
    if let Err(f) = peer_ok(&run, "the grader's client") {
        return Err(abandon(ctx, server, f));
    }
    let server = ctx.wait(server);
    expect::exit_code(&server, 0)
}

fn client_vs_grader_server(ctx: &Ctx) -> Result<(), Failure> {
    let path = key_file(ctx);
    let mut server =
        ctx.spawn(ctx.tool(PEER, ["--id", ID_ARG, "server", &path, &ms(ctx, CLIENT_MS)]))?;
    let result = (|| {
        let cases: [(&[&str], &[u8]); 4] = [
            (&["sum", "40", "2"], b"42\n"),
            (&["--urgent", "sum", "-5", "-6"], b"-11\n"),
            (&["upper", "Ab c\u{e9}"], "AB C\u{e9}\n".as_bytes()),
            (&["upper", ""], b"\n"),
        ];
        for (command, want) in cases {
            let (options, command) = if command[0] == "--urgent" {
                (vec!["--urgent"], &command[1..])
            } else {
                (vec![], command)
            };
            let mut args = options.iter().map(|s| s.to_string()).collect::<Vec<_>>();
            args.extend(client_args(ctx, &path, command));
            let running = ctx.spawn(ctx.cmd("msgq-client", args))?;
            let pid = running.pid();
            let run = ctx.wait(running);
            expect::exit_code(&run, 0)?;
            expect::stdout_is(&run, want)?;
            crossed(&path, ID, &[pid], &run)?;
        }
        let len = 3 * 4096 + 17;
        let input = Stream::new(ctx.seed() ^ 0x51, len);
        let running = ctx.spawn(
            ctx.cmd("msgq-client", client_args(ctx, &path, &["put", "4096"]))
                .stdin(Input::Stream(input)),
        )?;
        let pid = running.pid();
        let run = ctx.wait(running);
        expect::exit_code(&run, 0)?;
        expect::stdout_is(&run, format!("{len} {:08x}\n", crc_of(&input)).as_bytes())?;
        crossed(&path, ID, &[pid], &run)?;
        let run = client(ctx, &path, &["shutdown"])?;
        expect::exit_code(&run, 0)?;
        expect::stdout_is(&run, b"ok\n")
    })();
    let stopped = server.has_exited();
    if result.is_err() && !stopped {
        server.signal_group(Signal::SIGKILL);
    }
    let server = ctx.wait(server);
    match result {
        // The grader's server stopped on a message of your client that breaks §3: that is the
        // cause, and what your client then did (gave up waiting) its consequence.
        Err(f) if stopped && server.code() != Some(0) => {
            let cause = peer_ok(&server, "your client's message to the grader's server")
                .err()
                .unwrap_or(f.clone());
            Err(cause.detail(format!(
                "THEN YOUR CLIENT: {}\n{}",
                f.reason,
                f.details.trim_end()
            )))
        }
        // Otherwise your client's mistake is the failure (its exit, its output); what the
        // grader's server saw explains it.
        Err(f) => {
            let log = server.stdout.text();
            let end = if stopped {
                format!("it had stopped: {}", server.end)
            } else {
                "still waiting, ended by the grader".to_string()
            };
            Err(f.detail(format!(
                "THE GRADER'S SERVER SERVED ({end}):\n{}",
                if log.trim().is_empty() {
                    "    (no request)".to_string()
                } else {
                    crate::message::block(&log)
                }
            )))
        }
        Ok(()) => peer_ok(&server, "the grader's server"),
    }
}

fn crc_of(stream: &Stream) -> u32 {
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
fn queue_row(path: &str) -> Option<crate::procfs::IpcRow> {
    queue_row_id(path, ID)
}

/// The row of `/proc/sysvipc/msg` of the queue of `ftok(path, id)`, if it exists.
fn queue_row_id(path: &str, id: u8) -> Option<crate::procfs::IpcRow> {
    let key = ffi::ftok(std::path::Path::new(path), id).ok()?;
    crate::procfs::sysvipc("msg")
        .into_iter()
        .find(|r| r.num("key") == i64::from(key))
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

fn sums_input(n: u64, salt: i64) -> (Vec<u8>, Vec<u8>) {
    let (mut input, mut output) = (Vec::new(), Vec::new());
    for i in 0..n as i64 {
        let (a, b) = (i * 7919 - salt, salt * 3 - i);
        input.extend_from_slice(format!("sum {a} {b}\n").as_bytes());
        output.extend_from_slice(format!("{}\n", a + b).as_bytes());
    }
    (input, output)
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
    let wait = Duration::from_millis(2000).mul_f64(ctx.scale());
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
        let allowed = Duration::from_millis(bound + 500).mul_f64(ctx.scale());
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

fn put(ctx: &Ctx, path: &str, seg: u64, len: u64, salt: u64) -> Result<(), Failure> {
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

fn transfer_rounds(ctx: &Ctx) -> Result<(), Failure> {
    with_server(ctx, |path| {
        let seg = 4096;
        for len in [0, 1, seg, seg + 1, 3 * seg - 1] {
            put(ctx, path, seg, len, 1)?;
        }
        put(ctx, path, 65536, 16 * MIB + 3, 2)
    })
}

fn transfer_peer_dies(ctx: &Ctx) -> Result<(), Failure> {
    with_server(ctx, |path| {
        // A client whose input never ends: it waits in read(2) on its held stdin.
        let mut stuck = ctx.spawn(
            ctx.cmd("msgq-client", client_args(ctx, path, &["put", "4096"]))
                .stdin(Input::Held),
        )?;
        if let Some(pipe) = stuck.stdin() {
            use std::io::Write;
            let _ = pipe.write_all(&[7u8; 5000]);
        }
        let pid = stuck.pid();
        // Once it has sent its first round and waits for "ok", or sits in read, kill it.
        let mid = wait_for(ctx, || {
            std::fs::read_to_string(format!("/proc/{pid}/wchan"))
                .is_ok_and(|w| w.contains("pipe_read") || w.contains("read"))
                || crate::procfs::gone(pid)
        });
        stuck.signal_group(Signal::SIGKILL);
        ctx.wait(stuck);
        ensure(mid, || {
            Failure::new("the client never started reading its input for a transfer")
        })?;
        answered(ctx, path, &["sum", "4", "5"], 0, b"9\n").map(drop)
    })
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
    server.signal_group(Signal::SIGTERM);
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
    server.signal_group(Signal::SIGKILL);
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
    let allowed = Duration::from_millis(bound + 500).mul_f64(ctx.scale());
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

/// Best of three: the wall time of `n` round trips through `server` with `client`, both
/// pinned to CPU 0.
fn best_round_trips(ctx: &Ctx, n: u64, student: bool) -> Result<Duration, Failure> {
    let mut best = Duration::MAX;
    for _ in 0..3 {
        let path = key_file(ctx);
        let server = if student {
            ctx.spawn(
                ctx.cmd(
                    "msgq-server",
                    ["--id", ID_ARG, "--timeout", &ms(ctx, SERVER_MS), &path],
                )
                .on_cpu(0),
            )?
        } else {
            ctx.spawn(
                ctx.tool(PEER, ["--id", ID_ARG, "server", &path, &ms(ctx, CLIENT_MS)])
                    .on_cpu(0),
            )?
        };
        let run = if student {
            let (mut input, mut want) = sums_input(n, 3);
            input.extend_from_slice(b"shutdown\n");
            want.extend_from_slice(b"ok\n");
            let run = ctx.run(
                ctx.cmd("msgq-client", client_args(ctx, &path, &["session"]))
                    .stdin(Input::Bytes(input))
                    .on_cpu(0),
            )?;
            if let Err(f) = expect::exit_code(&run, 0).and_then(|()| expect::stdout_is(&run, &want))
            {
                return Err(abandon(ctx, server, f));
            }
            run
        } else {
            let run = ctx.run(
                ctx.tool(
                    PEER,
                    [
                        "--id",
                        ID_ARG,
                        "ping",
                        &path,
                        &ms(ctx, CLIENT_MS),
                        &n.to_string(),
                    ],
                )
                .on_cpu(0),
            )?;
            peer_ok(&run, "the grader's probe")?;
            run
        };
        let server = ctx.wait(server);
        if student {
            expect::exit_code(&server, 0)?;
        }
        best = best.min(run.wall);
    }
    Ok(best)
}

fn round_trip_latency(ctx: &Ctx) -> Result<(), Failure> {
    server_sleeps_while_idle(ctx)?;
    let n = 2000;
    let probe = best_round_trips(ctx, n, false)?;
    let student = best_round_trips(ctx, n, true)?;
    let ratio = student.as_secs_f64() / probe.as_secs_f64().max(1e-6);
    let allowed = 4.0 * ctx.scale();
    let us = |d: Duration| d.as_secs_f64() * 1e6 / n as f64;
    ensure(ratio <= allowed, || {
        Failure::new(format!(
            "{n} session round trips took {ratio:.1}× as long as the grader's (allowed {allowed:.1}×)"
        ))
        .detail(format!(
            "MEASURED (best of 3, both sides on CPU 0, process start included):\n    yours: {:.1} µs per round trip\n    the grader's: {:.1} µs",
            us(student),
            us(probe)
        ))
        .detail("HINT: block in msgrcv; never poll with IPC_NOWAIT and sleep, and flush each answer at once.")
    })?;
    ctx.note(format!(
        "{n} session round trips took {ratio:.2}× as long as the grader's (allowed {allowed:.1}×)"
    ));
    Ok(())
}

/// `put` of 64 MiB through a 1 MiB segment, against `cat` moving the same bytes through two
/// pipes: best of 3 each, alternated. Zeros in and a count out keep the grader's share of the
/// work negligible; `transfer-rounds` checks the bytes themselves.
fn bulk_throughput(ctx: &Ctx) -> Result<(), Failure> {
    const ROUNDS: usize = 3;
    const BOUND: f64 = 8.0;
    let len = 64 * MIB;
    with_server(ctx, |path| {
        let (mut best_put, mut best_cat) = (Duration::MAX, Duration::MAX);
        for _ in 0..ROUNDS {
            let cat = ctx.run(
                ctx.program("cat", Vec::<String>::new())
                    .stdin(Input::Zeros(len))
                    .stdout(Output::Count),
            )?;
            expect::exit_code(&cat, 0)?;
            best_cat = best_cat.min(cat.wall);
            let running = ctx.spawn(
                ctx.cmd(
                    "msgq-client",
                    client_args(ctx, path, &["put", &MIB.to_string()]),
                )
                .stdin(Input::Zeros(len)),
            )?;
            let pid = running.pid();
            let run = ctx.wait(running);
            expect::exit_code(&run, 0)?;
            crossed(path, ID, &[pid], &run)?;
            ensure(run.stdout.text().starts_with(&format!("{len} ")), || {
                Failure::new(format!(
                    "expected `{len} CRC` on stdout after moving {len} bytes"
                ))
                .detail(format!(
                    "ACTUAL STDOUT:\n    {}",
                    run.stdout.text().trim_end()
                ))
                .command(&run)
            })?;
            best_put = best_put.min(run.wall);
        }
        let ratio = best_put.as_secs_f64() / best_cat.as_secs_f64().max(1e-6);
        let allowed = BOUND * ctx.scale();
        let mibs = |d: Duration| 64.0 / d.as_secs_f64().max(1e-6);
        ensure(ratio <= allowed, || {
            Failure::new(format!(
                "`put` took {ratio:.1}× as long as `cat` moving the same 64 MiB (allowed: {allowed:.1}×)"
            ))
            .detail(format!(
                "MEASURED (best of {ROUNDS}): put {:.0} MiB/s, cat {:.0} MiB/s",
                mibs(best_put),
                mibs(best_cat)
            ))
            .detail("HINT: fill the whole segment before each \"ready\": one round trip on the queue per segment, not per read (lesson §15, §21).")
        })?;
        ctx.note(format!(
            "`put` took {ratio:.2}× as long as `cat` moving the same 64 MiB (allowed {allowed:.1}×)"
        ));
        Ok(())
    })
}

/// A server with no request to serve sleeps in `msgrcv` and does not wake up: over a 300 ms
/// window it may go to sleep a few times (starting up), a server that polls with a 1 ms sleep
/// goes hundreds of times. Counted by the kernel, so a loaded machine does not blur it.
fn server_sleeps_while_idle(ctx: &Ctx) -> Result<(), Failure> {
    const WINDOW: Duration = Duration::from_millis(300);
    const ALLOWED: u64 = 10;
    let path = key_file(ctx);
    let server = start_server(ctx, &path)?;
    let pid = server.pid();
    wait_for(ctx, || {
        queue_of(&path).is_some() || crate::procfs::gone(pid)
    });
    let before = crate::procfs::voluntary_switches(pid);
    std::thread::sleep(WINDOW);
    let after = crate::procfs::voluntary_switches(pid);
    if let (Some(before), Some(after)) = (before, after) {
        let woke = after.saturating_sub(before);
        if woke > ALLOWED {
            let failure = Failure::new(format!(
                "the server went to sleep {woke} times in 0.3 s with no request to serve: it polls"
            ))
            .detail("HINT: block in msgrcv until a request comes; never poll with IPC_NOWAIT and sleep.");
            return Err(abandon(ctx, server, failure));
        }
    }
    stop(ctx, &path, server)
}
