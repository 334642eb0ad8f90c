//! What the grader does in a child between `fork` and `exec`, and the small init of a check's
//! PID namespace: resource limits, an unprivileged user, and a process that lives only to be
//! pid 1. These need `pre_exec` and `fork`, which are `unsafe`; this file allows it for itself
//! and explains every block. Everything a forked child runs here is async-signal-safe: plain
//! system calls on values prepared before the fork, no allocation, no lock.
#![allow(unsafe_code)]

use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use nix::sched::{CloneFlags, setns, unshare};
use nix::sys::resource::{Resource, setrlimit};
use nix::unistd::{ForkResult, Gid, Uid, setgid, setgroups, setuid};

const MIB: u64 = 1024 * 1024;

/// The limits every process the grader starts runs under (README, "How grading works").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// `RLIMIT_NPROC`: processes of the user (a fork bomb). Root is exempt: see [`Sandbox`].
    pub processes: u64,
    /// `RLIMIT_DATA`: bytes of private writable memory (heap, anonymous mappings) per process.
    pub data: u64,
    /// `RLIMIT_CPU`: seconds of CPU time per process (SIGXCPU, then SIGKILL a second later).
    pub cpu_secs: u64,
    /// `RLIMIT_FSIZE`: the largest file a process may write (SIGXFSZ beyond it).
    pub file_size: u64,
    /// `RLIMIT_NOFILE`: open descriptors per process.
    pub open_files: u64,
}

impl Limits {
    /// The limits for a check whose (scaled) time limit is `limit`: CPU time is twice the
    /// limit plus a second, since a check's processes may share it and the wall clock ends
    /// them first anyway.
    pub fn for_check(limit: Duration) -> Limits {
        Limits {
            processes: 256,
            data: 2048 * MIB,
            cpu_secs: 2 * limit.as_secs_f64().ceil() as u64 + 1,
            file_size: 2048 * MIB,
            open_files: 256,
        }
    }
}

/// How a student's process is confined: limits always; another user where the grader may
/// switch to one (it runs as root).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sandbox {
    /// Resource limits.
    pub limits: Limits,
    /// The user and group to run as, if any.
    pub user: Option<(u32, u32)>,
    /// A mount namespace of its own whose `/proc` shows only the processes of its PID
    /// namespace (the check's): no program sees, let alone reaches through `/proc/PID/fd`,
    /// a process of the machine or of another grading. Only where the process starts in a
    /// check's PID namespace, as root.
    pub own_proc: bool,
}

/// The unprivileged user student processes run as when the grader is root: `nobody`.
pub const SANDBOX_USER: (u32, u32) = (65534, 65534);

/// Makes `cmd`'s child set `sandbox`'s limits, drop to its user, and ask to be killed when
/// the grader dies, before `exec`.
pub fn apply(cmd: &mut Command, sandbox: Sandbox) {
    let Sandbox {
        limits,
        user,
        own_proc,
    } = sandbox;
    let hard_cpu = limits.cpu_secs + 1;
    let grader = std::process::id() as libc::pid_t;
    let set = move || -> io::Result<()> {
        let pairs = [
            (Resource::RLIMIT_NPROC, limits.processes, limits.processes),
            (Resource::RLIMIT_DATA, limits.data, limits.data),
            (Resource::RLIMIT_CPU, limits.cpu_secs, hard_cpu),
            (Resource::RLIMIT_FSIZE, limits.file_size, limits.file_size),
            (
                Resource::RLIMIT_NOFILE,
                limits.open_files,
                limits.open_files,
            ),
        ];
        for (resource, soft, hard) in pairs {
            setrlimit(resource, soft, hard)?;
        }
        if own_proc {
            mount_own_proc()?;
        }
        if let Some((uid, gid)) = user {
            // Groups first, then the group, then the user: after `setuid` none is allowed.
            setgroups(&[])?;
            setgid(Gid::from_raw(gid))?;
            setuid(Uid::from_raw(uid))?;
        }
        // Last: a change of user clears the parent-death signal.
        die_with_parent(grader)
    };
    // SAFETY: the closure runs in the forked child before `exec`; it makes only the system
    // calls `setrlimit`, `unshare`, `mount`, `setgroups`, `setgid`, `setuid`, `prctl` and
    // `getppid` on values copied into it before the fork (the empty group list is a constant
    // slice, the mount's strings are constants), all async-signal-safe, and neither allocates
    // nor takes a lock.
    unsafe {
        cmd.pre_exec(set);
    }
}

/// In a child of the grader between `fork` and `exec`: a new mount namespace (a copy of the
/// grader's) with a fresh `/proc` on top, which shows the processes of the child's own PID
/// namespace.
fn mount_own_proc() -> io::Result<()> {
    // SAFETY: `unshare` takes an integer; `mount` takes NUL-terminated constants and a null
    // data pointer. Neither allocates nor takes a lock.
    unsafe {
        if libc::unshare(libc::CLONE_NEWNS) != 0 {
            return Err(io::Error::last_os_error());
        }
        let flags = libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC;
        if libc::mount(
            c"proc".as_ptr(),
            c"/proc".as_ptr(),
            c"proc".as_ptr(),
            flags,
            std::ptr::null(),
        ) != 0
        {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// In a child of the grader (pid `grader`), between `fork` and `exec`: be killed (SIGKILL)
/// when the grader's thread that forked it ends, so that a grader killed by SIGKILL leaves no
/// program running. A grader that died before the request was made has already handed its
/// children on: the parent is then another process, and the child gives up at once. A parent
/// outside the child's PID namespace reads as 0; there the namespace's init dies with the
/// grader and takes every process of the namespace with it.
fn die_with_parent(grader: libc::pid_t) -> io::Result<()> {
    // SAFETY: `prctl(PR_SET_PDEATHSIG)` takes integers only.
    if unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `getppid` takes nothing and cannot fail.
    let parent = unsafe { libc::getppid() };
    if parent != grader && parent != 0 {
        // No allocation here: an OS error code, not a message.
        return Err(io::Error::from_raw_os_error(libc::ESRCH));
    }
    Ok(())
}

/// The init of a check's PID namespace: pid 1 there, reaping orphans until the grader kills
/// it, which kills every process of the namespace.
pub struct Init {
    /// Its pid in the grader's namespace.
    pub pid: i32,
}

/// The grader's own PID namespace, once per-check namespaces are known to work.
static OWN_PID_NS: OnceLock<OwnedFd> = OnceLock::new();
/// A pidfd of the grader itself, which the init of a check's namespace watches: it becomes
/// readable when the grader has died.
static LIFELINE: OnceLock<OwnedFd> = OnceLock::new();
/// The PID namespace of the check in progress, which [`in_check_namespace`] spawns into.
static CHECK_PID_NS: Mutex<Option<OwnedFd>> = Mutex::new(None);

/// Whether this thread may give its children a PID namespace of their own, and come back;
/// remembers the grader's own namespace if so.
pub fn probe_pid_namespaces() -> io::Result<()> {
    // `File::open` sets O_CLOEXEC: no child inherits it.
    let own = OwnedFd::from(std::fs::File::open("/proc/self/ns/pid")?);
    unshare(CloneFlags::CLONE_NEWPID)?;
    setns(&own, CloneFlags::CLONE_NEWPID)?;
    let lifeline = crate::sys::pidfd_open(std::process::id() as libc::pid_t)?;
    let _ = LIFELINE.set(lifeline);
    let _ = OWN_PID_NS.set(own);
    Ok(())
}

/// Creates a fresh PID namespace and starts its init (pid 1 there); [`in_check_namespace`]
/// then starts processes in it. A thread whose children go to another namespace cannot start
/// threads, so the calling thread comes back to the grader's namespace at once.
pub fn new_pid_namespace() -> io::Result<Init> {
    let (Some(own), Some(lifeline)) = (OWN_PID_NS.get(), LIFELINE.get()) else {
        return Err(io::Error::other("PID namespaces were not probed"));
    };
    let lifeline = lifeline.as_raw_fd();
    unshare(CloneFlags::CLONE_NEWPID)?;
    // SAFETY: the grader has other threads, so the child may only make async-signal-safe
    // calls: it does `prctl`, `close_range`, `waitpid`, `poll` and `_exit` and never returns.
    let forked = unsafe { nix::unistd::fork() };
    if let Ok(ForkResult::Child) = forked {
        init_loop(lifeline);
    }
    let pid = match forked {
        Ok(ForkResult::Parent { child }) => child.as_raw(),
        Ok(ForkResult::Child) => unreachable!("the child is in init_loop"),
        Err(e) => {
            setns(own, CloneFlags::CLONE_NEWPID)?;
            return Err(e.into());
        }
    };
    // Pid 2 goes to a child that exits at once, so that no program of the check is pid 1 or
    // 2: a machine never gives those to a program, and protocols may rely on it (msgq's reply
    // types are client pids, 1 and 2 are request types). Pids are handed out in increasing
    // order, so the check's first program is pid 3.
    let burned = burn_a_pid();
    setns(own, CloneFlags::CLONE_NEWPID)?;
    burned?;
    let ns = OwnedFd::from(std::fs::File::open(format!("/proc/{pid}/ns/pid"))?);
    *CHECK_PID_NS.lock().unwrap_or_else(|e| e.into_inner()) = Some(ns);
    Ok(Init { pid })
}

/// Runs `f` in a forked child and says whether it returned true there: a way to try what
/// cannot be undone (entering a user namespace). Call only while the grader has one thread.
pub fn in_child(f: impl FnOnce() -> bool) -> bool {
    // SAFETY: the grader has a single thread when it calls this (before it starts any), so
    // the child may do whatever the parent could; it leaves by `_exit`, so that nothing the
    // parent owns is flushed or dropped twice.
    match unsafe { nix::unistd::fork() } {
        Ok(ForkResult::Child) => {
            let code = if f() { 0 } else { 1 };
            // SAFETY: `_exit` takes an integer and does not return.
            unsafe { libc::_exit(code) }
        }
        Ok(ForkResult::Parent { child }) => matches!(
            nix::sys::wait::waitpid(child, None),
            Ok(nix::sys::wait::WaitStatus::Exited(_, 0))
        ),
        Err(_) => false,
    }
}

/// Forks a child that exits at once, and reaps it.
fn burn_a_pid() -> io::Result<()> {
    // SAFETY: the grader has other threads, so the child may only make async-signal-safe
    // calls: it calls `_exit` at once.
    match unsafe { nix::unistd::fork() }? {
        ForkResult::Child => {
            // SAFETY: `_exit` takes an integer and does not return.
            unsafe { libc::_exit(0) }
        }
        ForkResult::Parent { child } => {
            nix::sys::wait::waitpid(child, None)?;
            Ok(())
        }
    }
}

/// Forgets the check's namespace: processes start in the grader's own again.
pub fn leave_pid_namespace() {
    *CHECK_PID_NS.lock().unwrap_or_else(|e| e.into_inner()) = None;
}

/// Runs `spawn` (which starts a process and no thread) with the calling thread's children
/// going into the check's PID namespace, if there is one.
pub fn in_check_namespace<T>(spawn: impl FnOnce() -> T) -> T {
    let check = CHECK_PID_NS.lock().unwrap_or_else(|e| e.into_inner());
    let (Some(ns), Some(own)) = (check.as_ref(), OWN_PID_NS.get()) else {
        return spawn();
    };
    let entered = setns(ns, CloneFlags::CLONE_NEWPID).is_ok();
    let result = spawn();
    if entered {
        let _ = setns(own, CloneFlags::CLONE_NEWPID);
    }
    result
}

/// pid 1 of a check's namespace: dies with the grader, holds none of its descriptors but
/// `lifeline` (a pidfd of the grader), and reaps whatever is reparented to it. Signals from
/// inside the namespace cannot reach it (pid 1 has no handlers), only the grader's SIGKILL.
/// When it dies, the kernel kills every process of the namespace. The parent-death signal
/// ends it as the grader dies; the lifeline, readable once the grader is gone, ends it even
/// if the grader died before that signal was asked for.
fn init_loop(lifeline: RawFd) -> ! {
    // SAFETY: `prctl(PR_SET_PDEATHSIG)` takes integers only.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) };
    let keep = lifeline as u32;
    // SAFETY: `close_range` takes integers; this process owns no Rust object using them.
    unsafe {
        libc::close_range(3, keep - 1, 0);
        libc::close_range(keep + 1, u32::MAX, 0);
    }
    let mut watch = libc::pollfd {
        fd: lifeline,
        events: libc::POLLIN,
        revents: 0,
    };
    loop {
        // SAFETY: a null status pointer is allowed; `waitpid` takes integers otherwise.
        while unsafe { libc::waitpid(-1, std::ptr::null_mut(), libc::WNOHANG) } > 0 {}
        // SAFETY: `watch` is one live pollfd, and the count says one.
        if unsafe { libc::poll(&mut watch, 1, 20) } > 0 {
            // SAFETY: `_exit` takes an integer and does not return.
            unsafe { libc::_exit(0) };
        }
    }
}
