//! The build sandbox: a submission's build (Cargo, its build scripts and proc-macros, `make`)
//! runs code the submission brings, so it runs in a world of its own. The grader starts
//! itself again as `grader sandbox SPEC` (a fresh, single-threaded process), which
//!
//! - makes new mount, PID, network, IPC and UTS namespaces (in a user namespace of its own
//!   when the grader is not root): no network but a loopback that is down, no process of the
//!   machine in sight, a `/proc` of its own;
//! - builds a new root on a small tmpfs holding only the system's programs and libraries
//!   (`/usr`, `/bin`, `/lib*`, a few files of `/etc`, read-only), the Rust toolchain and the
//!   starter's vendored dependencies (read-only), the submission's copy, the build's target
//!   folder and an output folder (writable), and a fresh `/tmp`; the kit, the grader, other
//!   submissions, hidden checks, the home folders and the results are not mounted at all;
//! - drops to the grading's own unprivileged user (as root), with resource limits and
//!   `no_new_privs`, and executes the build as pid 1 of its PID namespace, so that everything
//!   the build started dies with it.
//!
//! The grader kills the launcher at the build's time limit; the build's namespace dies with it
//! (its init has the launcher's death as its parent-death signal).

use std::ffi::CString;
use std::fs;
use std::os::unix::fs::{DirBuilderExt, symlink};
use std::path::{Path, PathBuf};

use nix::mount::{MntFlags, MsFlags, mount, umount2};
use nix::sched::{CloneFlags, unshare};
use nix::sys::resource::{Resource, setrlimit};
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::{Gid, Uid, chdir, execve, pivot_root, setgid, setgroups, sethostname, setuid};
use serde::{Deserialize, Serialize};

/// The exit status of a launcher that could not make the sandbox (before the build ran).
pub const EXIT_NO_SANDBOX: i32 = 125;

/// What the launcher prints first when it sandboxes the build in a user namespace of its
/// own, followed by the uid the build then runs as.
pub const USER_NAMESPACE_NOTE: &str = "grader sandbox note: in a user namespace, as uid ";

/// A folder of the machine shown inside the sandbox.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Bind {
    /// The folder (or file) on the machine.
    pub from: PathBuf,
    /// Where it appears inside (absolute).
    pub to: PathBuf,
    /// Whether the build may write to it.
    pub writable: bool,
}

/// Everything the launcher needs, passed as one JSON argument.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Spec {
    /// An empty folder of the grader's own: the new root's mount point.
    pub root: PathBuf,
    /// The folders shown inside besides the system's.
    pub binds: Vec<Bind>,
    /// The user and group the build runs as (as root), none to keep the grader's own.
    pub user: Option<(u32, u32)>,
    /// The working folder, inside.
    pub cwd: PathBuf,
    /// The whole environment of the build.
    pub env: Vec<(String, String)>,
    /// The command and its arguments (the command by absolute path, inside).
    pub argv: Vec<String>,
    /// `RLIMIT_CPU` in seconds, per process.
    pub cpu_secs: u64,
    /// `RLIMIT_FSIZE` in bytes.
    pub file_size: u64,
    /// `RLIMIT_NPROC` (meaningful for the grading's own user).
    pub processes: u64,
    /// The size of the tmpfs on `/tmp`, in bytes.
    pub tmp_bytes: u64,
}

/// The machine's folders of programs and libraries, shown read-only (or as the same symbolic
/// links, where `/bin` and the like lead into `/usr`).
const SYSTEM: &[&str] = &[
    "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32",
];

/// What of `/etc` a compiler and linker need: users and groups, the dynamic loader's cache,
/// and the alternatives that `cc` leads through on Debian.
const ETC: &[&str] = &[
    "/etc/passwd",
    "/etc/group",
    "/etc/nsswitch.conf",
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/alternatives",
    "/etc/localtime",
];

/// The devices a build may use.
const DEVICES: &[&str] = &[
    "/dev/null",
    "/dev/zero",
    "/dev/full",
    "/dev/random",
    "/dev/urandom",
];

/// `grader sandbox SPEC`: makes the sandbox and runs the build in it; returns the exit status
/// to exit with (the build's, or [`EXIT_NO_SANDBOX`] with a message on stderr).
pub fn launch(spec_json: &str) -> i32 {
    let spec: Spec = match serde_json::from_str(spec_json) {
        Ok(spec) => spec,
        Err(e) => {
            eprintln!("grader sandbox: bad specification: {e}");
            return EXIT_NO_SANDBOX;
        }
    };
    let flags = CloneFlags::CLONE_NEWNS
        | CloneFlags::CLONE_NEWPID
        | CloneFlags::CLONE_NEWNET
        | CloneFlags::CLONE_NEWIPC
        | CloneFlags::CLONE_NEWUTS;
    // As root, the namespaces directly; without the capability for them (not root, or a root
    // whose bounding set lacks CAP_SYS_ADMIN), inside a user namespace of its own first.
    let direct = nix::unistd::geteuid().is_root() && unshare(flags).is_ok();
    if !direct {
        // The build's folders become the grader's own user's: the only one mapped there.
        let own = (
            nix::unistd::getuid().as_raw(),
            nix::unistd::getgid().as_raw(),
        );
        if spec.user.is_some_and(|u| u != own) {
            for b in spec.binds.iter().filter(|b| b.writable) {
                if let Err(e) = chown_tree(&b.from, own) {
                    eprintln!("grader sandbox: cannot take back {}: {e}", b.from.display());
                    return EXIT_NO_SANDBOX;
                }
            }
        }
        eprintln!("{USER_NAMESPACE_NOTE}{}", own.0);
        if let Err(e) = enter_user_namespace() {
            eprintln!("grader sandbox: no user namespace: {e}");
            return EXIT_NO_SANDBOX;
        }
        if let Err(e) = unshare(flags) {
            eprintln!("grader sandbox: cannot make namespaces: {e}");
            return EXIT_NO_SANDBOX;
        }
    }
    // The first child in a new PID namespace is its pid 1.
    match crate::sys::fork_single_threaded() {
        Err(e) => {
            eprintln!("grader sandbox: cannot fork: {e}");
            EXIT_NO_SANDBOX
        }
        Ok(None) => {
            let _ = nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL);
            // Another user only where the grader could make the namespaces as root; in a user
            // namespace of its own, the grader's user, without any capability.
            let user = if direct { spec.user } else { None };
            let e = enter_and_exec(&spec, user);
            eprintln!("grader sandbox: {e}");
            crate::sys::exit_now(EXIT_NO_SANDBOX)
        }
        Ok(Some(child)) => loop {
            match waitpid(child, None) {
                Ok(WaitStatus::Exited(_, code)) => return code,
                Ok(WaitStatus::Signaled(_, signal, _)) => return 128 + signal as i32,
                Ok(_) => continue,
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => {
                    eprintln!("grader sandbox: cannot wait for the build: {e}");
                    return EXIT_NO_SANDBOX;
                }
            }
        },
    }
}

/// Gives `dir` and everything under it to `owner`, never through a link.
fn chown_tree(dir: &Path, owner: (u32, u32)) -> std::io::Result<()> {
    for entry in walkdir::WalkDir::new(dir) {
        let entry = entry.map_err(std::io::Error::other)?;
        std::os::unix::fs::lchown(entry.path(), Some(owner.0), Some(owner.1))?;
    }
    Ok(())
}

/// Enters a new user namespace in which this process keeps its uid and gid (only its own
/// may a process map for itself).
fn enter_user_namespace() -> std::io::Result<()> {
    let (uid, gid) = (nix::unistd::getuid(), nix::unistd::getgid());
    unshare(CloneFlags::CLONE_NEWUSER)?;
    // A process may not write its gid map without this.
    match fs::write("/proc/self/setgroups", "deny") {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    fs::write("/proc/self/uid_map", format!("{uid} {uid} 1"))?;
    fs::write("/proc/self/gid_map", format!("{gid} {gid} 1"))?;
    Ok(())
}

/// In pid 1 of the new namespaces: builds the root, enters it, drops privileges, and executes
/// the build. Returns only on failure.
fn enter_and_exec(spec: &Spec, user: Option<(u32, u32)>) -> String {
    match prepare(spec, user) {
        Ok((path, argv, env)) => match execve(&path, &argv, &env) {
            Ok(never) => match never {},
            Err(e) => format!("cannot run {}: {e}", path.to_string_lossy()),
        },
        Err(e) => e,
    }
}

type Exec = (CString, Vec<CString>, Vec<CString>);

fn prepare(spec: &Spec, user: Option<(u32, u32)>) -> Result<Exec, String> {
    let root = &spec.root;
    let step = |what: &str, e: nix::Error| format!("{what}: {e}");
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .map_err(|e| step("cannot make the mounts private", e))?;
    mount(
        Some("tmpfs"),
        root,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        Some("size=16m,mode=0755"),
    )
    .map_err(|e| step("cannot mount the new root", e))?;
    for dir in SYSTEM {
        let host = Path::new(dir);
        let inside = under(root, host);
        match fs::symlink_metadata(host) {
            Ok(m) if m.file_type().is_symlink() => {
                let target = fs::read_link(host).map_err(|e| format!("{dir}: {e}"))?;
                symlink(target, &inside).map_err(|e| format!("{dir}: {e}"))?;
            }
            Ok(m) if m.is_dir() => bind(host, &inside, false)?,
            _ => {}
        }
    }
    for file in ETC.iter().chain(DEVICES) {
        let host = Path::new(file);
        if host.exists() {
            bind(host, &under(root, host), false)?;
        }
    }
    for b in &spec.binds {
        bind(&b.from, &under(root, &b.to), b.writable)?;
    }
    let proc_dir = under(root, Path::new("/proc"));
    make_dir(&proc_dir)?;
    mount(
        Some("proc"),
        &proc_dir,
        Some("proc"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        None::<&str>,
    )
    .map_err(|e| step("cannot mount /proc", e))?;
    let tmp = under(root, Path::new("/tmp"));
    make_dir(&tmp)?;
    mount(
        Some("tmpfs"),
        &tmp,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        Some(format!("size={},mode=1777", spec.tmp_bytes).as_str()),
    )
    .map_err(|e| step("cannot mount /tmp", e))?;
    // Nothing more is made in the root: it becomes read-only.
    mount(
        None::<&str>,
        root,
        None::<&str>,
        MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        None::<&str>,
    )
    .map_err(|e| step("cannot make the root read-only", e))?;
    chdir(root).map_err(|e| step("cannot enter the root", e))?;
    pivot_root(".", ".").map_err(|e| step("cannot pivot to the root", e))?;
    umount2(".", MntFlags::MNT_DETACH).map_err(|e| step("cannot leave the old root", e))?;
    chdir("/").map_err(|e| step("cannot enter /", e))?;
    let _ = sethostname("ipclab-build");
    let limits = [
        (Resource::RLIMIT_CPU, spec.cpu_secs),
        (Resource::RLIMIT_FSIZE, spec.file_size),
        (Resource::RLIMIT_NPROC, spec.processes),
        (Resource::RLIMIT_CORE, 0),
    ];
    for (resource, value) in limits {
        setrlimit(resource, value, value).map_err(|e| step("cannot set a limit", e))?;
    }
    // No capability survives the `exec` (a root of the namespace included: it could remount
    // what is read-only), then the user.
    crate::sys::drop_bounding_set().map_err(|e| format!("cannot drop capabilities: {e}"))?;
    if let Some((uid, gid)) = user {
        setgroups(&[]).map_err(|e| step("cannot drop groups", e))?;
        setgid(Gid::from_raw(gid)).map_err(|e| step("cannot change group", e))?;
        setuid(Uid::from_raw(uid)).map_err(|e| step("cannot change user", e))?;
    }
    nix::sys::prctl::set_no_new_privs().map_err(|e| step("cannot set no_new_privs", e))?;
    chdir(&spec.cwd).map_err(|e| format!("cannot enter {}: {e}", spec.cwd.display()))?;
    let c = |s: &str| CString::new(s).map_err(|_| format!("a NUL byte in {s:?}"));
    let argv = spec
        .argv
        .iter()
        .map(|a| c(a))
        .collect::<Result<Vec<_>, _>>()?;
    let env = spec
        .env
        .iter()
        .map(|(k, v)| c(&format!("{k}={v}")))
        .collect::<Result<Vec<_>, _>>()?;
    let path = argv.first().cloned().ok_or("no command")?;
    Ok((path, argv, env))
}

/// `root` joined with the absolute path `inside`.
fn under(root: &Path, inside: &Path) -> PathBuf {
    root.join(inside.strip_prefix("/").unwrap_or(inside))
}

fn make_dir(path: &Path) -> Result<(), String> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o755)
        .create(path)
        .map_err(|e| format!("cannot make {}: {e}", path.display()))
}

/// Shows `from` at `to` (made as an empty folder or file), read-only unless `writable`, never
/// with set-user-id programs or devices of its own.
fn bind(from: &Path, to: &Path, writable: bool) -> Result<(), String> {
    if from.is_dir() {
        make_dir(to)?;
    } else {
        if let Some(parent) = to.parent() {
            make_dir(parent)?;
        }
        fs::File::create(to).map_err(|e| format!("cannot make {}: {e}", to.display()))?;
    }
    let why = |e: nix::Error| format!("cannot show {} at {}: {e}", from.display(), to.display());
    mount(
        Some(from),
        to,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )
    .map_err(why)?;
    // A remount must keep the flags the mount already has (in a user namespace they are
    // locked, and a remount that drops one is refused).
    let mut flags = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_NOSUID | kept_flags(to);
    if !writable {
        flags |= MsFlags::MS_RDONLY;
    }
    // Devices keep working only where the mount allows them.
    if !DEVICES.iter().any(|d| Path::new(d) == from) {
        flags |= MsFlags::MS_NODEV;
    }
    mount(None::<&str>, to, None::<&str>, flags, None::<&str>).map_err(why)
}

/// The flags of the mount at `path` that a remount must keep.
fn kept_flags(path: &Path) -> MsFlags {
    use nix::sys::statvfs::{FsFlags, statvfs};
    let Ok(stat) = statvfs(path) else {
        return MsFlags::empty();
    };
    let have = stat.flags();
    let mut flags = MsFlags::empty();
    for (fs_flag, ms_flag) in [
        (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
        (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
        (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
        (FsFlags::ST_RDONLY, MsFlags::MS_RDONLY),
        (FsFlags::ST_NOATIME, MsFlags::MS_NOATIME),
        (FsFlags::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
        (FsFlags::ST_RELATIME, MsFlags::MS_RELATIME),
    ] {
        if have.contains(fs_flag) {
            flags |= ms_flag;
        }
    }
    flags
}
