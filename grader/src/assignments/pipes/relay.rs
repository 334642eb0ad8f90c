//! `relay`: the filter's output, its status, end of input passed on, no deadlock.

use std::time::Duration;

use crate::check::{Check, Ctx, Failure};
use crate::expect;
use crate::run::{Input, Output};
use crate::stream::{self, Stream};

use super::{MIB, MISSING};

/// The checks of this family, in the spec's order.
pub(super) fn checks() -> Vec<Check> {
    let secs = Duration::from_secs;
    vec![
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
    ]
}

const RELAY_EOF_HINT: &str = "when relay's input ends, close the write end of the filter's \
input pipe: a filter such as `wc` writes nothing until it reads end-of-file.";
pub(super) const DEADLOCK_HINT: &str = "a pipe holds 64 KiB: if relay writes everything \
before reading, the filter blocks writing its output while relay blocks writing its input. \
Wait for whichever pipe is ready (poll(2)) and move what can move.";

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
    let hint = epipe_hint("`relay head -c 5` with 4 MiB of input: head exits after 5 bytes");
    expect::exit_code(&run, 0).map_err(hint)?;
    expect::stdout_is(&run, &[0u8; 5]).map_err(hint)?;
    // The same, certain to happen before the output ends: the filter closes its input, pauses
    // (relay finds its output pipe empty and polls, with a write pending), and only then
    // writes more than a pipe holds. `head -c 5` alone may exit between relay's poll and its
    // read, and relay's reading of the output go on to its end without another poll.
    let closes_then_writes =
        format!("head -c 5; exec 0<&-; sleep 0.2; yes done | head -n {CLOSED_LINES}");
    let run = ctx.run(
        ctx.cmd("relay", ["sh", "-c", &closes_then_writes])
            .stdin(Input::Zeros(4 * MIB)),
    )?;
    let hint = epipe_hint(
        "the filter reads 5 bytes, closes its input, then writes 1 MiB: relay's writes to it \
         fail with EPIPE while its output goes on",
    );
    expect::exit_code(&run, 0).map_err(hint)?;
    // More than the grader keeps of an output: its length and its first bytes are compared.
    let mut expected = vec![0u8; 5];
    expected.extend(b"done\n".repeat(CLOSED_LINES));
    let out = &run.stdout;
    if out.total != expected.len() as u64 || !expected.starts_with(&out.bytes) {
        let what = if expected.starts_with(&out.bytes) {
            "the right bytes"
        } else {
            "other bytes"
        };
        return Err(hint(
            Failure::new(format!(
                "relay wrote {} bytes, starting with {what}; the filter wrote {}: 5 zero \
                 bytes, then `done` lines",
                out.total,
                expected.len()
            ))
            .command(&run),
        ));
    }
    Ok(())
}

/// Lines (`done\n`) the filter of `relay-basic`'s last case writes after closing its input:
/// 1 MiB, more than a pipe holds.
const CLOSED_LINES: usize = (1 << 20) / 5;

/// The hint of a failure in relay-basic's EPIPE cases, after what `case` says happened.
fn epipe_hint(case: &'static str) -> impl Fn(Failure) -> Failure + Copy {
    move |f: Failure| {
        f.detail(format!(
            "HINT: {case}. That EPIPE is no error: close the filter's input, leave the rest \
             of stdin unread, and go on relaying the filter's output until it ends \
             (specs/pipes.md §3.2)."
        ))
    }
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
