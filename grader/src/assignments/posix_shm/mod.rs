//! The `posix-shm` assignment (`specs/posix-shm.md`): `pshm-send` and `pshm-recv` move a byte
//! stream through a POSIX shared-memory object (or a mapped file) holding a ring of slots and
//! three process-shared semaphores (lesson §6, §9, §12–§15).
//!
//! The checks live beside their bodies, one file per family: `transfer` (streams of every
//! size, in every order, through a name or a file), `mechanism` (the grader's own peer and the
//! kernel's accounting of the object), `cleanup` (the name gone), `peers` (a killed or absent
//! peer), `timing` (no busy wait, throughput), `usage` (malformed command lines), `errors`
//! (existing entries, a second sender, a bad path) and `load` (all of it with every core busy);
//! `common` holds the channel and the transfer they share, `ffi` and `peer` the grader's own
//! side of a channel.

pub mod needs;
mod cleanup;
mod common;
mod errors;
mod ffi;
mod load;
mod mechanism;
mod peer;
mod peers;
mod timing;
mod transfer;
mod usage;

use crate::check::{Assignment, Tool};

const KIB: u64 = 1024;
const MIB: u64 = 1024 * 1024;
/// `--timeout` of both sides unless a check says otherwise.
const T: &str = "2000";

/// The assignment and its checks, in the spec's order.
pub fn assignment() -> Assignment {
    Assignment {
        name: "posix-shm",
        title: "POSIX shared memory and memory-mapped files",
        package: "posix-shm",
        binaries: &["pshm-send", "pshm-recv"],
        tools: vec![Tool {
            name: "posix-shm-peer",
            run: peer::main,
        }],
        checks: [
            transfer::checks(),
            mechanism::checks(),
            cleanup::checks(),
            peers::checks(),
            timing::checks(),
            usage::checks(),
            errors::checks(),
            load::checks(),
        ]
        .into_iter()
        .flatten()
        .collect(),
    }
}
