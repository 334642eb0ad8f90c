//! A check whose prerequisite did not pass is skipped, and says which one to fix first; with
//! `--no-skip` it runs. Graded on a real mistake: the `stray-newline` mutant of `pipes` fails
//! `stream-one-byte`, which `stream-256mib` names as its prerequisite.

mod common;

use serde_json::Value;
use serial_test::serial;

/// The mutant's folder, made where `make validate-grader` makes it (its build is shared).
fn stray_newline() -> std::path::PathBuf {
    common::mutant("pipes", "stray-newline")
}

/// Grades the two checks of the mutant, with `extra` arguments: the report and results.json.
fn grade(extra: &[&str]) -> (String, Value) {
    let json = tempfile::NamedTempFile::new().unwrap();
    let out = common::grader()
        .arg("grade")
        .arg(stray_newline())
        .args([
            "-a",
            "pipes",
            "--only",
            "stream-one-byte",
            "--only",
            "stream-256mib",
        ])
        .arg("--json")
        .arg(json.path())
        .args(extra)
        .assert()
        .success()
        .get_output()
        .clone();
    let human = String::from_utf8(out.stdout).unwrap();
    let results = serde_json::from_slice(&std::fs::read(json.path()).unwrap()).unwrap();
    (human, results)
}

#[test]
#[serial(grading)]
fn a_check_whose_prerequisite_failed_is_skipped_and_runs_with_no_skip() {
    let (human, results) = grade(&[]);
    assert_eq!(
        common::statuses(&results),
        [
            ("stream-one-byte".to_string(), "fail".to_string()),
            ("stream-256mib".to_string(), "skipped".to_string()),
        ],
        "{human}"
    );
    let row = human
        .lines()
        .find(|l| l.contains("stream-256mib"))
        .unwrap_or_else(|| panic!("no row of stream-256mib:\n{human}"));
    assert!(
        row.starts_with("  SKIPPED    0/3  stream-256mib")
            && row.contains("not run: needs `stream-one-byte`, which did not pass; fix that first"),
        "{row}"
    );
    assert!(
        human.contains("make grade A=pipes ONLY=stream-256mib"),
        "{human}"
    );
    let test = &results["tests"][1];
    assert_eq!(
        (test["status"].as_str(), test["score"].as_u64()),
        (Some("failed"), Some(0))
    );

    // Run anyway: it fails of itself, at its first step (the one byte of `stream-one-byte`).
    let (human, results) = grade(&["--no-skip"]);
    assert_eq!(
        common::statuses(&results),
        [
            ("stream-one-byte".to_string(), "fail".to_string()),
            ("stream-256mib".to_string(), "fail".to_string()),
        ],
        "{human}"
    );
    assert!(!human.contains("SKIPPED"), "{human}");
}
