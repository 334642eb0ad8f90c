//! What posix-shm's checks need of the machine (`grader doctor` checks them, and the grading's
//! private `/dev/shm` is sized from them; see [`crate::needs`]).

use crate::needs::{Need, Needs};

pub fn needs() -> Needs {
    Needs {
        // specs/posix-shm.md, check `throughput`: a 256 MiB input file in `/dev/shm` and an
        // object of the 4096-byte header and a 1 MiB ring (§4).
        dev_shm: Need::new(
            (256 << 20) + 4096 + (1 << 20),
            "posix-shm's `throughput` check",
        ),
        // specs/posix-shm.md §2.1: `--ring` up to 1G, after the 4096-byte header (§4).
        dev_shm_largest: Need::new(4096 + (1 << 30), "posix-shm's largest ring"),
        ..Needs::default()
    }
}
