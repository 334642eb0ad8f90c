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

/// Runs the grader without `CAP_SYS_ADMIN`, as a container that forbids new namespaces would
/// (root keeps the right to change users).
fn grader_without_namespaces() -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::new("setpriv");
    cmd.current_dir(common::kit())
        .args(["--bounding-set=-sys_admin", "--"])
        .arg(assert_cmd::cargo::cargo_bin("grader"));
    cmd
}

#[test]
fn strict_isolation_refuses_to_grade_without_namespaces() {
    let _ = common::grader(); // the grader is built
    grader_without_namespaces()
        .args(["grade", "solution", "-a", "pipes", "--isolation", "strict"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "--isolation strict: full isolation is not available",
        ));
}

#[test]
#[serial_test::serial(grading)]
fn auto_isolation_falls_back_to_snapshots_and_says_so() {
    let _ = common::grader(); // the grader and the fault-injection library are built
    let out = grader_without_namespaces()
        .args([
            "grade",
            "solution",
            "-a",
            "pipes",
            "--only",
            "eof-reaches-reader",
        ])
        .assert()
        .success()
        .get_output()
        .clone();
    let human = String::from_utf8(out.stdout).unwrap();
    let header = human.lines().next().unwrap_or_default();
    assert!(
        header.contains(
            "isolation: snapshot (the machine's IPC namespace, diffed per check; process groups; \
             programs run as uid "
        ) && runs_as_a_grading_user(header),
        "{human}"
    );
    assert!(human.contains("PASS"), "{human}");
}

#[test]
#[serial_test::serial(grading)]
fn the_default_isolation_is_full_as_root() {
    if !nix::unistd::geteuid().is_root() {
        return; // without root the grader has no PID namespaces: nothing to check here
    }
    let (human, _) = common::grade(
        &common::kit().join("solution"),
        "pipes",
        &["eof-reaches-reader".to_string()],
    );
    let header = human.lines().next().unwrap_or_default();
    assert!(
        header.contains(
            "isolation: full (private IPC and mount namespaces and /dev/shm, a PID namespace \
             per check; programs run as uid "
        ) && runs_as_a_grading_user(header)
            && header.contains("; build: sandboxed (own mount, PID and network namespaces"),
        "{human}"
    );
}

/// Whether the report header names a grading's own user as the programs' user.
fn runs_as_a_grading_user(header: &str) -> bool {
    header
        .split("programs run as uid ")
        .nth(1)
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|uid| uid.parse::<u32>().ok())
        .is_some_and(grader::users::is_grading_uid)
}
