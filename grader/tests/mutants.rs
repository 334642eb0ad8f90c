//! Every check can fail: each mutant (a known-bad solution) names the checks that must not pass
//! it, and every check is named by some mutant. That the named checks do fail their mutants is
//! shown by `make validate-grader` (part of `make test`), which grades every mutant.

mod common;

use std::collections::BTreeSet;

use grader::{assignments, mutants};
/// Every assignment the grader declares (`IPCLAB_ASSIGNMENTS=NAME` for one).
#[test]
fn every_check_is_failed_by_some_mutant() {
    common::for_each_assignment(each_check_is_failed_by_some_mutant);
}

fn each_check_is_failed_by_some_mutant(assignment: &str) {
    let all = assignments::all();
    let a = all.iter().find(|a| a.name == assignment).unwrap();
    let named: BTreeSet<String> = mutants::load(assignment)
        .unwrap()
        .into_iter()
        .flat_map(|m| m.fails)
        .collect();
    for check in &a.checks {
        assert!(
            named.contains(check.name),
            "no mutant of {assignment} fails the check `{}`",
            check.name
        );
    }
    for name in &named {
        assert!(
            a.checks.iter().any(|c| c.name == name),
            "a mutant of {assignment} names `{name}`, which is no check"
        );
    }
}
