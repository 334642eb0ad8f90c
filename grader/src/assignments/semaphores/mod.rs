//! The `semaphores` assignment (`specs/semaphores.md`): `sem-pingpong` hands a turn back and
//! forth through two POSIX named semaphores, `sem-ring` passes a token round K processes through
//! one SysV set, `sem-mutex` guards a counter in a SysV segment with a binary semaphore and
//! `SEM_UNDO` (lesson §10–§15, §18).
//!
//! Every participant is a process of its own, started by the check; the processes of one run
//! share one output file. Timing bounds are ratios against the grader's own ping-pong
//! ([`probe`]), run on the same CPU in the same check; "no busy waiting" is CPU time over
//! wall time while a process waits for a peer that has not started yet.

pub mod needs;
mod common;
mod errors;
mod mutex;
mod pingpong;
mod probe;
mod ring;
mod waiting;

use crate::check::{Assignment, Tool};

/// The assignment and its checks, in the spec's order.
pub fn assignment() -> Assignment {
    Assignment {
        name: "semaphores",
        title: "Semaphores: handing off control between processes",
        package: "semaphores",
        binaries: &["sem-pingpong", "sem-ring", "sem-mutex"],
        tools: vec![Tool {
            name: "semaphores-probe",
            run: probe::main,
        }],
        checks: [
            pingpong::checks(),
            ring::checks(),
            mutex::checks(),
            errors::checks(),
            waiting::checks(),
        ]
        .into_iter()
        .flatten()
        .collect(),
    }
}
