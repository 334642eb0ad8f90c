//! Isolation of the grader's IPC, processes and files from the rest of the machine.
//!
//! Where it may (as root), the grader moves itself at start-up into a new IPC namespace and a
//! new mount namespace with a private tmpfs on `/dev/shm`. Everything it starts inherits both:
//! `/proc/sysvipc` and `/dev/shm` then hold only the objects of this grading, so a leak is
//! attributed to the check that made it even while other programs (another grader, a student's
//! own tests) use IPC on the same machine, and whatever is left vanishes with the grader.
//! Each check then gets a PID namespace of its own, whose init the grader kills when the check
//! ends: every descendant dies with it, even one that left its process group and daemonised.
//! Student processes run as an unprivileged user, so that the process limit binds and the
//! grader's files are out of reach.
//!
//! Where it may not, it grades in the machine's namespaces as the user it runs as: leaks are
//! attributed by snapshot alone, and leftover processes are found as the grader's descendants
//! (it is the child subreaper of everything it starts). The report's header says which mode
//! ran.

use std::collections::BTreeSet;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::mount::{MsFlags, mount};
use nix::sched::{CloneFlags, unshare};
use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;

use crate::confine::{self, Init, SANDBOX_USER};

/// How the grader isolates what it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Isolation {
    /// Private IPC and mount namespaces and a private `/dev/shm` (else: snapshot and diff).
    pub namespaces: bool,
    /// A fresh PID namespace per check (else: process groups and the subreaper).
    pub pid_namespaces: bool,
    /// The user and group student processes run as (else: the grader's own).
    pub user: Option<(u32, u32)>,
}

impl Isolation {
    /// No isolation: the machine's namespaces, the grader's user.
    pub const NONE: Isolation = Isolation {
        namespaces: false,
        pid_namespaces: false,
        user: None,
    };

    /// The words in the report's header.
    pub fn describe(self) -> String {
        let mut text = if self.namespaces {
            String::from("namespaces (private IPC namespace and /dev/shm")
        } else {
            String::from("snapshot (the machine's IPC namespace, diffed per check")
        };
        if self.pid_namespaces {
            text.push_str("; a PID namespace per check");
        } else {
            text.push_str("; process groups");
        }
        match self.user {
            Some((uid, _)) => text.push_str(&format!("; programs run as uid {uid})")),
            None => text.push_str("; programs run as the grader's user)"),
        }
        text
    }
}

/// The size of the private `/dev/shm`: room for the largest object a spec allows (a 1 GiB
/// ring and its input), and a bound on what a submission can fill.
pub const DEV_SHM_SIZE: &str = "size=4g";

/// How much isolation to ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Private IPC and mount namespaces (a private `/dev/shm`) where permitted.
    Auto,
    /// `Auto`, plus a PID namespace per check and programs run as an unprivileged user: for
    /// submissions that may be hostile (a fork bomb, a daemon that escapes its group).
    Strict,
    /// The machine's namespaces and the grader's user.
    None,
}

/// Enters private namespaces as `mode` asks and the machine permits. Call before any thread
/// is started: `unshare` of a mount namespace is refused to a multi-threaded process.
pub fn enter(mode: Mode) -> Isolation {
    if mode == Mode::None {
        return Isolation::NONE;
    }
    let namespaces = try_enter().is_ok();
    let strict = mode == Mode::Strict && namespaces;
    let pid_namespaces = strict && confine::probe_pid_namespaces().is_ok();
    let root = nix::unistd::geteuid().is_root();
    Isolation {
        namespaces,
        pid_namespaces,
        user: (root && strict).then_some(SANDBOX_USER),
    }
}

fn try_enter() -> nix::Result<()> {
    unshare(CloneFlags::CLONE_NEWIPC | CloneFlags::CLONE_NEWNS)?;
    // Keep our mounts from propagating back to the machine, then give /dev/shm a fresh tmpfs.
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )?;
    mount(
        Some("tmpfs"),
        crate::leaks::DEV_SHM,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        Some(format!("mode=1777,{DEV_SHM_SIZE}").as_str()),
    )
}

/// What a check runs inside: its PID namespace, if any, and what must be cleaned after it.
pub struct Scope {
    init: Option<Init>,
    user: Option<(u32, u32)>,
    temp_before: BTreeSet<PathBuf>,
}

/// Folders anyone may write into, swept after each check for what the sandbox user left.
const SHARED_TEMP: &[&str] = &["/tmp", "/var/tmp"];

/// Prepares a check: its folder `dir` becomes the sandbox user's, and the processes it starts
/// from this thread go into a fresh PID namespace.
pub fn begin_check(isolation: &Isolation, dir: &Path) -> std::io::Result<Scope> {
    if let Some((uid, gid)) = isolation.user {
        std::os::unix::fs::chown(dir, Some(uid), Some(gid))?;
    }
    let init = if isolation.pid_namespaces {
        Some(confine::new_pid_namespace()?)
    } else {
        None
    };
    Ok(Scope {
        init,
        user: isolation.user,
        temp_before: owned_temp_entries(isolation.user),
    })
}

/// Ends a check: kills its PID namespace (every process in it), then every other descendant
/// of the grader, and removes what the sandbox user left in the shared temporary folders.
/// Returns the paths removed.
pub fn end_check(scope: Scope) -> Vec<PathBuf> {
    confine::leave_pid_namespace();
    if let Some(init) = scope.init {
        end_namespace(init);
    }
    crate::run::end_descendants();
    let mut removed = Vec::new();
    for path in owned_temp_entries(scope.user) {
        if scope.temp_before.contains(&path) {
            continue;
        }
        let gone = if path.is_dir() && !path.is_symlink() {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        };
        if gone.is_ok() {
            removed.push(path);
        }
    }
    removed
}

/// Kills the init of a check's namespace, which makes the kernel kill everything in it, and
/// reaps the grader's own children there, which the namespace waits for before it is gone.
fn end_namespace(init: Init) {
    let pid = Pid::from_raw(init.pid);
    let _ = kill(pid, Signal::SIGKILL);
    let give_up = Instant::now() + Duration::from_secs(10);
    loop {
        let mut init_gone = false;
        loop {
            match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) | Err(_) => break,
                Ok(status) => init_gone |= status.pid() == Some(pid),
            }
        }
        if init_gone || Instant::now() > give_up {
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The entries of the shared temporary folders owned by `user`.
fn owned_temp_entries(user: Option<(u32, u32)>) -> BTreeSet<PathBuf> {
    let Some((uid, _)) = user else {
        return BTreeSet::new();
    };
    SHARED_TEMP
        .iter()
        .filter_map(|dir| std::fs::read_dir(dir).ok())
        .flat_map(|entries| entries.flatten())
        .filter(|e| e.path().symlink_metadata().is_ok_and(|m| m.uid() == uid))
        .map(|e| e.path())
        .collect()
}
