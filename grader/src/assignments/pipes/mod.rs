//! The `pipes` assignment (`specs/pipes.md`): `pipeline` runs commands connected by pipes,
//! `relay` feeds a filter through one pipe and reads it back through another (lesson §4–5).
//!
//! The checks live beside their bodies, one file per family: `usage` (malformed command
//! lines), `status` (exit statuses), `transfer` (streams through `pipeline`), `stages` (how the
//! stages are wired, what they inherit, that they are reaped), `relay` (what `relay` passes
//! on), `faults` (short transfers and EINTR injected), `mechanism` (relay's own pipes) and
//! `timing` (throughput). The hidden checks are in `hidden.rs`.

pub mod needs;
mod faults;
#[cfg(feature = "instructor")]
mod hidden;
mod mechanism;
mod relay;
mod stages;
mod status;
mod timing;
mod transfer;
mod usage;

use crate::check::{Assignment, Check};

const MIB: u64 = 1024 * 1024;
/// A command that no `PATH` holds.
const MISSING: &str = "ipclab-no-such-command";

/// The assignment and its checks, in the spec's order.
pub fn assignment() -> Assignment {
    Assignment {
        name: "pipes",
        title: "Pipes: a byte stream from one process to another",
        package: "pipes",
        binaries: &["pipeline", "relay"],
        tools: vec![],
        checks: checks(),
    }
}

/// The visible checks in the spec's order, then (in the instructors' grader only) the hidden
/// ones.
fn checks() -> Vec<Check> {
    #[allow(unused_mut)]
    let mut checks: Vec<Check> = [
            usage::checks(),
            status::checks(),
            transfer::checks(),
            stages::checks(),
            relay::checks(),
            faults::checks(),
            mechanism::checks(),
            timing::checks(),
        ]
        .into_iter()
        .flatten()
        .collect();
    #[cfg(feature = "instructor")]
    checks.extend(hidden::checks());
    checks
}

/// Splits a `pipeline` command line written with `|` words into arguments.
fn words(line: &[&str]) -> Vec<String> {
    line.iter().map(|w| w.to_string()).collect()
}
