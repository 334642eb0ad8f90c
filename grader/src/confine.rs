//! What the grader does in a child between `fork` and `exec`, and the small init of a check's
//! PID namespace: resource limits, an unprivileged user, and a process that lives only to be
//! pid 1. These need `pre_exec` and `fork`, which are `unsafe`; this file allows it for itself
//! and explains every block. Everything a forked child runs here is async-signal-safe: plain
//! system calls on values prepared before the fork, no allocation, no lock.
#![allow(unsafe_code)]

use std::io;
use std::os::fd::OwnedFd;
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
}

/// The unprivileged user student processes run as when the grader is root: `nobody`.
pub const SANDBOX_USER: (u32, u32) = (65534, 65534);

/// Makes `cmd`'s child set `sandbox`'s limits, then drop to its user, before `exec`.
pub fn apply(cmd: &mut Command, sandbox: Sandbox) {
    let Sandbox { limits, user } = sandbox;
    let hard_cpu = limits.cpu_secs + 1;
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
        if let Some((uid, gid)) = user {
            // Groups first, then the group, then the user: after `setuid` none is allowed.
            setgroups(&[])?;
            setgid(Gid::from_raw(gid))?;
            setuid(Uid::from_raw(uid))?;
        }
        Ok(())
    };
    // SAFETY: the closure runs in the forked child before `exec`; it makes only the system
    // calls `setrlimit`, `setgroups`, `setgid` and `setuid` on values copied into it before
    // the fork (the empty group list is a constant slice), all async-signal-safe, and neither
    // allocates nor takes a lock.
    unsafe {
        cmd.pre_exec(set);
    }
}

/// The init of a check's PID namespace: pid 1 there, reaping orphans until the grader kills
/// it, which kills every process of the namespace.
pub struct Init {
    /// Its pid in the grader's namespace.
    pub pid: i32,
}

/// The grader's own PID namespace, once per-check namespaces are known to work.
static OWN_PID_NS: OnceLock<OwnedFd> = OnceLock::new();
/// The PID namespace of the check in progress, which [`in_check_namespace`] spawns into.
static CHECK_PID_NS: Mutex<Option<OwnedFd>> = Mutex::new(None);

/// Whether this thread may give its children a PID namespace of their own, and come back;
/// remembers the grader's own namespace if so.
pub fn probe_pid_namespaces() -> io::Result<()> {
    // `File::open` sets O_CLOEXEC: no child inherits it.
    let own = OwnedFd::from(std::fs::File::open("/proc/self/ns/pid")?);
    unshare(CloneFlags::CLONE_NEWPID)?;
    setns(&own, CloneFlags::CLONE_NEWPID)?;
    let _ = OWN_PID_NS.set(own);
    Ok(())
}

/// Creates a fresh PID namespace and starts its init (pid 1 there); [`in_check_namespace`]
/// then starts processes in it. A thread whose children go to another namespace cannot start
/// threads, so the calling thread comes back to the grader's namespace at once.
pub fn new_pid_namespace() -> io::Result<Init> {
    let own = OWN_PID_NS
        .get()
        .ok_or_else(|| io::Error::other("PID namespaces were not probed"))?;
    unshare(CloneFlags::CLONE_NEWPID)?;
    // SAFETY: the grader has other threads, so the child may only make async-signal-safe
    // calls: it does `prctl`, `close_range`, `waitpid` and `nanosleep` in a loop and never
    // returns.
    let forked = unsafe { nix::unistd::fork() };
    if let Ok(ForkResult::Child) = forked {
        init_loop();
    }
    setns(own, CloneFlags::CLONE_NEWPID)?;
    let pid = match forked? {
        ForkResult::Parent { child } => child.as_raw(),
        ForkResult::Child => unreachable!("the child is in init_loop"),
    };
    let ns = OwnedFd::from(std::fs::File::open(format!("/proc/{pid}/ns/pid"))?);
    *CHECK_PID_NS.lock().unwrap_or_else(|e| e.into_inner()) = Some(ns);
    Ok(Init { pid })
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

/// pid 1 of a check's namespace: dies with the grader, holds none of its descriptors, and
/// reaps whatever is reparented to it. Signals from inside the namespace cannot reach it
/// (pid 1 has no handlers), only the grader's SIGKILL.
fn init_loop() -> ! {
    // SAFETY: `prctl(PR_SET_PDEATHSIG)` takes integers only.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) };
    // SAFETY: `close_range` takes integers; this process owns no Rust object using them.
    unsafe { libc::close_range(3, u32::MAX, 0) };
    let pause = libc::timespec {
        tv_sec: 0,
        tv_nsec: 20_000_000,
    };
    loop {
        // SAFETY: a null status pointer is allowed; `waitpid` takes integers otherwise.
        let reaped = unsafe { libc::waitpid(-1, std::ptr::null_mut(), 0) };
        if reaped <= 0 {
            // SAFETY: `pause` is a live timespec; a null remainder pointer is allowed.
            unsafe { libc::nanosleep(&pause, std::ptr::null_mut()) };
        }
    }
}
