//! The grader's own failure is never the program's: a check whose grader-side probe fails is
//! `ERROR`, is retried once, costs no points, and says so. The semaphores probe is made to fail
//! through the instructor-only hook `IPCLAB_TEST_FAIL_PROBE` (read by the grader, out of a
//! program's reach).

mod common;

use serial_test::serial;

#[test]
#[serial(grading)]
fn a_failed_grader_probe_is_an_error_that_costs_no_points() {
    let json = tempfile::NamedTempFile::new().unwrap();
    let out = common::grader()
        .env("IPCLAB_TEST_FAIL_PROBE", "semaphores")
        .arg("grade")
        .arg(common::kit().join("solution"))
        .args(["-a", "semaphores", "--only", "pingpong-latency", "--json"])
        .arg(json.path())
        .assert()
        .success()
        .get_output()
        .clone();
    let human = String::from_utf8(out.stdout).unwrap();
    let results: serde_json::Value =
        serde_json::from_slice(&std::fs::read(json.path()).unwrap()).unwrap();
    assert_eq!(
        common::statuses(&results),
        [("pingpong-latency".to_string(), "grader_error".to_string())],
        "{human}"
    );
    assert_eq!(results["score"], results["max_score"], "{human}");
    let row: Vec<&str> = human
        .lines()
        .filter(|l| l.contains(" pingpong-latency ") || l.contains("TOTAL"))
        .collect();
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(r"\(\d+(\.\d)? s\)", "([ELAPSED])");
    settings.bind(|| insta::assert_snapshot!("semaphores-probe-error-row", row.join("\n")));
    assert!(!human.contains("LEAK"), "{human}");
    assert!(
        !human.contains("HINT"),
        "no hint blames the program: {human}"
    );
}
