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

/// An empty folder is no implementation: one message naming what is missing, exit 2.
#[test]
fn a_folder_without_cargo_toml_or_makefile_is_refused_once() {
    let empty = tempfile::tempdir().unwrap();
    let out = common::grader()
        .arg("grade")
        .arg(empty.path())
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "has no Cargo.toml and no Makefile: it is not an implementation folder",
        ))
        .get_output()
        .clone();
    assert!(out.stdout.is_empty());
}

/// The entries of `dir`.
fn entries(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// SIGINT in the middle of grading: the checks done so far and the rest "not run:
/// interrupted", exit 130, and the grading's temporary folders gone (the grader's TMPDIR is a
/// folder of the test's own, so that gradings running beside it do not count).
#[test]
#[serial_test::serial(grading)]
fn sigint_mid_grading_prints_the_partial_report_and_cleans_up() {
    use std::io::BufRead;
    use std::os::unix::fs::PermissionsExt;
    let _ = common::grader(); // the grader and the fault-injection library are built
    let tmp = tempfile::tempdir().unwrap();
    // The programs' user must reach the grading's folders there, as in /tmp.
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o1777)).unwrap();
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("grader"))
        .current_dir(common::kit())
        .env("TMPDIR", tmp.path())
        .args(["grade", "solution", "-a", "pipes"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut said = String::new();
    let mut lines = stderr.lines();
    for line in lines.by_ref() {
        let line = line.unwrap();
        said.push_str(&line);
        said.push('\n');
        if line.contains("building pipes") {
            break;
        }
    }
    assert!(said.contains("done in"), "{said}");
    // A few checks in: they take more than a second together.
    std::thread::sleep(std::time::Duration::from_millis(2000));
    assert!(
        !entries(tmp.path()).is_empty(),
        "the grading's folders are in TMPDIR"
    );
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let rest: Vec<String> = lines.map(|l| l.unwrap()).collect();
    let out = child.wait_with_output().unwrap();
    let human = String::from_utf8(out.stdout).unwrap();
    let said = format!("{said}{}", rest.join("\n"));
    assert_eq!(out.status.code(), Some(130), "{human}\n{said}");
    assert!(human.starts_with("IPC Lab grader"), "{human}");
    // Each row is a check that ran (the solution passes them) or one left out.
    let rows: Vec<&str> = human
        .lines()
        .filter(|l| l.starts_with("  ") && !l.starts_with("   ") && !l.contains("TOTAL"))
        .collect();
    assert!(
        rows.iter()
            .all(|r| r.starts_with("  PASS ") || r.contains("NOT RUN")),
        "{human}"
    );
    assert!(
        human.contains("NOT RUN") && human.contains("not run: interrupted"),
        "{human}"
    );
    assert!(human.contains("  TOTAL "), "{human}");
    assert!(said.contains("interrupted by signal 2 (SIGINT)"), "{said}");
    assert_eq!(entries(tmp.path()), Vec::<String>::new(), "left in TMPDIR");
}

/// On a terminal (here `script`'s pseudo-terminal) the rows come as the checks finish, in
/// colour, and the build's progress is said; `NO_COLOR` turns the colours off. The text is the
/// report's, plus where to start.
#[test]
#[serial_test::serial(grading)]
fn on_a_terminal_rows_are_coloured_and_the_build_is_timed() {
    let grader = assert_cmd::cargo::cargo_bin("grader");
    let _ = common::grader(); // the grader and the fault-injection library are built
    let line = format!(
        "{} grade starter -a pipes --only usage-errors --only exit-status",
        grader.display()
    );
    let run = |no_colour: bool| {
        let mut cmd = std::process::Command::new("script");
        cmd.current_dir(common::kit())
            .args(["-qec", &line, "/dev/null"])
            .env_remove("NO_COLOR");
        if no_colour {
            cmd.env("NO_COLOR", "1");
        }
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).unwrap().replace("\r\n", "\n")
    };
    let coloured = run(false);
    assert!(
        coloured.contains("grader: building pipes … done in "),
        "{coloured}"
    );
    assert!(
        coloured.contains("  \x1b[33mTODO\x1b[0m       0/2  usage-errors"),
        "{coloured}"
    );
    assert!(
        coloured.contains("Start here: pipes / usage-errors (TODO) — read specs/pipes.md §2.1"),
        "{coloured}"
    );
    let plain = run(true);
    assert!(!plain.contains('\x1b'), "{plain}");
    assert!(plain.contains("  TODO       0/2  usage-errors"), "{plain}");
}

/// `make grade` takes several assignments and checks, separated by spaces or commas.
#[test]
fn make_grade_takes_lists_of_assignments_and_checks() {
    for makefile in ["Makefile", "release/student/Makefile"] {
        let out = std::process::Command::new("make")
            .current_dir(common::kit())
            .args([
                "-n",
                "-f",
                makefile,
                "grade",
                "A=pipes,msgq",
                "ONLY=eof usage",
            ])
            .output()
            .unwrap();
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(
            text.contains("grade starter -a pipes -a msgq --only eof --only usage "),
            "{makefile}: {text}"
        );
    }
}
