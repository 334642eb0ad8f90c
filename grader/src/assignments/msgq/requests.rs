//! `msgq` checks: the requests one at a time, your client against your server: `sum`, its
//! overflow, `upper` up to msgmax − 40 bytes, and a text too long to send.

use std::time::Duration;

use super::common::*;
use super::peer;
use crate::check::{Check, Ctx, Failure};
use crate::expect;

/// This family's checks, in the spec's order.
pub(super) fn checks() -> Vec<Check> {
    let secs = Duration::from_secs;
    vec![
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
    ]
}

/// `msgmax` in `upper-basic` where the grader has an IPC namespace of its own: not 8192.
const RAISED_MSGMAX: usize = 12000;

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
