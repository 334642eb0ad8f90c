//! What a failure says: for a known mistake (a mutant), the failure text names what the
//! student's program did — its output, its stderr, its exit status — and not a consequence
//! seen elsewhere (the grader's own peer's log, a later step's "exit status 3").
//!
//! Each test materialises one mutant where `make validate-grader` does (so a build is shared
//! and incremental), grades it with one check, and reads that check's `output`.

mod common;

use grader::mutants;
use serial_test::serial;

/// The `output` of `check` when grading mutant `name` of `assignment`, and its one-line reason.
fn failure_of(assignment: &str, name: &str, check: &str) -> (String, String) {
    let mutant = mutants::load(assignment)
        .unwrap()
        .into_iter()
        .find(|m| m.name == name)
        .unwrap_or_else(|| panic!("no mutant {name} of {assignment}"));
    let kit = common::kit();
    let dir = kit
        .join("target/ipc-lab/mutants")
        .join(assignment)
        .join(name);
    mutants::materialise(&kit.join("solution"), &dir, &mutant).unwrap();
    let (_, results) = common::grade(&dir, assignment, &[check.to_string()]);
    let test = &results["tests"][0];
    assert_eq!(test["extra_data"]["check"], check);
    assert_ne!(
        test["extra_data"]["status"], "pass",
        "{name} passed {check}"
    );
    let output = test["output"].as_str().unwrap().to_string();
    // The check's description, a blank line, then the reason.
    let reason = output
        .split_once("\n\n")
        .map_or("", |(_, rest)| rest)
        .lines()
        .next()
        .unwrap_or_default()
        .to_string();
    (output, reason)
}

/// The client printed the wrong number: the failure is the client's stdout, and the grader's
/// server's log only explains it (before, the log of the server the grader had killed was the
/// failure).
#[test]
#[serial]
fn client_vs_grader_server_reports_the_clients_output() {
    let (output, reason) = failure_of("msgq", "sum-printed-unsigned", "client-vs-grader-server");
    assert!(
        reason.contains("stdout differs"),
        "reason: {reason}\n{output}"
    );
    assert!(output.contains("18446744073709551605"), "{output}");
    assert!(output.contains("THE GRADER'S SERVER SERVED"), "{output}");
}

/// A client that exits at once instead of waiting in msgrcv: the failure says so, with its
/// exit status and its stderr, rather than what starting the server later made of it.
#[test]
#[serial]
fn a_wait_for_msgrcv_says_the_program_ended_first() {
    let (output, reason) = failure_of("msgq", "client-never-creates", "either-start-order");
    assert!(
        reason.contains("was to queue its request and wait in msgrcv")
            && reason.contains("ended first"),
        "reason: {reason}\n{output}"
    );
    assert!(output.contains("ENDED WITH EXIT STATUS 1"), "{output}");
    assert!(output.contains("msgq-client: msgget"), "{output}");
}

/// A server that dies of EINTR: the failure shows the server's exit status and stderr.
#[test]
#[serial]
fn a_failure_shows_the_servers_stderr_and_exit_status() {
    let (output, _) = failure_of("msgq", "eintr-fatal", "signal-in-msgrcv");
    assert!(
        output.contains("YOUR SERVER ENDED WITH EXIT STATUS 1"),
        "{output}"
    );
    assert!(output.contains("msgq-server: "), "{output}");
}

/// A server whose queue has another key: `killed-server` blames the server's key, not the
/// client for removing a queue it did not create.
#[test]
#[serial]
fn killed_server_blames_a_server_under_another_key() {
    let (output, reason) = failure_of("msgq", "server-ignores-id", "killed-server");
    assert!(
        reason.contains("no queue has the key ftok(PATH, 90)"),
        "reason: {reason}\n{output}"
    );
    assert!(!output.contains("the client removed"), "{output}");
    assert!(output.contains("YOUR SERVER WAS STILL RUNNING"), "{output}");
}

/// A pipeline whose parent keeps each pipe's write end: the reader waits for an end-of-file
/// that never comes, and the grader ends the run once nothing can move (not at the limit),
/// saying so and showing what each process waited for.
#[test]
#[serial]
fn a_deadlocked_pipeline_is_stopped_as_stuck() {
    let (output, reason) = failure_of("pipes", "write-end-open", "eof-reaches-reader");
    assert!(
        reason.starts_with("stuck: nothing could move after"),
        "reason: {reason}\n{output}"
    );
    assert!(
        output.contains("STUCK (what each process was doing"),
        "{output}"
    );
    assert!(output.contains("sleeping in read"), "{output}");
    assert!(output.contains("HINT: "), "{output}");
}
