//! Isolation of the grader's IPC, processes and files from the rest of the machine.
//!
//! Where it may (as root, or in a user namespace of its own), the grader moves itself at
//! start-up into a new IPC namespace and a new mount namespace with a private tmpfs on
//! `/dev/shm`. Everything it starts inherits both: `/proc/sysvipc` and `/dev/shm` then hold only
//! the objects of this grading, so a leak is attributed to the check that made it even while
//! other programs (another grader, a student's own tests) use IPC on the same machine, and
//! whatever is left vanishes with the grader. Each check then gets a PID namespace of its own,
//! whose init the grader kills when the check ends: every descendant dies with it, even one that
//! left its process group and daemonised. Run as root, the grader runs student processes as an
//! unprivileged user, so that the process limit binds and the grader's files are out of reach.
//!
//! Where it may not, it grades in the machine's namespaces: leaks are attributed by snapshot
//! alone, and leftover processes are found as the grader's descendants (it is the child
//! subreaper of everything it starts). The report's header says which mode ran.

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

    /// Whether this is full isolation: IPC, mount and PID namespaces, and programs that do
    /// not run as root.
    pub fn full(self) -> bool {
        self.namespaces
            && self.pid_namespaces
            && (self.user.is_some() || !nix::unistd::geteuid().is_root())
    }

    /// The words in the report's header.
    pub fn describe(self) -> String {
        let user = match self.user {
            Some((uid, _)) => format!("programs run as uid {uid}"),
            None if !nix::unistd::geteuid().is_root() => format!(
                "programs run as the grader's user, uid {}, and can reach whatever it can \
                 outside the grading's own read-only folder: grade as root for a user of the \
                 grading's own",
                nix::unistd::geteuid()
            ),
            None => format!(
                "programs run as the grader's user, uid {}",
                nix::unistd::geteuid()
            ),
        };
        if self.full() {
            return format!(
                "full (private IPC and mount namespaces and /dev/shm, a PID namespace per \
                 check; {user})"
            );
        }
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
        text.push_str(&format!("; {user})"));
        text
    }

    /// Checks that the sandbox user can reach what its programs need: `executables` (the
    /// built programs, the grader's own helper; folders must be searchable) and `readable`
    /// (the fault-injection library). A grader in a folder others may not enter (a home folder
    /// of mode 0750) cannot run programs as another user; the error names what is out of
    /// reach (see [`Isolation::without_user`]).
    pub fn reaching(self, executables: &[&Path], readable: &[&Path]) -> Result<Isolation, String> {
        let Some(user) = self.user else {
            return Ok(self);
        };
        let mut cmd = std::process::Command::new("/bin/sh");
        cmd.arg("-c")
            .arg(
                r#"for p; do case $p in r:*) [ -r "${p#r:}" ] ;; *) [ -x "${p#x:}" ] ;; esac || { echo "${p#?:}"; exit 1; }; done"#,
            )
            .arg("sh")
            .args(readable.iter().map(|p| format!("r:{}", p.display())))
            .args(executables.iter().map(|p| format!("x:{}", p.display())))
            .current_dir("/")
            .stdin(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        confine::apply(
            &mut cmd,
            confine::Sandbox {
                limits: confine::Limits::for_check(Duration::from_secs(5)),
                user: Some(user),
                own_proc: false,
            },
        );
        match cmd.output() {
            Ok(out) if out.status.success() => Ok(self),
            Ok(out) => Err(format!(
                "uid {} cannot reach {}",
                user.0,
                String::from_utf8_lossy(&out.stdout).trim()
            )),
            Err(e) => Err(format!("cannot run a program as uid {}: {e}", user.0)),
        }
    }

    /// The same isolation with programs run as the grader's own user.
    pub fn without_user(self) -> Isolation {
        Isolation { user: None, ..self }
    }
}

/// The size of the private `/dev/shm`, in bytes, from what the assignments declare they need
/// ([`crate::needs`], each assignment's `needs.rs`): twice the largest object a handout allows
/// beside what the checks use at once (room for posix-shm's 1 GiB ring and an input as large),
/// in whole GiB rounded up to a power of two — 4 GiB for the kit's assignments. A bound on what
/// a submission can fill, not a reservation.
pub fn dev_shm_size(needs: &crate::needs::Needs) -> u64 {
    const GIB: u64 = 1 << 30;
    let most = needs.dev_shm_largest.amount + needs.dev_shm.amount;
    (2 * most).div_ceil(GIB).next_power_of_two().max(1) * GIB
}

/// How much isolation to ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Everything the machine permits: private IPC and mount namespaces (a private
    /// `/dev/shm`) and a PID namespace per check where they can be made (as root, or in a user
    /// namespace of the grader's own), programs run as an unprivileged user when the grader is
    /// root; else snapshot and diff, process groups, the grader's user.
    Auto,
    /// `Auto`, but refuse to grade (exit 2) where full isolation cannot be had.
    Strict,
    /// The machine's namespaces and the grader's user.
    None,
}

/// Enters private namespaces as `mode` asks and the machine permits. Call before any thread
/// is started: `unshare` of a mount namespace is refused to a multi-threaded process. Fails
/// only for `Strict` without full isolation, saying what is missing.
pub fn enter(mode: Mode) -> Result<Isolation, String> {
    if mode == Mode::None {
        return Ok(Isolation::NONE);
    }
    let root = nix::unistd::geteuid().is_root();
    let namespaces = if root {
        try_enter().is_ok()
    } else {
        // A user namespace cannot be left once entered: try it all in a child first.
        confine::in_child(|| enter_user_namespace().is_ok() && try_enter().is_ok())
            && enter_user_namespace().is_ok()
            && try_enter().is_ok()
    };
    // A grader in a user namespace of its own may make PID namespaces but not come back from
    // one into its own, which belongs to the machine: PID namespaces need root.
    let pid_namespaces = namespaces && root && confine::probe_pid_namespaces().is_ok();
    let isolation = Isolation {
        namespaces,
        pid_namespaces,
        user: root.then_some(SANDBOX_USER),
    };
    if mode == Mode::Strict && !isolation.full() {
        let missing = if !namespaces {
            "the grader may not make IPC and mount namespaces here"
        } else if !root {
            "PID namespaces need root (run it with sudo)"
        } else {
            "the grader may not make PID namespaces here"
        };
        return Err(format!(
            "--isolation strict: full isolation is not available: {missing}; \
             `--isolation auto` grades with what there is"
        ));
    }
    Ok(isolation)
}

/// Enters a new user namespace in which the grader keeps its own uid and gid (and has the
/// capabilities to make the other namespaces). Its programs run as that same unprivileged
/// user: a program the grader starts keeps no capability.
fn enter_user_namespace() -> std::io::Result<()> {
    let (uid, gid) = (nix::unistd::getuid(), nix::unistd::getgid());
    unshare(CloneFlags::CLONE_NEWUSER)?;
    // Without this a process without privilege may not write its gid map (kernels before 3.19
    // have no such file).
    match std::fs::write("/proc/self/setgroups", "deny") {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    std::fs::write("/proc/self/uid_map", format!("{uid} {uid} 1"))?;
    std::fs::write("/proc/self/gid_map", format!("{gid} {gid} 1"))?;
    Ok(())
}

fn try_enter() -> nix::Result<()> {
    let size = dev_shm_size(&crate::assignments::needs_of_all());
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
        crate::ipc::DEV_SHM,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        Some(format!("mode=1777,size={size}").as_str()),
    )?;
    // Best effort: without it the programs' POSIX message queues are not swept.
    let _ = mount_mqueue();
    Ok(())
}

/// Where the grading mounts the mqueue filesystem of its IPC namespace when the machine has
/// no `/dev/mqueue` folder: a folder of the private `/dev/shm` (so nothing is made on the
/// machine), only the grader's (mode 0700), which no listing of `/dev/shm` reports.
const PRIVATE_MQUEUE: &str = "/dev/shm/.ipclab-mqueue";

/// Mounts an mqueue filesystem, which lists the POSIX message queues of the IPC namespace of
/// the process that mounts it (this fresh one), on `/dev/mqueue` in this mount namespace, or
/// where there is no such folder on [`PRIVATE_MQUEUE`]; the leak sweep lists it
/// ([`crate::ipc::mqueue_dir`]).
fn mount_mqueue() -> nix::Result<()> {
    let flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    let machine = Path::new(crate::ipc::DEV_MQUEUE);
    if machine.symlink_metadata().is_ok_and(|m| m.is_dir()) {
        return mount(Some("mqueue"), machine, Some("mqueue"), flags, None::<&str>);
    }
    let private = Path::new(PRIVATE_MQUEUE);
    nix::unistd::mkdir(private, nix::sys::stat::Mode::S_IRWXU)?;
    mount(Some("mqueue"), private, Some("mqueue"), flags, None::<&str>)?;
    crate::ipc::set_private_mqueue(private.to_path_buf());
    Ok(())
}

/// What a check runs inside: its PID namespace, if any, and what must be cleaned after it.
pub struct Scope {
    init: Option<Init>,
    user: Option<(u32, u32)>,
    /// The check's own folder, removed whole after the check: not swept.
    dir: PathBuf,
    temp_before: BTreeSet<PathBuf>,
}

/// Folders anyone may write into on most systems, swept after each check for what the sandbox
/// user left, with every other such folder [`shared_folders`] finds.
/// (`/dev/mqueue` is not one of them: its queues are [`crate::leaks`]'s, as `/dev/shm`'s
/// entries are.)
const SHARED_TEMP: &[&str] = &["/tmp", "/var/tmp", "/run/lock", "/var/lock"];
/// How deep below `/` [`shared_folders`] looks for other folders anyone may write into (the
/// sweep itself goes to any depth below those).
const SHARED_SCAN_DEPTH: usize = 3;
/// Bounds of the sweep's walk: how deep below a shared folder, and how many entries in all.
const SWEEP_DEPTH: usize = 32;
const SWEEP_ENTRIES: usize = 200_000;

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
        dir: dir.to_path_buf(),
        temp_before: owned_temp_entries(isolation.user, dir),
    })
}

/// Ends a check: kills its PID namespace (every process in it), then every other descendant
/// of the grader, and removes what the sandbox user left in the shared folders, at any depth
/// (a folder it made, with all it holds, without following symbolic links). Returns the paths
/// removed: only those that are really gone.
pub fn end_check(scope: Scope) -> Vec<PathBuf> {
    confine::leave_pid_namespace();
    if let Some(init) = scope.init {
        end_namespace(init);
    }
    crate::run::end_descendants();
    let mut removed = Vec::new();
    for path in owned_temp_entries(scope.user, &scope.dir) {
        if scope.temp_before.contains(&path) {
            continue;
        }
        if crate::leaks::remove_entry(&path).is_ok() {
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

/// What `user` owns in the shared folders ([`shared_folders`]) and every folder below them:
/// the entries it owns directly inside a folder others may write into (mode `o+w`), at any
/// depth. Its own folders are not entered: one it made is removed whole, and one that was
/// there before is another check's (a grading beside this one, whose programs run as the same
/// user), as is `skip` (this check's own folder). Other folders are entered where `user` may
/// search them, for a folder anyone may write into may be nested in one it may only cross.
fn owned_temp_entries(user: Option<(u32, u32)>, skip: &Path) -> BTreeSet<PathBuf> {
    let Some((uid, gid)) = user else {
        return BTreeSet::new();
    };
    owned_below(shared_folders(uid, gid), (uid, gid), skip)
}

/// [`owned_temp_entries`] below `roots`.
fn owned_below(roots: &[PathBuf], (uid, gid): (u32, u32), skip: &Path) -> BTreeSet<PathBuf> {
    let mut owned = BTreeSet::new();
    let mut budget = SWEEP_ENTRIES;
    let mut stack: Vec<(PathBuf, usize)> = roots.iter().map(|p| (p.clone(), 0)).collect();
    let mut seen = BTreeSet::new();
    while let Some((dir, depth)) = stack.pop() {
        let Ok(meta) = dir.symlink_metadata() else {
            continue;
        };
        if !meta.is_dir() || !seen.insert((meta.dev(), meta.ino())) {
            continue;
        }
        let open = meta.mode() & 0o002 != 0;
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            if budget == 0 {
                return owned;
            }
            budget -= 1;
            let path = entry.path();
            if path == skip {
                continue;
            }
            let Ok(meta) = path.symlink_metadata() else {
                continue;
            };
            if meta.uid() == uid && open {
                owned.insert(path);
            } else if meta.is_dir()
                && meta.uid() != uid
                && depth < SWEEP_DEPTH
                && searchable(&meta, uid, gid)
            {
                stack.push((path, depth + 1));
            }
        }
    }
    owned
}

/// Whether a folder of metadata `meta` may be searched by `uid` and `gid` (root aside).
fn searchable(meta: &std::fs::Metadata, uid: u32, gid: u32) -> bool {
    let mode = meta.mode();
    mode & 0o001 != 0
        || (meta.uid() == uid && mode & 0o100 != 0)
        || (meta.gid() == gid && mode & 0o010 != 0)
}

/// The folders the sandbox user (`uid`, `gid`) may write into although they are not its own
/// (mode `o+w`, like `/tmp`, `/var/tmp`, `/run/lock`) and may reach (every folder
/// above may be searched): [`SHARED_TEMP`] and those found within [`SHARED_SCAN_DEPTH`] of
/// `/`, once per grading. `/dev/shm` and `/dev/mqueue` are left to [`crate::leaks`], `/proc`
/// and `/sys` hold none. Folders nested in these are found by the sweep's walk.
fn shared_folders(uid: u32, gid: u32) -> &'static [PathBuf] {
    static FOUND: std::sync::OnceLock<Vec<PathBuf>> = std::sync::OnceLock::new();
    FOUND.get_or_init(|| {
        let writable = |meta: &std::fs::Metadata| meta.is_dir() && meta.mode() & 0o002 != 0;
        let mut found: BTreeSet<PathBuf> = SHARED_TEMP
            .iter()
            .map(PathBuf::from)
            .filter(|p| p.symlink_metadata().is_ok_and(|m| writable(&m)))
            .collect();
        let left_out = [
            Path::new("/proc"),
            Path::new("/sys"),
            Path::new(crate::ipc::DEV_SHM),
            Path::new(crate::ipc::DEV_MQUEUE),
        ];
        let mut stack = vec![(PathBuf::from("/"), 0)];
        while let Some((dir, depth)) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                let Ok(meta) = path.symlink_metadata() else {
                    continue;
                };
                if !meta.is_dir() || left_out.contains(&path.as_path()) {
                    continue;
                }
                if writable(&meta) {
                    found.insert(path);
                } else if depth + 1 < SHARED_SCAN_DEPTH && searchable(&meta, uid, gid) {
                    stack.push((path, depth + 1));
                }
            }
        }
        // Keep those the user may reach, and only the outermost of nested ones: the sweep
        // walks below them.
        let reachable = |p: &Path| {
            p.ancestors()
                .skip(1)
                .all(|a| a.symlink_metadata().is_ok_and(|m| searchable(&m, uid, gid)))
        };
        let all: Vec<PathBuf> = found.into_iter().filter(|p| reachable(p)).collect();
        all.iter()
            .filter(|p| !all.iter().any(|q| q != *p && p.starts_with(q)))
            .cloned()
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the sandbox user left in a world-writable folder is found at any depth, even below
    /// a folder it may only cross; not in a folder it may not write into, nor in the check's
    /// own folder, nor below a folder of its own that was there before (another check's).
    /// Needs root (to give folders to other users); passes trivially otherwise.
    #[test]
    fn the_sweep_finds_what_the_user_left_in_nested_world_writable_folders() {
        use std::os::unix::fs::{PermissionsExt, chown};
        if !nix::unistd::geteuid().is_root() {
            return;
        }
        let (user, other) = ((4242, 4242), 4343);
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("shared");
        let made = |path: &Path, mode: u32, owner: u32| {
            std::fs::create_dir(path).unwrap();
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
            chown(path, Some(owner), Some(owner)).unwrap();
        };
        let left = |path: &Path| {
            std::fs::write(path, b"").unwrap();
            chown(path, Some(user.0), Some(user.1)).unwrap();
        };
        made(&root, 0o1777, other);
        made(&root.join("shut"), 0o755, other);
        made(&root.join("shut/open"), 0o1777, other);
        made(&root.join("shut/closed"), 0o700, other);
        made(&root.join("check"), 0o700, user.0);
        made(&root.join("mine"), 0o755, user.0);
        made(&root.join("shut/beside"), 0o700, user.0);
        made(&root.join("shut/beside/open"), 0o1777, user.0);
        left(&root.join("top"));
        left(&root.join("shut/open/deep"));
        left(&root.join("shut/closed/hidden"));
        left(&root.join("check/own"));
        left(&root.join("mine/inside"));
        left(&root.join("shut/beside/open/theirs"));
        let found = owned_below(std::slice::from_ref(&root), user, &root.join("check"));
        let expected: BTreeSet<PathBuf> = ["mine", "shut/open/deep", "top"]
            .iter()
            .map(|p| root.join(p))
            .collect();
        assert_eq!(found, expected);
        for path in &found {
            crate::leaks::remove_entry(path).unwrap();
        }
        assert!(owned_below(std::slice::from_ref(&root), user, &root.join("check")).is_empty());
    }

    #[test]
    fn the_private_dev_shm_holds_twice_the_largest_ring_beside_the_checks() {
        use crate::needs::{Need, Needs};
        assert_eq!(dev_shm_size(&crate::assignments::needs_of_all()), 4 << 30);
        assert_eq!(dev_shm_size(&Needs::default()), 1 << 30);
        let big = Needs {
            dev_shm_largest: Need::new(3 << 30, "a 3 GiB ring"),
            ..Needs::default()
        };
        assert_eq!(dev_shm_size(&big), 8 << 30);
    }

    /// In the namespaces a grading enters (a user namespace of its own first, without root),
    /// a POSIX message queue a program leaves is found by the snapshot diff after the check,
    /// named, and removed; the machine's queues are not touched. Runs in a forked child, which
    /// has one thread and may enter a mount namespace. Passes trivially where no namespace
    /// may be made.
    #[test]
    fn the_sweep_finds_and_removes_a_leaked_posix_message_queue() {
        use crate::leaks::{Object, Snapshot};
        use nix::mqueue::{MQ_OFlag, mq_close, mq_open};
        use nix::sys::stat::Mode;
        let root = nix::unistd::geteuid().is_root();
        let may =
            confine::in_child(|| (root || enter_user_namespace().is_ok()) && try_enter().is_ok());
        if !may {
            return;
        }
        let name = crate::leaks::unique_name("/ipclab-mq-test");
        let swept = confine::in_child(|| {
            if !(root || enter_user_namespace().is_ok()) || try_enter().is_err() {
                return false;
            }
            let Some(dir) = crate::ipc::mqueue_dir().filter(|d| crate::ipc::is_mqueue_fs(d)) else {
                return false;
            };
            let before = Snapshot::take();
            // The check's program: opens a queue, sends nothing, exits without mq_unlink.
            let leak = confine::in_child(|| {
                let flags = MQ_OFlag::O_CREAT | MQ_OFlag::O_EXCL | MQ_OFlag::O_WRONLY;
                mq_open(name.as_str(), flags, Mode::S_IRUSR | Mode::S_IWUSR, None)
                    .and_then(mq_close)
                    .is_ok()
            });
            let added = Snapshot::take().added_since(&before);
            let expected = Object::PosixMq {
                name: name[1..].into(),
            };
            let found = leak && added == [expected.clone()];
            let removed = expected.remove().is_ok();
            let gone =
                !dir.join(&name[1..]).exists() && Snapshot::take().added_since(&before).is_empty();
            found && removed && gone
        });
        assert!(swept, "the leaked queue {name} was not found and removed");
        // Nothing of it on the machine.
        assert!(!Path::new(crate::ipc::DEV_MQUEUE).join(&name[1..]).exists());
    }
}
