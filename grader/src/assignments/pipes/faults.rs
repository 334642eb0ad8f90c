//! Short reads and writes and EINTR injected into both programs.

use std::time::Duration;

use crate::check::{Check, Ctx, Failure};
use crate::expect;
use crate::faults::Faults;
use crate::run::{Input, Output, Spec};
use crate::stream::{self, Stream};

use super::MIB;
use super::relay::DEADLOCK_HINT;

/// The checks of this family, in the spec's order.
pub(super) fn checks() -> Vec<Check> {
    let secs = Duration::from_secs;
    vec![
        Check::new(
            "relay-faults",
            2,
            "16 MiB through `relay tr a-z A-Z` with short reads and writes and EINTR injected",
            relay_faults,
        )
        .limit(secs(20))
        .lesson("§4–5")
        .on_timeout(DEADLOCK_HINT),
        Check::new(
            "pipeline-faults",
            1,
            "16 MiB through `pipeline cat | tr a-z A-Z` with EINTR injected into waitpid",
            pipeline_faults,
        )
        .limit(secs(20))
        .lesson("§5"),
    ]
}

const FAULTS_HINT: &str = "a read may return fewer bytes than asked and a write may write \
fewer, and a call that blocks (read, write, waitpid) may fail with EINTR when a signal \
arrives: loop until every byte is moved, and retry on EINTR (lesson §4–5). The grader injected \
these faults on purpose (IPCLAB_FAULTS_* in the environment, libipclab_faults.so preloaded).";

/// Sends 16 MiB through `spec` with faults injected; the output must be the input upper-cased.
fn through_with_faults(ctx: &Ctx, spec: Spec, salt: u64) -> Result<(), Failure> {
    let input = Stream::new(ctx.seed() ^ salt, 16 * MIB);
    let run = ctx.run(
        spec.with_faults(Faults::all(ctx.seed()))
            .stdin(Input::Stream(input))
            .stdout(Output::Compare(input.mapped(stream::upper))),
    )?;
    let hint = |f: Failure| f.detail(format!("HINT: {FAULTS_HINT}"));
    expect::stream_matched(&run).map_err(hint)?;
    expect::exit_code(&run, 0).map_err(hint)
}

fn relay_faults(ctx: &Ctx) -> Result<(), Failure> {
    through_with_faults(ctx, ctx.cmd("relay", ["tr", "a-z", "A-Z"]), 0xfa)
}

fn pipeline_faults(ctx: &Ctx) -> Result<(), Failure> {
    through_with_faults(
        ctx,
        ctx.cmd("pipeline", ["cat", "|", "tr", "a-z", "A-Z"]),
        0xfb,
    )
}
