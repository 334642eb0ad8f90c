//! The `semaphores` assignment (`specs/semaphores.md`).

use crate::check::Assignment;

/// The assignment and its checks, in the spec's order.
pub fn assignment() -> Assignment {
    Assignment {
        name: "semaphores",
        title: "Semaphores: handing off control between processes",
        package: "semaphores",
        binaries: &["sem-pingpong", "sem-ring", "sem-mutex"],
        checks: vec![],
        tools: vec![],
    }
}
