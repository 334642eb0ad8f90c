//! `msgq` checks: bulk transfers through a shared-memory segment: exact counts and CRCs, and a
//! client that dies mid-transfer.

use std::time::Duration;

use nix::sys::signal::Signal;

use super::common::*;
use crate::check::ensure;
use crate::check::{Check, Ctx, Failure};
use crate::run::Input;

/// This family's checks, in the spec's order.
pub(super) fn checks() -> Vec<Check> {
    let secs = Duration::from_secs;
    vec![
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
    ]
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
        ctx.signal(&mut stuck, Signal::SIGKILL);
        ctx.wait(stuck);
        ensure(mid, || {
            Failure::new("the client never started reading its input for a transfer")
        })?;
        answered(ctx, path, &["sum", "4", "5"], 0, b"9\n").map(drop)
    })
}
