//! Hostile and broken submissions (`tests/fixtures/hostile/`): each is graded on one check and
//! must end in a clear verdict, within the check's limit plus a margin, and leave the machine
//! as clean as it was: no process, no IPC object, no `/dev/shm` entry, no temporary file.
//!
//! Every fixture is graded with `--isolation strict` (the default's full isolation, required:
//! as root, IPC, mount and PID namespaces and the `nobody` user); those that make sense without
//! it are graded with `--isolation none` too, where process groups and the grader as child
//! subreaper end what the programs leave. Not there: the fork bomb (root ignores
//! `RLIMIT_NPROC`, so only the PID namespace and the unprivileged user bound it), the IPC and
//! `/dev/shm` floods (they would land in the machine's namespace, among other programs'
//! objects), and writes outside the folder (root may write anywhere).
//!
//! The sweep after a check has fixtures of its own, graded on one check or two (the second
//! sees what the first left): a process whose main thread exited while another thread lives
//! on (it reads as a zombie) and its child, a child in a session of its own holding the
//! program's pipes, `/dev/shm` entries whose names are not UTF-8 or hold escape sequences and
//! folders there, files in `/run/lock` and in world-writable folders nested in `/tmp`; and
//! no escape sequence a program chose reaches the report raw.
//!
//! A grader killed by SIGKILL in the middle of a check leaves no program running either: in
//! full isolation its PID namespace dies with it (a fork bomb's thousands of processes too);
//! in `none` the programs it started die with it (their parent-death signal).

mod common;

use std::collections::BTreeSet;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rstest::rstest;
use serde_json::Value;
use serial_test::serial;

/// How long after its limit a check's verdict may come.
const MARGIN_S: f64 = 4.0;

#[rstest]
#[case::fork_bomb("fork-bomb", &["timeout"], false)]
#[case::infinite_loop("infinite-loop", &["timeout"], true)]
#[case::deadlock("deadlock", &["timeout"], true)]
#[case::segfault("segfault", &["crash"], true)]
#[case::abort("abort", &["crash"], true)]
#[case::flood("flood", &["fail", "timeout"], true)]
#[case::daemon("daemon", &["fail"], true)]
#[case::ipc_flood("ipc-flood", &["fail_leak"], false)]
#[case::shm_fill("shm-fill", &["fail_leak", "timeout"], false)]
#[case::write_outside("write-outside", &["fail"], false)]
#[case::holds_output("holds-output", &["fail"], true)]
#[serial(grading)]
fn a_hostile_submission_gets_a_verdict_and_leaves_nothing(
    #[case] fixture: &str,
    #[case] verdicts: &[&str],
    #[case] without_isolation: bool,
) {
    for &mode in modes(without_isolation) {
        let human = graded_clean(fixture, mode, &["eof-reaches-reader"], verdicts);
        if fixture == "write-outside" {
            // Only the shared temporary folders are open to it, and the grader cleans them.
            let written: Vec<&str> = human.lines().filter(|l| l.ends_with(": written")).collect();
            assert!(
                human.contains("WRITTEN OUTSIDE ITS FOLDER")
                    && written.iter().all(|l| l.trim().starts_with("/tmp/")),
                "{human}"
            );
        }
    }
}

/// A submission's build runs code the submission brings (build scripts, a Makefile) and
/// configuration it brings (`.cargo/`, `rust-toolchain.toml`): none of it may reach the
/// machine. Each fixture's `pipeline` prints a word that shows its build ran, then
/// `ESCAPED: …` for each attack that succeeded; a port on the loopback is watched for the
/// build script's connection. Graded in both modes: the build sandbox does not depend on
/// the isolation of the checks.
#[rstest]
#[case::build_script("build-script", "BUILD-SCRIPT-RAN")]
#[case::steers_the_build("steers-the-build", "STEERING-IGNORED")]
#[case::make_escape("make-escape", "MAKE-RAN")]
#[serial(grading)]
fn a_hostile_build_reaches_nothing_of_the_machine(#[case] fixture: &str, #[case] ran: &str) {
    for mode in ["strict", "none"] {
        let listener = std::net::TcpListener::bind("127.0.0.1:47474").ok();
        if let Some(l) = &listener {
            l.set_nonblocking(true).unwrap();
        }
        let before = Machine::now();
        let (human, _) = grade(fixture, mode, &["eof-reaches-reader"]);
        assert!(
            human.contains(ran),
            "{fixture} ({mode}): its build did not run\n{human}"
        );
        assert!(
            !human.contains("ESCAPED"),
            "{fixture} ({mode}): the build reached the machine\n{human}"
        );
        if let Some(l) = &listener {
            assert!(
                l.accept().is_err(),
                "{fixture} ({mode}): the build connected to the machine's loopback"
            );
        }
        let left = Machine::now().added_since(&before);
        assert!(
            left.is_empty(),
            "{fixture} ({mode}) left: {left:#?}\n{human}"
        );
    }
}

/// In full isolation a program's `/proc` shows only its check's processes: not the machine's,
/// not another grading's (whose pipes it could otherwise write into through `/proc/PID/fd`).
#[test]
#[serial(grading)]
fn a_program_sees_only_the_processes_of_its_check() {
    let (human, _) = grade("sees-processes", "strict", &["eof-reaches-reader"]);
    assert!(human.contains("LOOKED"), "{human}");
    assert!(!human.contains("ESCAPED"), "{human}");
}

/// On a machine where the build sandbox cannot be made, a grader run as root still builds as
/// the grading's own user, and says in the report's first line that the build was not
/// sandboxed; `strict` refuses to build there (an `ERROR`, not the student's failure).
#[test]
#[serial(grading)]
fn without_the_build_sandbox_root_builds_as_the_gradings_user_and_says_so() {
    if !nix::unistd::geteuid().is_root() {
        return;
    }
    let solution = common::kit().join("solution");
    let only = ["-a", "pipes", "--only", "eof-reaches-reader"];
    let out = common::grader()
        .env(grader::build::NO_SANDBOX_VAR, "1")
        .arg("grade")
        .arg(&solution)
        .args(only)
        .assert()
        .success()
        .get_output()
        .clone();
    let human = String::from_utf8_lossy(&out.stdout);
    let header = human.lines().next().unwrap_or_default();
    // As the grading's user where that user reaches the toolchain; else (a toolchain under
    // root's own home folder) as root, and the header says that too.
    let who = if toolchain_open_to_all() {
        "the build ran as uid 21"
    } else {
        "the build ran as the grader's user, uid 0"
    };
    assert!(
        header.contains(&format!(
            "build: NOT sandboxed (turned off by IPCLAB_NO_BUILD_SANDBOX): {who}"
        )),
        "{human}"
    );
    assert!(
        human.contains("PASS       2/2  eof-reaches-reader"),
        "{human}"
    );
    let json = tempfile::NamedTempFile::new().unwrap();
    let out = common::grader()
        .env(grader::build::NO_SANDBOX_VAR, "1")
        .arg("grade")
        .arg(&solution)
        .args(only)
        .args(["--isolation", "strict", "--json"])
        .arg(json.path())
        .assert()
        .success()
        .get_output()
        .clone();
    let human = String::from_utf8_lossy(&out.stdout);
    let results: Value = serde_json::from_slice(&std::fs::read(json.path()).unwrap()).unwrap();
    assert_eq!(
        common::statuses(&results),
        vec![("eof-reaches-reader".to_string(), "grader_error".to_string())],
        "{human}"
    );
}

/// Whether every folder above the toolchain's sysroot lets any user pass.
fn toolchain_open_to_all() -> bool {
    use std::os::unix::fs::PermissionsExt;
    let out = std::process::Command::new("rustc")
        .args(["--print", "sysroot"])
        .current_dir(common::kit())
        .output()
        .unwrap();
    let sysroot = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    sysroot
        .ancestors()
        .all(|dir| std::fs::metadata(dir).is_ok_and(|m| m.permissions().mode() & 0o001 != 0))
}

/// A program cannot change what the checks run: the binaries it is graded with, the grader's
/// copy that runs the checks' helpers, the fault library. As root the folder is root's and the
/// programs run as the grading's user (`strict`); without root the programs run as the
/// grader's own user, and the folder is a read-only mount of the grader's mount namespace.
/// (`--isolation none` as root runs the programs as root, as documented: not tested here.)
#[test]
#[serial(grading)]
fn a_program_cannot_change_the_programs_the_checks_run() {
    let (human, _) = grade("overwrites-programs", "strict", &["eof-reaches-reader"]);
    assert!(human.contains("OVERWRITE-TRIED"), "{human}");
    assert!(!human.contains("ESCAPED"), "{human}");
    if !nix::unistd::geteuid().is_root() {
        return;
    }
    // The same grading by a user without root: a copy of the grader and its library, a kit
    // folder with the starter's lockfile, a work folder and the submission, all its own.
    use std::os::unix::fs::PermissionsExt;
    const USER: u32 = 4242;
    let _ = common::grader(); // builds the fault-injection library
    let tmp = tempfile::tempdir().unwrap();
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let (bin, kit, work) = (
        tmp.path().join("bin"),
        tmp.path().join("kit"),
        tmp.path().join("work"),
    );
    for dir in [&bin, &kit.join("starter"), &work] {
        std::fs::create_dir_all(dir).unwrap();
    }
    let grader_exe = assert_cmd::cargo::cargo_bin("grader");
    std::fs::copy(&grader_exe, bin.join("grader")).unwrap();
    let library = grader_exe.with_file_name("libipclab_faults.so");
    std::fs::copy(&library, bin.join("libipclab_faults.so")).unwrap();
    std::fs::copy(
        common::kit().join("starter/Cargo.lock"),
        kit.join("starter/Cargo.lock"),
    )
    .unwrap();
    let sub = tmp.path().join("sub");
    std::fs::create_dir_all(&sub).unwrap();
    let fixture = common::kit().join("grader/tests/fixtures/hostile/overwrites-programs");
    std::fs::copy(fixture.join("Makefile"), sub.join("Makefile")).unwrap();
    for entry in walkdir::WalkDir::new(tmp.path()) {
        let entry = entry.unwrap();
        std::os::unix::fs::lchown(entry.path(), Some(USER), Some(USER)).unwrap();
    }
    let out = std::process::Command::new("setpriv")
        .args([
            &format!("--reuid={USER}"),
            &format!("--regid={USER}"),
            "--clear-groups",
            "--",
        ])
        .arg(bin.join("grader"))
        .args(["grade"])
        .arg(&sub)
        .args(["-a", "pipes", "--only", "eof-reaches-reader", "--verbose"])
        .arg("--work-dir")
        .arg(&work)
        .current_dir(&kit)
        .output()
        .unwrap();
    let human = String::from_utf8_lossy(&out.stdout);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{human}\n{err}");
    assert!(human.contains("OVERWRITE-TRIED"), "{human}\n{err}");
    assert!(!human.contains("ESCAPED"), "{human}");
}

/// A submission over the size limits is not copied, let alone built: a 1 GiB file (sparse, so
/// that making it costs nothing) gets every check a "did not build" naming the file and the
/// limit, at once.
#[test]
#[serial(grading)]
fn a_submission_over_the_size_limits_is_refused_before_its_copy() {
    let tmp = tempfile::tempdir().unwrap();
    let sub = tmp.path().join("big");
    std::fs::create_dir_all(sub.join("pipes")).unwrap();
    let fixture = common::kit().join("grader/tests/fixtures/hostile/segfault");
    for file in ["Cargo.toml", "Cargo.lock", "pipes/Cargo.toml"] {
        std::fs::copy(fixture.join(file), sub.join(file)).unwrap();
    }
    let huge = std::fs::File::create(sub.join("pipes/data.bin")).unwrap();
    huge.set_len(1 << 30).unwrap();
    let json = tempfile::NamedTempFile::new().unwrap();
    let out = common::grader()
        .arg("grade")
        .arg(&sub)
        .args(["-a", "pipes", "--json"])
        .arg(json.path())
        .timeout(Duration::from_secs(120))
        .assert()
        .success()
        .get_output()
        .clone();
    let human = String::from_utf8_lossy(&out.stdout);
    assert!(
        human.contains("pipes/data.bin is 1024 MiB; a submission's files may hold 16 MiB each"),
        "{human}"
    );
    let results: Value = serde_json::from_slice(&std::fs::read(json.path()).unwrap()).unwrap();
    for (check, status) in common::statuses(&results) {
        assert_eq!(status, "build_failed", "{check}: {human}");
    }
}

/// The sweep after a check: what a program leaves behind it is found and removed, within the
/// check's limit plus the margin, whoever holds the pipes, whatever the names; shown escaped.
#[rstest]
#[case::zombie_leader("zombie-leader", &["eof-reaches-reader"], &["fail"], true)]
#[case::holds_stdin("holds-stdin", &["eof-reaches-reader"], &["fail"], true)]
#[case::shm_names("shm-names", &["eof-reaches-reader", "reaps-children"], &["fail_leak"], true)]
#[case::lock_files("lock-files", &["eof-reaches-reader"], &["fail"], false)]
// A POSIX message queue is listed where an mqueue filesystem is (the grading mounts its own):
// not in the machine's namespace, where a queue left would outlive the test.
#[case::mq_leak("mq-leak", &["eof-reaches-reader", "reaps-children"], &["fail_leak"], false)]
#[serial(grading)]
fn the_sweep_after_a_check_leaves_nothing(
    #[case] fixture: &str,
    #[case] checks: &[&str],
    #[case] verdicts: &[&str],
    #[case] without_isolation: bool,
) {
    for &mode in modes(without_isolation) {
        // World-writable folders nested in /tmp, below one the sandbox user may only cross.
        let planted =
            Planted(std::env::temp_dir().join(format!("ipclab-sweep-{}", std::process::id())));
        let planted = &planted.0;
        if fixture == "lock-files" {
            use std::os::unix::fs::PermissionsExt;
            for (dir, mode) in [
                (planted.clone(), 0o755),
                (planted.join("shut"), 0o755),
                (planted.join("shut/open"), 0o1777),
                (planted.join("shut/open/inner"), 0o1777),
            ] {
                std::fs::create_dir_all(&dir).unwrap();
                std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(mode)).unwrap();
            }
        }
        let human = graded_clean(fixture, mode, checks, verdicts);
        if fixture == "lock-files" {
            let written: Vec<&str> = human.lines().filter(|l| l.ends_with(": written")).collect();
            for place in ["/run/lock/", "/shut/open/ipclab", "/shut/open/inner/ipclab"] {
                assert!(
                    written.iter().any(|l| l.contains(place)),
                    "nothing written in {place}: {human}"
                );
            }
        }
        if fixture == "mq-leak" {
            assert!(
                human.contains("POSIX message queue /ipclab-hostile-mq"),
                "the leaked queue is not named:\n{human}"
            );
        }
        if fixture == "shm-names" {
            // What the program named is shown escaped, never raw.
            for raw in ['\x1b', '\x07', '\u{fffd}'] {
                assert!(!human.contains(raw), "{raw:?} in the report:\n{human}");
            }
            assert!(
                human.contains(r"ipclab-hostile-\x1b[2J\x1b]0;pwned\x07\xff\xfe")
                    && human.contains(r"pid ")
                    && human.contains(r"(\x1b[2Jhost\xff): still running")
                    && human.contains("ipclab-hostile-tree"),
                "{human}"
            );
        }
    }
}

#[rstest]
#[case::full_fork_bomb("strict", "fork-bomb")]
#[case::none_deadlock("none", "deadlock")]
#[serial(grading)]
fn a_grader_killed_mid_check_leaves_no_program_running(#[case] mode: &str, #[case] fixture: &str) {
    use nix::sys::signal::{Signal, kill};
    let dir = common::kit()
        .join("grader/tests/fixtures/hostile")
        .join(fixture);
    let before = Machine::now();
    let before_temp = temp_entries();
    let _ = common::grader(); // builds the fault-injection library
    let mut grader = std::process::Command::new(assert_cmd::cargo::cargo_bin("grader"))
        .current_dir(common::kit())
        .arg("grade")
        .arg(&dir)
        .args(["-a", "pipes", "--only", "eof-reaches-reader"])
        .args(["--isolation", mode])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let running = || {
        Machine::now()
            .added_since(&before)
            .into_iter()
            .filter(|t| t.starts_with("process "))
            .collect::<Vec<_>>()
    };
    // The build comes first; the check's program then runs until the time limit.
    let started = poll(Duration::from_secs(300), || {
        !running().is_empty() || grader.try_wait().unwrap().is_some()
    });
    assert!(
        started && grader.try_wait().unwrap().is_none(),
        "{fixture} ({mode}): the grader ended before its program ran"
    );
    let grader_pid = nix::unistd::Pid::from_raw(grader.id() as i32);
    kill(grader_pid, Signal::SIGKILL).unwrap();
    grader.wait().unwrap();
    let gone = poll(Duration::from_secs(30), || running().is_empty());
    // What a killed grader cannot clean: its check's temporary folder.
    for path in temp_entries().difference(&before_temp) {
        let _ = std::fs::remove_dir_all(path);
    }
    assert!(
        gone,
        "{fixture} ({mode}): still running after the grader was killed: {:#?}",
        running()
    );
}

/// A folder the test made, removed when dropped (a failed assertion too).
struct Planted(PathBuf);

impl Drop for Planted {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The modes a fixture is graded in: full isolation, and none where that makes sense for it.
fn modes(without_isolation: bool) -> &'static [&'static str] {
    if without_isolation {
        &["strict", "none"]
    } else {
        &["strict"]
    }
}

/// Polls `done` every 20 ms until it holds (true) or `within` has passed (false).
fn poll(within: Duration, mut done: impl FnMut() -> bool) -> bool {
    let give_up = std::time::Instant::now() + within;
    loop {
        if done() {
            return true;
        }
        if std::time::Instant::now() > give_up {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The grader's check folders in the temporary folder.
fn temp_entries() -> BTreeSet<PathBuf> {
    read_dir(std::env::temp_dir())
        .into_iter()
        .filter(|p| file_name(p).starts_with("ipclab-"))
        .collect()
}

/// Grades `fixture` on `checks` with `--isolation MODE`, and asserts that every check ended
/// in one of `verdicts` within its limit and the margin, that the machine is as clean as it
/// was, and that the report holds no escape sequence raw (`results.json` none either, as
/// valid JSON strings). Returns the report for people.
fn graded_clean(fixture: &str, mode: &str, checks: &[&str], verdicts: &[&str]) -> String {
    let before = Machine::now();
    let (human, results) = grade(fixture, mode, checks);
    let tests = results["tests"].as_array().unwrap();
    assert_eq!(tests.len(), checks.len(), "{fixture} ({mode})\n{human}");
    for test in tests {
        let status = test["extra_data"]["status"].as_str().unwrap();
        assert!(
            verdicts.contains(&status),
            "{fixture} ({mode}): {status}, expected one of {verdicts:?}\n{human}"
        );
        let (elapsed, limit) = (
            test["extra_data"]["elapsed_s"].as_f64().unwrap(),
            test["extra_data"]["limit_s"].as_f64().unwrap(),
        );
        assert!(
            elapsed <= limit + MARGIN_S,
            "{fixture} ({mode}): {elapsed} s for a {limit} s check\n{human}"
        );
        let output = test["output"].as_str().unwrap();
        assert!(
            !output
                .chars()
                .any(|c| c.is_control() && c != '\n' && c != '\t'),
            "{fixture} ({mode}): a control character in results.json: {output:?}"
        );
    }
    let left = Machine::now().added_since(&before);
    assert!(
        left.is_empty(),
        "{fixture} ({mode}) left: {left:#?}\n{human}"
    );
    human
}

/// Grades `fixture` on `checks` (`eof-reaches-reader`, 5 s, and others) with `--isolation MODE`.
fn grade(fixture: &str, mode: &str, checks: &[&str]) -> (String, Value) {
    let dir = common::kit()
        .join("grader/tests/fixtures/hostile")
        .join(fixture);
    let json = tempfile::NamedTempFile::new().unwrap();
    let out = common::grader()
        .arg("grade")
        .arg(&dir)
        .args(["-a", "pipes", "--verbose"])
        .args(checks.iter().flat_map(|c| ["--only", c]))
        .args(["--isolation", mode, "--json"])
        .arg(json.path())
        .timeout(Duration::from_secs(600))
        .assert()
        .success()
        .get_output()
        .clone();
    let human = String::from_utf8_lossy(&out.stdout).into_owned();
    let results = serde_json::from_slice(&std::fs::read(json.path()).unwrap()).unwrap();
    (human, results)
}

/// What a hostile submission could leave: processes (of a grading's own user, or running a
/// program the grader built, by any of their threads), SysV objects and `/dev/shm` entries of
/// a grading's user or named by a fixture, and files of either kind in the folders anyone may
/// write into (`/tmp`, `/var/tmp`, `/run/lock`, `/dev/mqueue`) and in those nested in them.
#[derive(Debug, Default)]
struct Machine {
    things: BTreeSet<String>,
}

impl Machine {
    fn now() -> Machine {
        let mut things = BTreeSet::new();
        for entry in read_dir("/proc") {
            let Some(pid) = file_name(&entry).parse::<u32>().ok() else {
                continue;
            };
            let uid = entry.metadata().map(|m| m.uid()).unwrap_or(0);
            // A process whose main thread exited has no `exe` of its own: its threads have.
            let exe = std::iter::once(entry.clone())
                .chain(read_dir(entry.join("task")))
                .find_map(|t| std::fs::read_link(t.join("exe")).ok())
                .unwrap_or_default();
            let graded = exe.to_string_lossy().starts_with("/tmp/ipclab-programs-");
            // Another kit's grading on the same machine (another checkout's tests) is not this
            // test's.
            if (grader::users::is_grading_uid(uid) || graded) && !under_another_grader(pid) {
                things.insert(format!("process {pid} ({})", exe.display()));
            }
        }
        for kind in ["msg", "shm", "sem"] {
            let text = std::fs::read_to_string(format!("/proc/sysvipc/{kind}")).unwrap_or_default();
            let mut lines = text.lines();
            let header: Vec<&str> = lines.next().unwrap_or("").split_whitespace().collect();
            let uid_at = header.iter().position(|c| *c == "uid");
            for line in lines {
                let fields: Vec<&str> = line.split_whitespace().collect();
                let uid = uid_at.and_then(|i| fields.get(i)?.parse::<u32>().ok());
                if uid.is_some_and(grader::users::is_grading_uid) {
                    things.insert(format!("{kind} {line}"));
                }
            }
        }
        let mut folders: Vec<(PathBuf, usize)> =
            ["/dev/shm", "/tmp", "/var/tmp", "/run/lock", "/dev/mqueue"]
                .iter()
                .map(|d| (PathBuf::from(d), 0))
                .collect();
        while let Some((dir, depth)) = folders.pop() {
            for path in read_dir(&dir) {
                let Ok(meta) = path.symlink_metadata() else {
                    continue;
                };
                if grader::users::is_grading_uid(meta.uid())
                    || file_name(&path).starts_with("ipclab-hostile")
                {
                    things.insert(format!("file {}", path.display()));
                } else if meta.is_dir()
                    && depth < 4
                    && (meta.mode() & 0o002 != 0
                        || path.to_string_lossy().contains("/ipclab-sweep-"))
                {
                    // Nested folders anyone may write into, and the test's own.
                    folders.push((path, depth + 1));
                }
            }
        }
        Machine { things }
    }

    fn added_since(&self, before: &Machine) -> Vec<String> {
        self.things.difference(&before.things).cloned().collect()
    }
}

/// Whether process `pid` descends from a grader other than this kit's (another worktree's,
/// grading at the same time on the same machine).
fn under_another_grader(pid: u32) -> bool {
    let ours = common::kit().join("target/release/grader");
    let mut at = pid;
    for _ in 0..64 {
        let stat = std::fs::read(format!("/proc/{at}/stat")).unwrap_or_default();
        let Some(close) = stat.windows(2).rposition(|w| w == b") ") else {
            return false;
        };
        let ppid: u32 = String::from_utf8_lossy(&stat[close + 2..])
            .split_whitespace()
            .nth(1)
            .and_then(|p| p.parse().ok())
            .unwrap_or(0);
        if ppid <= 1 {
            return false;
        }
        let exe = std::fs::read_link(format!("/proc/{ppid}/exe")).unwrap_or_default();
        if exe.file_name().is_some_and(|n| n == "grader") && exe != ours {
            return true;
        }
        at = ppid;
    }
    false
}

fn read_dir(dir: impl AsRef<Path>) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default()
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}
