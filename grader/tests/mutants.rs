//! Every check can fail: each mutant (a known-bad solution) is built and graded, and the checks
//! it names must not pass it. Every check is named by some mutant.

mod common;

use std::collections::BTreeSet;

use grader::{assignments, mutants};
use rstest::rstest;
use serial_test::serial;

#[rstest]
#[case::pipes("pipes")]
#[case::msgq("msgq")]
#[case::sysv_shm("sysv-shm")]
#[case::posix_shm("posix-shm")]
#[case::semaphores("semaphores")]
fn every_check_is_failed_by_some_mutant(#[case] assignment: &str) {
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

#[rstest]
#[case::pipes("pipes")]
#[case::msgq("msgq")]
#[case::sysv_shm("sysv-shm")]
#[case::posix_shm("posix-shm")]
#[case::semaphores("semaphores")]
#[serial(grading)]
fn each_mutant_fails_the_checks_it_names(#[case] assignment: &str) {
    let root = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("mutants");
    let mut wrong = Vec::new();
    for mutant in mutants::load(assignment).unwrap() {
        let dir = root.join(assignment).join(&mutant.name);
        mutants::materialise(&common::kit().join("solution"), &dir, &mutant).unwrap();
        let (human, results) = common::grade(&dir, assignment, &mutant.fails);
        for (check, status) in common::statuses(&results) {
            if !mutant.fails.contains(&check) {
                continue;
            }
            if status == "pass" || status == "leak" {
                wrong.push(format!("{}: `{check}` passed it\n{human}", mutant.name));
            }
            if status == "not_implemented" || status == "build_failed" || status == "grader_error" {
                wrong.push(format!("{}: `{check}` says {status}\n{human}", mutant.name));
            }
        }
        // A run killed at its limit is reported within the limit plus two seconds.
        for test in results["tests"].as_array().unwrap() {
            let extra = &test["extra_data"];
            if extra["status"] == "timeout" {
                let (elapsed, limit) = (
                    extra["elapsed_s"].as_f64().unwrap(),
                    extra["limit_s"].as_f64().unwrap(),
                );
                if elapsed > limit + 2.0 {
                    wrong.push(format!(
                        "{}: timed out after {elapsed} s, limit {limit} s",
                        mutant.name
                    ));
                }
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
