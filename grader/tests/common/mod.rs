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
