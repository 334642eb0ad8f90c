//! The `posix-shm` assignment (`specs/posix-shm.md`).

use crate::check::Assignment;

/// The assignment and its checks, in the spec's order.
pub fn assignment() -> Assignment {
    Assignment {
        name: "posix-shm",
        title: "POSIX shared memory and memory-mapped files",
        package: "posix-shm",
        binaries: &["pshm-send", "pshm-recv"],
        checks: vec![],
        tools: vec![],
    }
}
