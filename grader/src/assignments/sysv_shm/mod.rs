//! The `sysv-shm` assignment (`specs/sysv-shm.md`): `svshm-demo` leaves a string in a
//! persistent segment, `svshm-counter` adds under a process-shared mutex in the segment, and
//! `svshm-producer` / `svshm-consumer` move a stream through a ring in rounds (lesson §6,
//! §10–14, §18–21).

pub mod needs;
mod common;
mod counter;
mod demo;
mod errors;
mod mechanism;
mod peers;
mod shm;
mod timing;
mod transfer;

use crate::check::Assignment;

/// The assignment and its checks, in the spec's order.
pub fn assignment() -> Assignment {
    Assignment {
        name: "sysv-shm",
        title: "SysV shared memory with a process-shared mutex and condition variables",
        package: "sysv-shm",
        binaries: &[
            "svshm-demo",
            "svshm-counter",
            "svshm-producer",
            "svshm-consumer",
        ],
        tools: vec![],
        checks: [
            demo::checks(),
            counter::checks(),
            transfer::checks(),
            mechanism::checks(),
            timing::checks(),
            peers::checks(),
            errors::checks(),
        ]
        .into_iter()
        .flatten()
        .collect(),
    }
}
