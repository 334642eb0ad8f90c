//! The assignments. Each is a module of its own — its checks in `mod.rs`, its mutants in
//! `mutants.toml` — and is listed once here. The grader's core knows nothing about any of them.

use crate::check::Assignment;

pub mod pipes;

/// Every assignment, in the order they are graded and reported.
pub fn all() -> Vec<Assignment> {
    vec![pipes::assignment()]
}

/// The names of every assignment.
pub fn names() -> Vec<&'static str> {
    all().iter().map(|a| a.name).collect()
}
