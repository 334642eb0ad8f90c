//! Transfers and a killed peer with a CPU-bound process on every core.

use std::time::Duration;

use nix::sys::signal::Signal;

use crate::check::{Check, Ctx, Failure};

use super::common::*;
use super::peers::kill_one;
use super::{KIB, MIB, T};

/// The checks of this family, in the spec's order.
pub(super) fn checks() -> Vec<Check> {
    let secs = Duration::from_secs;
    vec![
        Check::new(
            "under-load",
            5,
            "transfers and a killed peer with a CPU-bound process on every core",
            under_load,
        )
        .limit(secs(20))
        .lesson("§13")
        .on_timeout(WAIT_HINT),
    ]
}

fn under_load(ctx: &Ctx) -> Result<(), Failure> {
    let cpus = nix::sched::CpuSet::count().min(
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
    );
    let mut hogs = Vec::new();
    for cpu in 0..cpus {
        hogs.push(ctx.spawn(ctx.program("sh", ["-c", "while :; do :; done"]).on_cpu(cpu))?);
    }
    let result = (|| {
        for ring in [4 * KIB, MIB] {
            let r = ring_word(ring);
            for len in [0, ring + 1, 3 * ring + 7] {
                transfer(
                    ctx,
                    &Chan::shm(),
                    &["--timeout", T, "--ring", &r],
                    len,
                    Order::ReceiverFirst,
                )?;
            }
        }
        kill_one(ctx, true, 500)
    })();
    for mut hog in hogs {
        hog.signal_group(Signal::SIGKILL);
        ctx.wait(hog);
    }
    result
}
