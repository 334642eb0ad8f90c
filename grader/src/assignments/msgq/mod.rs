//! The `msgq` assignment (`specs/msgq.md`).

use crate::check::Assignment;

/// The assignment and its checks, in the spec's order.
pub fn assignment() -> Assignment {
    Assignment {
        name: "msgq",
        title: "Message queues: request and response on SysV queues",
        package: "msgq",
        binaries: &["msgq-server", "msgq-client"],
        checks: vec![],
        tools: vec![],
    }
}
