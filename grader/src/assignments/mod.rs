//! The assignments. Each is a module of its own — its checks in `mod.rs`, its mutants in
//! `mutants.toml` — and is named once here, in the `assignments!` line. The grader's core
//! knows nothing about any of them.

use crate::check::Assignment;
use crate::needs::Needs;

/// Declares each assignment's module and lists it in [`all`], in the order they are graded
/// and reported: a new assignment is one more name here.
macro_rules! assignments {
    ($($module:ident),* $(,)?) => {
        $(pub mod $module;)*

        /// Every assignment, in the order they are graded and reported.
        pub fn all() -> Vec<Assignment> {
            vec![$($module::assignment()),*]
        }

        /// What the checks of assignment `name` need of the machine (its folder's
        /// `needs.rs`): read by `grader doctor` and by the isolation that sizes `/dev/shm`;
        /// nothing for a name of none.
        pub fn needs(name: &str) -> Needs {
            $(if $module::assignment().name == name {
                return $module::needs::needs();
            })*
            Needs::default()
        }
    };
}

assignments!(pipes, msgq, sysv_shm, posix_shm, semaphores, seg_pool);

/// The largest needs of every assignment of the kit: what `grader doctor` checks the machine
/// against and the isolation sizes the private `/dev/shm` for.
pub fn needs_of_all() -> Needs {
    Needs::most(all().iter().map(|a| needs(a.name)))
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Every prerequisite (`Check::after`) names a check of the same assignment declared
    /// before the check that names it: prerequisites run first.
    #[test]
    fn every_prerequisite_is_an_earlier_check_of_its_assignment() {
        let problems: Vec<String> = all()
            .iter()
            .flat_map(|a| a.prerequisite_problems())
            .collect();
        assert!(problems.is_empty(), "{}", problems.join("\n"));
        let declared: usize = all()
            .iter()
            .flat_map(|a| a.checks.iter().map(|c| c.after.len()))
            .sum();
        assert!(declared > 0, "no check declares a prerequisite");
    }

    /// A prerequisite declared later, or not at all, is a problem `grader grade` refuses.
    #[test]
    fn a_prerequisite_declared_later_or_unknown_is_refused() {
        use crate::check::Check;
        let a = Assignment {
            name: "x",
            title: "",
            package: "",
            binaries: &[],
            checks: vec![
                Check::new("one", 1, "", |_| Ok(())).after("two"),
                Check::new("two", 1, "", |_| Ok(())).after("nine"),
            ],
            tools: vec![],
        };
        assert_eq!(
            a.prerequisite_problems(),
            [
                "x: `one` needs `two`, which is declared after it (a prerequisite runs first: \
                 declare it earlier)",
                "x: `two` needs `nine`, which is no check of x",
            ]
        );
    }

    #[test]
    fn every_assignment_of_the_kit_declares_what_the_doctor_checks() {
        let all = needs_of_all();
        for need in [
            all.message,
            all.queues,
            all.segment,
            all.segments,
            all.sems_per_set,
            all.sets,
            all.dev_shm,
            all.dev_shm_largest,
            all.tasks,
        ] {
            assert!(need.amount > 0 && !need.why.is_empty(), "{need:?}");
        }
    }
}
