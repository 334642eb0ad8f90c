//! Building an implementation without touching it and without trusting it.
//!
//! The submission folder is copied, within limits of size and count, into a fresh folder of the
//! grader's work folder, leaving out what would steer the build from outside the grader's
//! choice (`target/`, `.git/`, `.cargo/` configuration, `rust-toolchain` files). It is built
//! there in the build sandbox ([`crate::sandbox`]) as the grading's own unprivileged user, with
//! the kit's toolchain, offline, against the starter's dependencies vendored by the grader
//! (`--offline --locked`: a submission cannot add crates). A folder with a `Cargo.toml` is built
//! with `cargo build --release -p PACKAGE`; one without, with `make NAME` (binaries in `bin/`),
//! so that a submission in another language can be graded too. The build copies its binaries
//! into an output folder; the grader takes them from there (regular files only, never through
//! a link) into the grading's own folder ([`Programs`]), from which the checks run them.
//!
//! Each submission keeps its own target folder between gradings (keyed by its path), so a
//! student grading again rebuilds only their own crates, not the dependencies; nothing of one
//! submission's build is visible to another's.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result};
use nix::fcntl::{Flock, FlockArg};

use crate::check::Assignment;

mod copy;
mod programs;
mod toolchain;

pub use copy::{MAX_FILE_BYTES, MAX_FILES, MAX_TOTAL_BYTES};
pub use programs::Programs;
pub use toolchain::kit_root;

use crate::sandbox::{self, Bind};
use copy::{CopyError, chown_tree, copy_file, copy_tree, take_binary};
use toolchain::{toolchain, vendored};

/// Set in the grader's environment, builds run as on a machine that makes no namespace (for
/// the tests of that fallback; `strict` then refuses to build).
pub const NO_SANDBOX_VAR: &str = "IPCLAB_NO_BUILD_SANDBOX";

/// How long one assignment's build may take (before the time scale).
pub const BUILD_LIMIT: Duration = Duration::from_secs(600);
/// The most output of a build that is kept.
const MAX_LOG_BYTES: usize = 1 << 20;

/// How builds are confined.
#[derive(Debug, Clone)]
pub struct BuildSetup {
    /// The user and group builds run as (the grading's own), if the grader may switch user.
    pub user: Option<(u32, u32)>,
    /// Refuse to build outside the sandbox (`--isolation strict`).
    pub require_sandbox: bool,
    /// Multiplies the build's time limit.
    pub time_scale: f64,
}

/// An implementation copied into the work folder, ready to be built.
pub struct Staged {
    /// The copy of the submission.
    pub src: PathBuf,
    /// The submission's own Cargo target folder, kept between gradings.
    target: PathBuf,
    /// Where a build leaves its binaries.
    out: PathBuf,
    /// The build sandbox's mount point.
    root: PathBuf,
    /// Why nothing of it can be built (a submission over the limits), if so.
    refused: Option<String>,
    setup: BuildSetup,
    /// How the builds ran (set by the first build).
    sandboxed: std::sync::Mutex<Option<Sandboxing>>,
    /// Held while this submission is staged: two gradings of one folder take turns.
    _lock: Flock<File>,
}

/// How a submission's builds ran.
#[derive(Debug, Clone)]
pub enum Sandboxing {
    /// In the sandbox, as this user (the report's words).
    In(String),
    /// Outside it: why the sandbox could not be made, and as whom the build ran.
    Out { why: String, who: String },
}

/// Why an assignment's binaries could not be had.
#[derive(Debug, Clone)]
pub struct BuildError {
    /// The compiler's first error, or what else went wrong, in one line.
    pub reason: String,
    /// The build's output, trimmed.
    pub log: String,
    /// The grader's own failure (no toolchain, no sandbox), not the submission's.
    pub grader_side: bool,
}

impl BuildError {
    fn grader(reason: impl Into<String>) -> BuildError {
        BuildError {
            reason: reason.into(),
            log: String::new(),
            grader_side: true,
        }
    }
}

/// Copies `submission` into `work`, in a folder named after its canonical path.
pub fn stage(submission: &Path, work: &Path, setup: BuildSetup) -> Result<Staged> {
    let canonical = submission.canonicalize().with_context(|| {
        format!(
            "cannot read the implementation folder {}",
            submission.display()
        )
    })?;
    anyhow::ensure!(
        canonical.is_dir(),
        "the implementation {} is not a folder",
        submission.display()
    );
    let builds = work.join("builds");
    std::fs::create_dir_all(&builds)
        .with_context(|| format!("cannot create the work folder {}", builds.display()))?;
    // Only the grader enters: no program of any grading reaches another submission's copy.
    std::fs::set_permissions(&builds, std::fs::Permissions::from_mode(0o700))?;
    let slug = slug(&canonical);
    let lock = lock_file(&builds.join(format!("{slug}.lock")))?;
    let root = builds.join(&slug);
    let staged = Staged {
        src: root.join("src"),
        target: root.join("target"),
        out: root.join("out"),
        root: root.join("root"),
        refused: None,
        setup,
        sandboxed: std::sync::Mutex::new(None),
        _lock: lock,
    };
    for fresh in [&staged.src, &staged.out, &staged.root] {
        if fresh.symlink_metadata().is_ok() {
            std::fs::remove_dir_all(fresh)
                .with_context(|| format!("cannot clear {}", fresh.display()))?;
        }
        std::fs::create_dir_all(fresh)
            .with_context(|| format!("cannot create {}", fresh.display()))?;
    }
    std::fs::create_dir_all(&staged.target)?;
    let refused = match copy_tree(&canonical, &staged.src) {
        Ok(()) => None,
        Err(CopyError::TooLarge(why)) => Some(why),
        Err(CopyError::Io(e)) => return Err(e),
    };
    let has = |name: &str| staged.src.join(name).symlink_metadata().is_ok();
    if refused.is_none()
        && has("Cargo.toml")
        && !has("Cargo.lock")
        && let Some(kit) = kit_root()
    {
        // The starter's lockfile: the only dependencies there are.
        let _ = copy_file(
            &kit.join("starter/Cargo.lock"),
            &staged.src.join("Cargo.lock"),
            0o644,
        );
    }
    if let Some((uid, gid)) = staged.setup.user {
        for dir in [&staged.src, &staged.target, &staged.out] {
            chown_tree(dir, uid, gid)?;
        }
    }
    Ok(Staged { refused, ..staged })
}

/// A folder name for a submission: its last component and a hash of its full path.
pub fn slug(path: &Path) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "root".into());
    let clean: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!(
        "{clean}-{:08x}",
        fnv(path.to_string_lossy().as_bytes()) as u32
    )
}

pub(crate) fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf29ce484222325u64, |h, b| {
        (h ^ *b as u64).wrapping_mul(0x100000001b3)
    })
}

pub(crate) fn lock_file(path: &Path) -> Result<Flock<File>> {
    let file = File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    Flock::lock(file, FlockArg::LockExclusive)
        .map_err(|(_, e)| anyhow::anyhow!("cannot lock {}: {e}", path.display()))
}

/// The build, as a shell script run in the sandbox: Cargo (where there is a `Cargo.toml`) or
/// make, then the binaries copied into the output folder. Arguments: the package, the make
/// target, then the binaries.
const SCRIPT: &str = r#"
pkg="$1"; name="$2"; shift 2
cd "$IPCLAB_SRC" || exit 1
if [ -f Cargo.toml ]; then
  "$IPCLAB_CARGO" build --release --offline --locked --message-format=short -p "$pkg" \
    --config "source.crates-io.replace-with=\"ipclab-vendored\"" \
    --config "source.ipclab-vendored.directory=\"$IPCLAB_VENDOR\"" || exit 1
  built="$CARGO_TARGET_DIR/release"
else
  make "$name" || exit 1
  built=bin
fi
for b; do
  [ -f "$built/$b" ] && cp "$built/$b" "$IPCLAB_OUT/$b"
done
exit 0
"#;

impl Staged {
    /// Removes this submission's build folder (`WORK/builds/<slug>`: its copy, Cargo target
    /// and binaries) and its lock file; a later grading builds it afresh.
    pub fn discard(self) -> Result<()> {
        let folder = self
            .src
            .parent()
            .context("a staged copy lies in a build folder")?
            .to_path_buf();
        std::fs::remove_dir_all(&folder)
            .with_context(|| format!("cannot remove the build folder {}", folder.display()))?;
        // Removed while still held: a grading waiting on it holds a lock on no file, and
        // stages the folder again under a lock of its own.
        let _ = std::fs::remove_file(folder.with_extension("lock"));
        Ok(())
    }

    /// How the builds ran: `None` before the first build.
    pub fn sandboxed(&self) -> Option<Sandboxing> {
        self.sandboxed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// How its builds ran, in the report header's words.
    pub fn describe(&self) -> String {
        match self.sandboxed() {
            None => "none ran".to_string(),
            Some(Sandboxing::In(user)) => format!(
                "sandboxed (own mount, PID and network namespaces, offline, only its own \
                 folder in sight; {user})"
            ),
            Some(Sandboxing::Out { why, who }) => format!("NOT sandboxed ({why}): {who}"),
        }
    }

    /// Builds one assignment's binaries into `programs`; returns their paths by name.
    pub fn build(
        &self,
        assignment: &Assignment,
        programs: &Programs,
        work: &Path,
    ) -> Result<BTreeMap<String, PathBuf>, BuildError> {
        if let Some(why) = &self.refused {
            return Err(BuildError {
                reason: why.clone(),
                log: String::new(),
                grader_side: false,
            });
        }
        let kit = kit_root().ok_or_else(|| {
            BuildError::grader("cannot find the kit (its starter/Cargo.lock) to build with")
        })?;
        // Whether Cargo builds is decided inside, where a link leads where the build sees it;
        // a folder without a `Cargo.toml` needs no toolchain from the grader.
        let cargo = self.src.join("Cargo.toml").symlink_metadata().is_ok();
        let (sysroot, vendor) = match (toolchain(&kit), cargo) {
            (Ok(sysroot), _) => (sysroot, vendored(&kit, work)?),
            (Err(e), true) => return Err(e),
            (Err(_), false) => (PathBuf::from("/nonexistent"), PathBuf::from("/nonexistent")),
        };
        for entry in std::fs::read_dir(&self.out).into_iter().flatten().flatten() {
            let _ = std::fs::remove_file(entry.path());
        }
        let mut args = vec![assignment.package.to_string(), assignment.name.to_string()];
        args.extend(assignment.binaries.iter().map(|b| b.to_string()));
        let limit = BUILD_LIMIT.mul_f64(self.setup.time_scale.max(0.01));
        if std::env::var_os(NO_SANDBOX_VAR).is_some() && self.sandboxed().is_none() {
            *self.sandboxed.lock().unwrap_or_else(|e| e.into_inner()) = Some(Sandboxing::Out {
                why: format!("turned off by {NO_SANDBOX_VAR}"),
                who: String::new(),
            });
        }
        let known = self.sandboxed();
        let mut output = if !matches!(known, Some(Sandboxing::Out { .. })) {
            self.run_sandboxed(&sysroot, &vendor, &args, limit)?
        } else {
            None
        };
        if output.is_none() {
            let why = match self.sandboxed() {
                Some(Sandboxing::Out { why, .. }) => why,
                _ => "the build sandbox could not be made".to_string(),
            };
            if self.setup.require_sandbox {
                return Err(BuildError::grader(format!(
                    "--isolation strict: {why}; builds are never run outside the sandbox there"
                )));
            }
            let (plain, who) = self.run_plain(&sysroot, &vendor, &args, limit)?;
            *self.sandboxed.lock().unwrap_or_else(|e| e.into_inner()) =
                Some(Sandboxing::Out { why, who });
            output = Some(plain);
        }
        let Some(output) = output else {
            unreachable!("a build ran");
        };
        let log: String = output
            .log
            .lines()
            .filter(|l| !l.starts_with(sandbox::USER_NAMESPACE_NOTE))
            .collect::<Vec<_>>()
            .join("\n");
        if !output.success {
            let reason = if output.timed_out {
                format!(
                    "the build did not finish within {} s",
                    limit.as_secs_f64().round()
                )
            } else {
                log.lines()
                    .find(|l| l.contains("error"))
                    .unwrap_or("the build failed")
                    .trim()
                    .to_string()
            };
            return Err(BuildError {
                reason,
                log,
                grader_side: false,
            });
        }
        let dir = programs.assignment_dir(assignment.name);
        std::fs::create_dir_all(&dir)
            .and_then(|()| std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o711)))
            .map_err(|e| BuildError::grader(format!("cannot create {}: {e}", dir.display())))?;
        let mut bins = BTreeMap::new();
        for name in assignment.binaries {
            let to = dir.join(name);
            take_binary(&self.out.join(name), &to).map_err(|e| BuildError {
                reason: format!("the build made no binary `{name}` ({e})"),
                log: log.clone(),
                grader_side: false,
            })?;
            bins.insert(name.to_string(), to);
        }
        Ok(bins)
    }

    /// The build in the sandbox; `None` if the sandbox could not be made (remembered).
    fn run_sandboxed(
        &self,
        sysroot: &Path,
        vendor: &Path,
        args: &[String],
        limit: Duration,
    ) -> Result<Option<BuildOutput>, BuildError> {
        let inside = |p: &str| PathBuf::from(p);
        let mut binds = vec![
            bind(&self.src, "/src", true),
            bind(&self.target, "/target", true),
            bind(&self.out, "/out", true),
        ];
        if sysroot.is_dir() {
            binds.push(bind(sysroot, "/toolchain", false));
            binds.push(bind(vendor, "/vendor", false));
        }
        let spec = sandbox::Spec {
            root: self.root.clone(),
            binds,
            user: self.setup.user,
            cwd: inside("/src"),
            env: build_env(
                Path::new("/src"),
                Path::new("/target"),
                Path::new("/out"),
                Path::new("/toolchain"),
                Path::new("/vendor"),
            ),
            argv: script_argv(args),
            cpu_secs: limit.as_secs().max(1) + 1,
            file_size: 1 << 30,
            processes: 512,
            tmp_bytes: 1 << 30,
        };
        let json = serde_json::to_string(&spec).expect("the specification serialises");
        let exe = std::env::current_exe()
            .map_err(|e| BuildError::grader(format!("cannot find the grader itself: {e}")))?;
        let mut cmd = Command::new(exe);
        cmd.arg("sandbox").arg(json);
        let output = run_bounded(cmd, limit)?;
        let mut known = self.sandboxed.lock().unwrap_or_else(|e| e.into_inner());
        if output.code == Some(sandbox::EXIT_NO_SANDBOX)
            && output.log.lines().any(|l| l.starts_with("grader sandbox:"))
        {
            let why = output
                .log
                .lines()
                .find_map(|l| l.strip_prefix("grader sandbox: "))
                .unwrap_or("the build sandbox could not be made")
                .to_string();
            *known = Some(Sandboxing::Out {
                why,
                who: String::new(),
            });
            return Ok(None);
        }
        let user = match output
            .log
            .lines()
            .find_map(|l| l.strip_prefix(sandbox::USER_NAMESPACE_NOTE))
        {
            Some(uid) => {
                format!("uid {uid} in a user namespace of its own, without any capability")
            }
            None => match self.setup.user {
                Some((uid, _)) => format!("uid {uid}"),
                None => format!("uid {}", nix::unistd::geteuid()),
            },
        };
        *known = Some(Sandboxing::In(user));
        Ok(Some(output))
    }

    /// The build without a sandbox (a machine that makes no namespace): as the grading's own
    /// user where the grader is root and that user reaches the toolchain, else as the
    /// grader's user. Returns the output and who built, for the report.
    fn run_plain(
        &self,
        sysroot: &Path,
        vendor: &Path,
        args: &[String],
        limit: Duration,
    ) -> Result<(BuildOutput, String), BuildError> {
        let home = tempfile::tempdir()
            .map_err(|e| BuildError::grader(format!("no temporary folder: {e}")))?;
        let mut env = build_env(&self.src, &self.target, &self.out, sysroot, vendor);
        for (key, value) in env.iter_mut() {
            if key == "HOME" || key == "TMPDIR" {
                *value = home.path().to_string_lossy().into_owned();
            }
            if key == "CARGO_HOME" {
                *value = home.path().join("cargo").to_string_lossy().into_owned();
            }
        }
        let command = |argv: &[String], user: Option<(u32, u32)>| {
            let mut cmd = Command::new(&argv[0]);
            cmd.args(&argv[1..])
                .env_clear()
                .envs(env.clone())
                .current_dir(&self.src);
            let limits = crate::confine::Limits {
                processes: 512,
                data: 8 << 30,
                cpu_secs: limit.as_secs().max(1) + 1,
                file_size: 1 << 30,
                open_files: 1024,
            };
            crate::confine::apply(
                &mut cmd,
                crate::confine::Sandbox {
                    limits,
                    user,
                    own_proc: false,
                },
            );
            cmd
        };
        let mut user = self.setup.user;
        if let Some((uid, gid)) = user {
            // Its folder becomes its own (and the folder of all builds passable, not
            // listable); then it must reach the toolchain and the vendored crates.
            let slug = self.src.parent().unwrap_or(&self.src);
            let opened = std::fs::set_permissions(
                slug.parent().unwrap_or(slug),
                std::fs::Permissions::from_mode(0o711),
            )
            .and_then(|()| std::os::unix::fs::lchown(slug, Some(uid), Some(gid)))
            .and_then(|()| std::os::unix::fs::lchown(home.path(), Some(uid), Some(gid)));
            let probe = vec!["/bin/sh".to_string(), "-c".to_string(), PROBE.to_string()];
            let reaches = opened.is_ok()
                && run_bounded(command(&probe, user), Duration::from_secs(30))
                    .is_ok_and(|o| o.success);
            if !reaches {
                user = None;
            }
        }
        let who = match user {
            Some((uid, _)) => format!(
                "the build ran as uid {uid}, the grading's own, and could reach what any user \
                 can"
            ),
            None => format!(
                "the build ran as the grader's user, uid {}, and could reach what that user can",
                nix::unistd::geteuid()
            ),
        };
        let output = run_bounded(command(&script_argv(args), user), limit)?;
        Ok((output, who))
    }
}

/// What the grading's user must reach to build without the sandbox.
const PROBE: &str = r#"
cd "$IPCLAB_SRC" && [ -w "$CARGO_TARGET_DIR" ] && [ -w "$IPCLAB_OUT" ] && [ -w "$HOME" ] || exit 1
if [ -f Cargo.toml ]; then
  "$IPCLAB_CARGO" --version >/dev/null 2>&1 && [ -r "$IPCLAB_VENDOR/.complete" ] || exit 1
fi
"#;

fn bind(from: &Path, to: &str, writable: bool) -> Bind {
    Bind {
        from: from.to_path_buf(),
        to: PathBuf::from(to),
        writable,
    }
}

/// The whole environment of a build: nothing of the grader's.
fn build_env(
    src: &Path,
    target: &Path,
    out: &Path,
    toolchain: &Path,
    vendor: &Path,
) -> Vec<(String, String)> {
    let s = |p: &Path| p.to_string_lossy().into_owned();
    vec![
        (
            "PATH".into(),
            format!("{}:/usr/local/bin:/usr/bin:/bin", s(&toolchain.join("bin"))),
        ),
        ("HOME".into(), "/tmp".into()),
        ("TMPDIR".into(), "/tmp".into()),
        ("CARGO_HOME".into(), "/tmp/cargo".into()),
        ("CARGO_TARGET_DIR".into(), s(target)),
        ("CARGO_TERM_COLOR".into(), "never".into()),
        ("RUSTC".into(), s(&toolchain.join("bin/rustc"))),
        ("IPCLAB_CARGO".into(), s(&toolchain.join("bin/cargo"))),
        ("IPCLAB_SRC".into(), s(src)),
        ("IPCLAB_OUT".into(), s(out)),
        ("IPCLAB_VENDOR".into(), s(vendor)),
        ("LANG".into(), "C.UTF-8".into()),
    ]
}

fn script_argv(args: &[String]) -> Vec<String> {
    let mut argv = vec![
        "/bin/sh".to_string(),
        "-c".to_string(),
        SCRIPT.to_string(),
        "build".to_string(),
    ];
    argv.extend(args.iter().cloned());
    argv
}

/// What a build printed and how it ended.
struct BuildOutput {
    success: bool,
    code: Option<i32>,
    timed_out: bool,
    log: String,
}

/// Runs `cmd` with its output captured (the first [`MAX_LOG_BYTES`] of it), killed at `limit`.
fn run_bounded(mut cmd: Command, limit: Duration) -> Result<BuildOutput, BuildError> {
    use std::os::unix::process::CommandExt;
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let mut child = cmd
        .spawn()
        .map_err(|e| BuildError::grader(format!("could not run the build: {e}")))?;
    let readers: Vec<_> = [
        child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
        child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
    ]
    .into_iter()
    .flatten()
    .map(|mut pipe| {
        std::thread::spawn(move || {
            let mut kept = Vec::new();
            let mut buf = [0u8; 8192];
            while let Ok(n) = pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                let room = MAX_LOG_BYTES.saturating_sub(kept.len());
                kept.extend_from_slice(&buf[..n.min(room)]);
            }
            kept
        })
    })
    .collect();
    let pid = child.id() as i32;
    let exited = crate::sys::pidfd_open(pid)
        .and_then(|fd| crate::sys::wait_readable(&fd, limit))
        .unwrap_or(false);
    if !exited {
        // The launcher's death kills the sandbox's PID namespace; the group, a plain build.
        let _ = nix::sys::signal::killpg(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
    let status = child
        .wait()
        .map_err(|e| BuildError::grader(format!("cannot wait for the build: {e}")))?;
    let mut log = Vec::new();
    for reader in readers {
        log.extend(reader.join().unwrap_or_default());
    }
    Ok(BuildOutput {
        success: exited && status.success(),
        code: status.code(),
        timed_out: !exited,
        log: String::from_utf8_lossy(&log).trim_end().to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_differ_by_path() {
        assert_ne!(slug(Path::new("/a/starter")), slug(Path::new("/b/starter")));
        assert!(slug(Path::new("/a/my sub")).starts_with("my_sub-"));
    }
}
