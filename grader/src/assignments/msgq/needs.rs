//! What msgq's checks need of the machine (`grader doctor` checks them; see
//! [`crate::needs`]).

use crate::needs::{Need, Needs};

pub fn needs() -> Needs {
    Needs {
        // specs/msgq.md, check `full-queue-no-deadlock`: texts of 8000 bytes after the 40 bytes
        // of header every message text carries (§3); `upper-basic` sends one of `msgmax`.
        message: Need::new(40 + 8000, "msgq's 8000-byte texts"),
        // specs/msgq.md §2.1: one queue per server.
        queues: Need::new(1, "msgq's one queue"),
        // specs/msgq.md, check `transfer-peer-dies` (§2.4): the killed client's segment (until
        // the server detaches) beside the next client's.
        segments: Need::new(2, "msgq's two segments at once"),
        // specs/msgq.md, check `full-queue-no-deadlock`: 13 processes at once (12 clients and
        // the server), and beside each up to 3 threads of the grader (stdin, stdout, stderr):
        // 52, rounded up.
        tasks: Need::new(
            64,
            "msgq's 12 clients and server, with the grader's threads",
        ),
        ..Needs::default()
    }
}
