//! The `msgq` assignment (`specs/msgq.md`): a server and clients on one SysV message queue,
//! with priorities and bulk transfers through a shared-memory segment (lesson §4–5, §15–21).
//! The grader's own client and server of the wire format are the tool `msgq-peer`.

pub mod needs;
mod cleanup;
mod clients;
mod common;
mod errors;
mod ffi;
mod mechanism;
mod peer;
mod requests;
mod robustness;
mod timing;
mod transfer;
mod wire;

use crate::check::{Assignment, Tool};

use common::PEER;

/// The assignment and its checks, in the spec's order.
pub fn assignment() -> Assignment {
    Assignment {
        name: "msgq",
        title: "Message queues: request and response on SysV queues",
        package: "msgq",
        binaries: &["msgq-server", "msgq-client"],
        tools: vec![Tool {
            name: PEER,
            run: peer::main,
        }],
        checks: [
            errors::checks(),
            requests::checks(),
            wire::checks(),
            mechanism::checks(),
            clients::checks(),
            robustness::checks(),
            transfer::checks(),
            cleanup::checks(),
            timing::checks(),
        ]
        .into_iter()
        .flatten()
        .collect(),
    }
}
