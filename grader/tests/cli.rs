//! The command line: bad input gets a clear message and a non-zero exit, and leaves nothing.

mod common;

use predicates::prelude::*;

#[test]
fn an_unknown_assignment_is_refused_with_the_list() {
    common::grader()
        .args(["grade", "solution", "-a", "sockets"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("unknown assignment `sockets`"))
        .stderr(predicate::str::contains("pipes"));
}

#[test]
fn a_missing_implementation_folder_is_refused() {
    common::grader()
        .args(["grade", "/nonexistent/ipclab-submission"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "cannot read the implementation folder",
        ));
}

#[test]
fn a_bad_time_scale_is_refused() {
    common::grader()
        .args(["grade", "solution", "--time-scale", "0"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "--time-scale must be a positive number",
        ));
}

#[test]
fn list_names_every_check_with_its_points() {
    common::grader()
        .arg("list")
        .assert()
        .success()
        .stdout(predicate::str::contains("pipes — Pipes"))
        .stdout(predicate::str::contains("eof-reaches-reader"));
}

#[test]
fn the_committed_starter_is_what_the_solution_generates() {
    common::grader()
        .args(["starter", "--check"])
        .assert()
        .success();
}
