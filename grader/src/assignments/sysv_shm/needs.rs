//! What sysv-shm's checks need of the machine (`grader doctor` checks them; see
//! [`crate::needs`]).

use crate::needs::{Need, Needs};

pub fn needs() -> Needs {
    Needs {
        // specs/sysv-shm.md, check `transfer-throughput`: a ring of D = 16 MiB after the
        // 4096-byte header (§5.1).
        segment: Need::new(4096 + (16 << 20), "sysv-shm's 16 MiB ring and its header"),
        // specs/sysv-shm.md §5.1: one segment, shared by the producer and the consumer.
        segments: Need::new(1, "sysv-shm's one segment"),
        ..Needs::default()
    }
}
