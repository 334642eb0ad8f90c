//! Hidden checks: graded by instructors, never shipped to students.
//!
//! An assignment's hidden checks live in `assignments/NAME/hidden.rs` (their mutants in
//! `assignments/NAME/hidden.toml`), are compiled only with the grader's `instructor` feature —
//! on by default in the kit, off in the student release, which also leaves those files out —
//! and are added after the assignment's own checks with [`crate::check::Visibility::Hidden`].
//! The handouts do not list them.

use crate::check::Assignment;

#[cfg(feature = "instructor")]
#[path = "assignments/pipes/hidden.rs"]
mod pipes;

/// Adds each assignment's hidden checks (none without the `instructor` feature).
pub fn extend(all: &mut [Assignment]) {
    #[cfg(feature = "instructor")]
    for a in all.iter_mut() {
        if a.name == "pipes" {
            a.checks.extend(pipes::checks());
        }
    }
    #[cfg(not(feature = "instructor"))]
    let _ = all;
}
