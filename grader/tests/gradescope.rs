//! The Gradescope package: `make gradescope` builds the autograder zip; unpacked into a folder
//! laid out as Gradescope lays out `/autograder` (its root moved by AUTOGRADER_ROOT), its
//! `setup.sh` builds the kit's grader and `run_autograder` grades the reference and the starter
//! (`pipes` only, to keep it short) into `results/results.json`, with the hidden checks. A
//! changed file that students must not change is reported in the results' top-level output.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use serial_test::serial;

/// The Cargo target folder the release test shares (see tests/release.rs).
fn shared_target() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("release-target")
}

fn ok(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{cmd:?} failed:\n{text}");
    text
}

/// Runs `run_autograder` on `submission` and returns results.json and the log.
fn autograde(root: &Path, submission: &Path) -> (serde_json::Value, String) {
    let _ = std::fs::remove_dir_all(root.join("submission"));
    let _ = std::fs::remove_dir_all(root.join("results"));
    ok(Command::new("cp")
        .arg("-a")
        .arg(submission)
        .arg(root.join("submission")));
    let log = ok(Command::new(root.join("run_autograder"))
        .env("AUTOGRADER_ROOT", root)
        .env("IPCLAB_ASSIGNMENTS", "pipes")
        // The other engineers' tests share this machine: this test is about the package, not
        // the timing bounds, so loosen them.
        .env("IPCLAB_TIME_SCALE", "3"));
    let results = std::fs::read(root.join("results/results.json")).unwrap();
    (serde_json::from_slice(&results).unwrap(), log)
}

#[test]
#[serial(grading)]
fn the_autograder_grades_reference_and_starter_and_reports_changed_files() {
    let kit = common::kit();
    ok(Command::new("make").arg("gradescope").current_dir(&kit));
    let zip = kit.join("target/gradescope/autograder.zip");

    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("autograder");
    std::fs::create_dir_all(root.join("source")).unwrap();
    ok(Command::new("unzip")
        .arg("-q")
        .arg(&zip)
        .arg("-d")
        .arg(root.join("source")));
    std::fs::copy(
        root.join("source/run_autograder"),
        root.join("run_autograder"),
    )
    .unwrap();
    ok(Command::new("bash")
        .arg("setup.sh")
        .current_dir(root.join("source"))
        .env("AUTOGRADER_ROOT", &root)
        .env("CARGO_TARGET_DIR", shared_target()));
    assert!(root.join("source/bin/grader").is_file());
    // The mutants are not shipped, and nothing of the source is open to other users.
    let shipped: Vec<PathBuf> = walkdir::WalkDir::new(root.join("source"))
        .into_iter()
        .flatten()
        .map(|e| e.path().to_path_buf())
        .collect();
    for path in &shipped {
        let name = path.file_name().unwrap().to_string_lossy();
        assert!(
            name != "mutants.toml" && name != "hidden.toml",
            "{} is shipped",
            path.display()
        );
    }
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(root.join("source"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(
        mode & 0o077,
        0,
        "the source folder is open to others: {mode:o}"
    );

    // The reference, submitted as the starter folder alone: full marks, hidden checks included.
    let (results, log) = autograde(&root, &kit.join("solution"));
    assert_eq!(results["score"], results["max_score"], "{log}");
    let hidden: Vec<&serde_json::Value> = results["tests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["visibility"] == "hidden")
        .collect();
    assert!(!hidden.is_empty(), "no hidden check was graded\n{log}");
    assert!(
        !results["output"]
            .as_str()
            .unwrap()
            .contains("Changed files"),
        "{log}"
    );

    // The starter, submitted as a whole student repository in which the grader and the
    // Makefile were changed: no points, every check not implemented, the changes reported.
    let repo = tmp.path().join("repo");
    ok(Command::new(kit.join("release/student-release.sh")).arg(&repo));
    std::fs::write(repo.join("Makefile"), "grade:\n\techo 100/100\n").unwrap();
    let report_rs = repo.join("grader/src/report/mod.rs");
    let mut text = std::fs::read_to_string(&report_rs).unwrap();
    text.push_str("// full marks, please\n");
    std::fs::write(&report_rs, text).unwrap();
    let (results, log) = autograde(&root, &repo);
    assert_eq!(results["score"], 0, "{log}");
    for (check, status) in common::statuses(&results) {
        assert_eq!(status, "not_implemented", "{check}\n{log}");
    }
    let output = results["output"].as_str().unwrap();
    assert!(output.contains("Changed files"), "{output}");
    assert!(output.contains("Makefile"), "{output}");
    assert!(output.contains("grader/src/report/mod.rs"), "{output}");
    assert!(!output.contains("specs/"), "{output}");
}
