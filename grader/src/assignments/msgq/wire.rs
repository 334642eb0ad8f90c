//! `msgq` checks: your programs against the grader's own peers (`msgq-peer`): the wire format
//! to the byte, from either side.

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
    ]
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
            Err(cause
                .detail(format!(
                    "THEN YOUR CLIENT: {}\n{}",
                    f.reason,
                    f.details.trim_end()
                ))
                .commands(&f.failed))
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
