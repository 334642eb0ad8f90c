//! Shared by the kit's integration tests: paths, and running the grader on a folder.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;

/// The kit's root folder.
pub fn kit() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The grader binary under test, with the fault-injection library built beside it (a
/// `cargo test -p grader` does not build the `faults` crate).
pub fn grader() -> Command {
    static FAULTS: std::sync::Once = std::sync::Once::new();
    FAULTS.call_once(|| {
        let built = std::process::Command::new(env!("CARGO"))
            .args(["build", "--release", "--quiet", "-p", "faults"])
            .current_dir(kit())
            .status()
            .is_ok_and(|s| s.success());
        assert!(built, "cannot build the faults crate");
    });
    let mut cmd = Command::cargo_bin("grader").unwrap();
    cmd.current_dir(kit());
    cmd
}

/// The folder of mutant `name` of `assignment`, made where `make validate-grader` makes it (so
/// that its build is shared and incremental).
pub fn mutant(assignment: &str, name: &str) -> PathBuf {
    let mutant = grader::mutants::load(assignment)
        .unwrap()
        .into_iter()
        .find(|m| m.name == name)
        .unwrap_or_else(|| panic!("no mutant {name} of {assignment}"));
    let dir = kit()
        .join("target/ipc-lab/mutants")
        .join(assignment)
        .join(name);
    grader::mutants::materialise(&kit().join("solution"), &dir, &mutant).unwrap();
    dir
}

/// Grades `implementation` (only `assignment`, only `checks` if not empty) and returns the
/// human report and the results.json.
pub fn grade(implementation: &Path, assignment: &str, checks: &[String]) -> (String, Value) {
    let json = tempfile::NamedTempFile::new().unwrap();
    let mut cmd = grader();
    cmd.arg("grade")
        .arg(implementation)
        .args(["-a", assignment, "--json"])
        .arg(json.path());
    for check in checks {
        cmd.args(["--only", check]);
    }
    let out = cmd.assert().success().get_output().clone();
    let human = String::from_utf8(out.stdout).unwrap();
    let results: Value = serde_json::from_slice(&std::fs::read(json.path()).unwrap()).unwrap();
    (human, results)
}

/// The `extra_data.status` of every test of a results.json, by check name.
pub fn statuses(results: &Value) -> Vec<(String, String)> {
    results["tests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["extra_data"]["check"].as_str().unwrap().to_string(),
                t["extra_data"]["status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Every file under `root` (but `target/`) with its contents, to prove grading wrote nothing.
pub fn tree_digest(root: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut files: Vec<(PathBuf, Vec<u8>)> = walkdir::WalkDir::new(root)
        .into_iter()
        .filter_entry(|e| e.file_name() != "target")
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_file())
        .map(|e| (e.path().to_path_buf(), std::fs::read(e.path()).unwrap()))
        .collect();
    files.sort();
    files
}

/// The assignments a test covers: every assignment the grader declares, in its order, or only
/// those named in `IPCLAB_ASSIGNMENTS` (spaces or commas, as Gradescope's `run_autograder`
/// takes them), to run a test for one assignment. A test loops over these instead of naming
/// each, so that a new assignment needs no test edit.
pub fn assignments() -> Vec<&'static str> {
    let all = grader::assignments::names();
    let Ok(wanted) = std::env::var("IPCLAB_ASSIGNMENTS") else {
        return all;
    };
    let wanted: Vec<&str> = wanted.split([' ', ',']).filter(|w| !w.is_empty()).collect();
    for w in &wanted {
        assert!(
            all.contains(w),
            "IPCLAB_ASSIGNMENTS names `{w}`, which is no assignment"
        );
    }
    all.into_iter().filter(|a| wanted.contains(a)).collect()
}

/// Runs `test` for every assignment of [`assignments`], all of them even when one fails, and
/// fails naming each assignment that failed with its own message.
pub fn for_each_assignment(test: impl Fn(&str)) {
    let mut failed = Vec::new();
    for assignment in assignments() {
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| test(assignment)));
        if let Err(panic) = outcome {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            failed.push(format!("{assignment}: {message}"));
        }
    }
    assert!(
        failed.is_empty(),
        "{} assignment(s) failed:\n\n{}",
        failed.len(),
        failed.join("\n\n")
    );
}
