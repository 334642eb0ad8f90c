//! The kit's `Makefile` and the one the student release ships (`release/student/Makefile`), run
//! with `make` for real: `make watch` grades again when a source changes, with the same `A`,
//! `ONLY` and `SCALE`; `make grade` under sudo (`SUDO_UID`/`SUDO_GID` set) without cargo on its
//! PATH says how to keep it, and hands `target/` back to the user sudo ran for.
//!
//! Each test copies a Makefile into a temporary folder of its own and runs it there, with the
//! grader replaced by `echo` (`GRADER=…` on the command line, which sub-makes inherit): no
//! cargo, no build, seconds each. Nothing here needs a real sudo user.

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The two Makefiles, by their path in the kit.
const MAKEFILES: [&str; 2] = ["Makefile", "release/student/Makefile"];

/// How long to wait for what a `make` prints: far beyond the fraction of a second it takes.
const PATIENCE: Duration = Duration::from_secs(60);

fn kit() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// `make`, found on the PATH once, so that a test can run it with a PATH of its own.
fn make_program() -> PathBuf {
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join("make"))
        .find(|p| p.is_file())
        .expect("make is on the PATH")
}

/// A folder holding a copy of `makefile` as `Makefile`, and `impl/src/main.rs` to grade.
fn workspace(makefile: &str) -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("ipclab-makefile-")
        .tempdir()
        .unwrap();
    std::fs::copy(kit().join(makefile), dir.path().join("Makefile")).unwrap();
    std::fs::create_dir_all(dir.path().join("impl/src")).unwrap();
    std::fs::write(dir.path().join("impl/src/main.rs"), "fn main() {}\n").unwrap();
    dir
}

/// `make ARGS` in `dir`, without the caller's sudo variables or make flags.
fn make(dir: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(make_program());
    cmd.current_dir(dir)
        .args(["--no-print-directory"])
        .args(args)
        .env_remove("SUDO_UID")
        .env_remove("SUDO_GID")
        .env_remove("MAKEFLAGS")
        .env_remove("MFLAGS")
        .env_remove("MAKELEVEL");
    cmd
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A `make` running in a process group of its own, its output read line by line; the group
/// is killed when it is dropped.
struct Running {
    child: std::process::Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Running {
    fn start(mut cmd: Command) -> Running {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .process_group(0)
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Running {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits (at most [`PATIENCE`]) until `count` lines printed so far satisfy `matches`.
    fn wait_for(&mut self, count: usize, matches: impl Fn(&str) -> bool) {
        let deadline = Instant::now() + PATIENCE;
        while self.seen.iter().filter(|l| matches(l)).count() < count {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => self.seen.push(line),
                Err(_) => panic!(
                    "waited {} s for {count} such line(s); the output so far:\n{}",
                    PATIENCE.as_secs(),
                    self.seen.join("\n")
                ),
            }
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        // The group: make, its shell loop, `sleep`, a grading in progress.
        let group = nix::unistd::Pid::from_raw(-(self.child.id() as i32));
        let _ = nix::sys::signal::kill(group, nix::sys::signal::Signal::SIGKILL);
        let _ = self.child.wait();
    }
}

/// `make watch` grades at once, then again when a source changes, each time with the same
/// `A`, `ONLY` and `SCALE`.
#[test]
fn watch_grades_again_when_a_source_changes() {
    for makefile in MAKEFILES {
        let dir = workspace(makefile);
        let mut watch = Running::start(make(
            dir.path(),
            &[
                "watch",
                "IMPL=impl",
                "A=pipes",
                "ONLY=eof",
                "SCALE=3",
                "GRADER=echo GRADED",
                "NEED_CARGO=@:",
            ],
        ));
        let graded = |l: &str| l.starts_with("GRADED grade impl");
        watch.wait_for(1, graded);
        let main = dir.path().join("impl/src/main.rs");
        std::fs::write(&main, "fn main() { println!(\"saved\"); }\n").unwrap();
        watch.wait_for(2, graded);
        let gradings: Vec<&String> = watch.seen.iter().filter(|l| graded(l)).collect();
        for line in &gradings {
            assert_eq!(
                line.split_whitespace().collect::<Vec<_>>(),
                [
                    "GRADED",
                    "grade",
                    "impl",
                    "-a",
                    "pipes",
                    "--only",
                    "eof",
                    "--time-scale",
                    "3"
                ],
                "{makefile}: {line}"
            );
        }
        assert!(
            watch.seen[0].starts_with("watching impl/"),
            "{makefile}: {:?}",
            watch.seen
        );
        assert_eq!(
            watch.seen.iter().filter(|l| l.starts_with("=== ")).count(),
            2,
            "{makefile}: a header above each grading: {:?}",
            watch.seen
        );
    }
}

/// `make -n watch` shows the loop: what it polls (sources, not `target/`), every second, and
/// the grading it runs. The loop then runs with every grading dry (the recipe runs `$(MAKE)`),
/// so the test stops it once it has shown the grading's command.
#[test]
fn watch_dry_run_shows_the_loop() {
    for makefile in MAKEFILES {
        let dir = workspace(makefile);
        let mut watch = Running::start(make(
            dir.path(),
            &["-n", "watch", "IMPL=impl", "A=pipes,msgq", "ONLY=eof"],
        ));
        watch.wait_for(1, |l| {
            l.contains("cargo run --release --quiet -p grader -- grade impl")
        });
        let shown = watch.seen.join("\n");
        for part in [
            "while :; do",
            "find impl -name target -prune -o -type f",
            "-name '*.rs' -o -name Cargo.toml -o -name Cargo.lock",
            "grade IMPL=\"impl\" A=\"pipes,msgq\" ONLY=\"eof\" SCALE=\"1\" || true",
            "sleep 1;",
            "-a pipes -a msgq --only eof  --time-scale 1",
        ] {
            assert!(shown.contains(part), "{makefile}: no {part:?} in:\n{shown}");
        }
    }
}

/// Under sudo without cargo on root's PATH (sudo's secure_path), `make grade` says how to
/// keep the PATH and fails; without sudo it only says cargo is missing.
#[test]
fn grade_under_sudo_without_cargo_says_how_to_keep_the_path() {
    for makefile in MAKEFILES {
        let dir = workspace(makefile);
        // A PATH with nothing on it: no cargo (make runs recipes with /bin/sh).
        let empty = tempfile::tempdir().unwrap();
        let out = make(dir.path(), &["grade"])
            .env("PATH", empty.path())
            .env("SUDO_UID", "12345")
            .env("SUDO_GID", "54321")
            .output()
            .unwrap();
        assert!(!out.status.success(), "{makefile}: {}", text(&out));
        assert!(
            String::from_utf8_lossy(&out.stdout).contains(
                "cargo: not found: sudo resets PATH; run: sudo -E env \"PATH=$PATH\" make grade"
            ),
            "{makefile}: {}",
            text(&out)
        );
        let out = make(dir.path(), &["grade"])
            .env("PATH", empty.path())
            .output()
            .unwrap();
        assert!(!out.status.success(), "{makefile}: {}", text(&out));
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout.contains("cargo: not found") && !stdout.contains("sudo"),
            "{makefile}: {}",
            text(&out)
        );
        assert!(!dir.path().join("target").exists(), "{makefile}");
    }
}

/// Under sudo, `make grade` ends by handing `target/` back to `SUDO_UID:SUDO_GID`, whatever
/// the grading's status; without sudo it changes no owner.
#[test]
fn grade_under_sudo_gives_target_back() {
    for makefile in MAKEFILES {
        let dir = workspace(makefile);
        let sudo = |cmd: &mut Command| {
            cmd.env("SUDO_UID", "12345").env("SUDO_GID", "54321");
        };
        let mut dry = make(dir.path(), &["-n", "grade"]);
        sudo(&mut dry);
        let shown = text(&dry.output().unwrap());
        assert!(
            shown.contains(
                "|| status=$?; chown -R 12345:54321 target 2>/dev/null || true; exit $status"
            ),
            "{makefile}: {shown}"
        );
        let shown = text(&make(dir.path(), &["-n", "grade"]).output().unwrap());
        assert!(
            shown.contains("|| status=$?; :; exit $status") && !shown.contains("chown"),
            "{makefile}: {shown}"
        );

        // For real: a grading that fails (`false`) still gives target/ back, and its status
        // is make's. Only root can give a file away: elsewhere the chown fails quietly.
        let made = dir.path().join("target/ipc-lab/built");
        std::fs::create_dir_all(made.parent().unwrap()).unwrap();
        std::fs::write(&made, "x").unwrap();
        let mut failing = make(dir.path(), &["grade", "GRADER=false", "NEED_CARGO=@:"]);
        sudo(&mut failing);
        let out = failing.output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{makefile}: {}", text(&out));
        assert!(text(&out).contains("Error 1"), "{makefile}: {}", text(&out));
        if nix::unistd::geteuid().is_root() {
            use std::os::unix::fs::MetadataExt;
            for path in [dir.path().join("target"), made.clone()] {
                let meta = std::fs::metadata(&path).unwrap();
                assert_eq!(
                    (meta.uid(), meta.gid()),
                    (12345, 54321),
                    "{makefile}: {}",
                    path.display()
                );
            }
        }
        let passing = make(dir.path(), &["grade", "GRADER=true", "NEED_CARGO=@:"])
            .output()
            .unwrap();
        assert!(passing.status.success(), "{makefile}: {}", text(&passing));
    }
}
