//! The assignments. Each is a module of its own — its checks in `mod.rs`, its mutants in
//! `mutants.toml` — and is listed once here. The grader's core knows nothing about any of them.

use crate::check::Assignment;
use crate::needs::Needs;

pub mod msgq;
pub mod pipes;
pub mod posix_shm;
pub mod semaphores;
pub mod sysv_shm;

// Each assignment's needs (`NAME/needs.rs`), declared here so that its `mod.rs` need not name
// them: see [`needs`].
#[path = "msgq/needs.rs"]
mod msgq_needs;
#[path = "pipes/needs.rs"]
mod pipes_needs;
#[path = "posix_shm/needs.rs"]
mod posix_shm_needs;
#[path = "semaphores/needs.rs"]
mod semaphores_needs;
#[path = "sysv_shm/needs.rs"]
mod sysv_shm_needs;

/// Every assignment, in the order they are graded and reported.
pub fn all() -> Vec<Assignment> {
    let mut all = vec![
        pipes::assignment(),
        msgq::assignment(),
        sysv_shm::assignment(),
        posix_shm::assignment(),
        semaphores::assignment(),
    ];
    crate::hidden::extend(&mut all);
    all
}

/// What the checks of assignment `name` need of the machine (its folder's `needs.rs`): read
/// by `grader doctor` and by the isolation that sizes `/dev/shm`; nothing for a name of none.
pub fn needs(name: &str) -> Needs {
    match name {
        "pipes" => pipes_needs::needs(),
        "msgq" => msgq_needs::needs(),
        "sysv-shm" => sysv_shm_needs::needs(),
        "posix-shm" => posix_shm_needs::needs(),
        "semaphores" => semaphores_needs::needs(),
        _ => Needs::default(),
    }
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
