//! The student release: `make student-release DEST=dir` writes the repository students receive
//! (starter, grader without hidden checks, mutants or the kit's tests, specs, the student
//! Makefile, README and workflow; no solution), and `make grade A=pipes` there grades the
//! starter: no points, every check "not implemented"; `make classroom`, the workflow's grading
//! step, hands GitHub Classroom the same.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use serial_test::serial;

/// A Cargo target folder shared by the tests that build a copy of the kit, so that they
/// rebuild the grader but not its dependencies.
pub fn shared_target() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("release-target")
}

#[test]
#[serial(grading)]
fn the_student_release_grades_the_starter_with_no_hidden_checks() {
    let tmp = tempfile::tempdir().unwrap();
    let dest = tmp.path().join("ipc-lab");
    let made = Command::new("make")
        .arg("student-release")
        .arg(format!("DEST={}", dest.display()))
        .current_dir(common::kit())
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );

    for path in [
        "starter/Cargo.toml",
        "starter/pipes/src/pipeline.rs",
        "specs/pipes.md",
        "grader/Cargo.toml",
        "Makefile",
        "README.md",
        ".gitignore",
        ".github/workflows/grade.yml",
    ] {
        assert!(dest.join(path).is_file(), "the release has no {path}");
    }
    for path in ["solution", "grader/tests", "grader/src/mutants.rs"] {
        assert!(!dest.join(path).exists(), "the release ships {path}");
    }
    for entry in walkdir::WalkDir::new(&dest)
        .into_iter()
        .filter_map(|e| e.ok())
    {
        let path = entry.path().strip_prefix(&dest).unwrap();
        let name = entry.file_name().to_string_lossy();
        let hidden = path.starts_with("grader/src/assignments") && name.starts_with("hidden.");
        assert!(
            !(hidden || name == "mutants.toml" || name.ends_with(".snap")),
            "the release ships {}",
            path.display()
        );
    }
    let pipeline = std::fs::read_to_string(dest.join("starter/pipes/src/pipeline.rs")).unwrap();
    assert!(!pipeline.contains("BEGIN SOLUTION"));

    let graded = Command::new("make")
        .args(["grade", "A=pipes", "JSON=results.json"])
        .current_dir(&dest)
        .env("CARGO_TARGET_DIR", shared_target())
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&graded.stdout).into_owned();
    assert!(
        graded.status.success(),
        "{report}\n{}",
        String::from_utf8_lossy(&graded.stderr)
    );
    let results: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dest.join("results.json")).unwrap()).unwrap();
    assert_eq!(results["score"], 0, "{report}");
    let visible: u32 = grader::assignments::all()
        .iter()
        .filter(|a| a.name == "pipes")
        .flat_map(|a| a.checks.iter())
        .filter(|c| c.visibility != grader::check::Visibility::Hidden)
        .map(|c| c.points)
        .sum();
    assert_eq!(results["max_score"], visible, "{report}");
    for (check, status) in common::statuses(&results) {
        assert_eq!(status, "not_implemented", "{check}: {report}");
    }
    assert!(!report.contains("[hidden]"), "{report}");

    // What the student workflow's grading step runs: the points for GitHub Classroom go,
    // base64-encoded, to the step's `result` output.
    let github_output = tmp.path().join("github-output");
    let classroom = Command::new("make")
        .args(["classroom", "A=pipes"])
        .current_dir(&dest)
        .env("CARGO_TARGET_DIR", shared_target())
        .env("GITHUB_OUTPUT", &github_output)
        .output()
        .unwrap();
    assert!(
        classroom.status.success(),
        "{}",
        String::from_utf8_lossy(&classroom.stderr)
    );
    let output = std::fs::read_to_string(&github_output).unwrap();
    let encoded = output
        .trim()
        .strip_prefix("result=")
        .expect("a result output");
    let decoded = Command::new("base64")
        .arg("-d")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(encoded.as_bytes())?;
            child.wait_with_output()
        })
        .unwrap();
    let runner: serde_json::Value = serde_json::from_slice(&decoded.stdout).unwrap();
    assert_eq!(runner["max_score"], visible, "{runner}");
    assert_eq!(runner["status"], "fail", "{runner}");
    // Each check's test code is a command that grades it alone.
    for test in runner["tests"].as_array().unwrap() {
        let code = test["test_code"].as_str().unwrap();
        let check = code.strip_prefix("make grade A=pipes ONLY=");
        assert!(
            check.is_some_and(|c| !c.contains(' ')),
            "not a command: {code}"
        );
    }
    assert!(dest.join("results.json").is_file());

    let listed = Command::new(shared_target().join("release/grader"))
        .arg("list")
        .output()
        .unwrap();
    let listed = String::from_utf8_lossy(&listed.stdout);
    assert!(listed.contains("relay-throughput"), "{listed}");
    assert!(!listed.contains("[hidden]"), "{listed}");
}
