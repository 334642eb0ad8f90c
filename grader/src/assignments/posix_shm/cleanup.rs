//! The name is gone while the data moves and after every successful run.

use std::time::Duration;

use crate::check::{Check, Ctx, Failure};
use crate::expect;
use crate::run::{Input, Output};
use crate::stream::Stream;

use super::common::*;
use super::{MIB, T};

/// The checks of this family, in the spec's order.
pub(super) fn checks() -> Vec<Check> {
    let secs = Duration::from_secs;
    vec![
        Check::new(
            "no-leak-success",
            4,
            "the name is gone while the data moves, and after every successful run",
            no_leak_success,
        )
        .limit(secs(20))
        .lesson("§10, §12"),
    ]
}

fn no_leak_success(ctx: &Ctx) -> Result<(), Failure> {
    // The name must be gone while a long transfer is still running: watch it mid-way.
    for (chan, extra) in [
        (Chan::shm(), ["--timeout", T, "--ring", "4K"]),
        (Chan::file(ctx), ["--timeout", T, "--ring", "4K"]),
    ] {
        let len = 8 * MIB;
        let stream = Stream::new(ctx.seed() ^ 0x1eaf, len);
        let args = chan.args(&extra);
        let r = ctx.spawn(
            ctx.cmd("pshm-recv", args.clone())
                .stdout(Output::Compare(stream)),
        )?;
        poll_until(ctx.limit() / 4, &[&r], || chan.exists());
        let s = ctx.spawn(ctx.cmd("pshm-send", args).stdin(Input::Stream(stream)))?;
        let gone = poll_until(ctx.limit() / 4, &[&r, &s], || !chan.exists());
        let still_running = !r.has_exited() && !s.has_exited();
        let (received, sent) = (ctx.wait(r), ctx.wait(s));
        if !(gone && still_running) {
            return Err(Failure::new(format!(
                "{} was still there while the data moved (it must go as soon as both sides \
                 have it mapped)",
                chan.entry.display()
            ))
            .command(&received).command(&sent)
            .detail(
                "HINT: the joiner removes the name right after joining, before any data moves \
                 (§5.2 step 5): from then on nothing is left if either side dies.",
            ));
        }
        expect::exit_code(&sent, 0)?;
        expect::exit_code(&received, 0)?;
        expect::stream_matched(&received)?;
    }
    // And after short runs in either order, shm and file.
    for order in [Order::ReceiverFirst, Order::SenderFirst] {
        transfer(ctx, &Chan::shm(), &["--timeout", T], 1000, order)?;
        transfer(ctx, &Chan::file(ctx), &["--timeout", T], 1000, order)?;
    }
    Ok(())
}
