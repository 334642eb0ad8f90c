//! What seg-pool's checks need of the machine (`grader doctor` checks them; see
//! [`crate::needs`]).

use crate::needs::{Need, Needs};

pub fn needs() -> Needs {
    Needs {
        // specs/seg-pool.md §2.3: every message is a type and 8 bytes of text.
        message: Need::new(8, "seg-pool's 8-byte messages"),
        // specs/seg-pool.md §3: one queue, the pool's free list and the clients' messages.
        queues: Need::new(1, "seg-pool's one queue"),
        // specs/seg-pool.md, check `transfer-large`: segments of 64 KiB.
        segment: Need::new(64 << 10, "seg-pool's 64 KiB segments"),
        // specs/seg-pool.md, check `pool-at-start`: a pool of 5 segments.
        segments: Need::new(5, "seg-pool's pool of 5 segments"),
        ..Needs::default()
    }
}
