//! The assignments. Each is a module of its own — its checks in `mod.rs`, its mutants in
//! `mutants.toml` — and is listed once here. The grader's core knows nothing about any of them.

use crate::check::Assignment;

pub mod msgq;
pub mod pipes;
pub mod posix_shm;
pub mod seg_pool;
pub mod semaphores;
pub mod sysv_shm;

/// Every assignment, in the order they are graded and reported.
pub fn all() -> Vec<Assignment> {
    let mut all = vec![
        pipes::assignment(),
        msgq::assignment(),
        sysv_shm::assignment(),
        posix_shm::assignment(),
        semaphores::assignment(),
        seg_pool::assignment(),
    ];
    crate::hidden::extend(&mut all);
    all
}

/// The names of every assignment.
pub fn names() -> Vec<&'static str> {
    all().iter().map(|a| a.name).collect()
}

/// Runs the helper tool `name` of whichever assignment declares it (`grader tool NAME ARGS…`),
/// or `None` if no assignment does.
pub fn run_tool(name: &str, args: &[String]) -> Option<std::process::ExitCode> {
    all()
        .into_iter()
        .flat_map(|a| a.tools)
        .find(|t| t.name == name)
        .map(|t| (t.run)(args))
}
