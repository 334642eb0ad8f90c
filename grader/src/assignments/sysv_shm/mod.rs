//! The `sysv-shm` assignment (`specs/sysv-shm.md`).

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
        checks: vec![],
        tools: vec![],
    }
}
