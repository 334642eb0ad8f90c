//! The few system calls the grader needs that `nix` does not wrap: `wait4` (a child's status
//! with its resource usage), `pidfd_open` (a waitable handle on a child, for timeouts),
//! `close_range` and the SysV `*ctl(IPC_RMID)` calls. Each `unsafe` block is one call long.
#![allow(unsafe_code)]

use std::io;
use std::os::fd::{AsFd, FromRawFd, OwnedFd};
use std::time::Duration;

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

/// A C return type whose failure value is `-1`: `int`, `long`, `ssize_t`, or a pointer cast
/// to `isize` (`shmat`, `mmap`).
pub trait MinusOne: Copy + PartialEq {
    /// The failure value.
    const MINUS_ONE: Self;
}

impl MinusOne for i32 {
    const MINUS_ONE: Self = -1;
}

impl MinusOne for i64 {
    const MINUS_ONE: Self = -1;
}

impl MinusOne for isize {
    const MINUS_ONE: Self = -1;
}

/// Converts the C convention "`-1` and `errno`" into a `Result`: the grader's one place for
/// it (the assignments' raw calls use it too).
pub fn cvt<T: MinusOne>(ret: T) -> io::Result<T> {
    if ret == T::MINUS_ONE {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// `close_range(3, ~0, CLOSE_RANGE_CLOEXEC)`—Marks every descriptor above stderr
/// close-on-exec, so that nothing the grader inherited (from `make`, `cargo`, a CI runner)
/// reaches a student's program and spoils the stray-descriptor checks.
pub fn cloexec_from_3() -> io::Result<()> {
    // SAFETY: `close_range` with CLOSE_RANGE_CLOEXEC only sets a flag on descriptors; it closes
    // nothing, so no owner of a descriptor is invalidated.
    let ret = unsafe { libc::close_range(3, u32::MAX, libc::CLOSE_RANGE_CLOEXEC as libc::c_int) };
    cvt(ret).map(drop)
}

/// `pidfd_open(pid, 0)`—A descriptor that becomes readable when the process exits.
pub fn pidfd_open(pid: libc::pid_t) -> io::Result<OwnedFd> {
    // SAFETY: `pidfd_open` takes two integers and returns a new descriptor or -1.
    let fd = cvt(unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) })?;
    // SAFETY: the kernel just returned `fd` as a new descriptor that nobody else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as libc::c_int) })
}

/// Waits until `pidfd`'s process has exited or `timeout` has passed; true if it exited.
pub fn wait_readable(pidfd: &OwnedFd, timeout: Duration) -> io::Result<bool> {
    let ms = timeout.as_millis().min(i32::MAX as u128) as i32;
    let mut fds = [PollFd::new(pidfd.as_fd(), PollFlags::POLLIN)];
    match poll(
        &mut fds,
        PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX),
    ) {
        Ok(n) => Ok(n > 0),
        Err(nix::errno::Errno::EINTR) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// How a reaped process ended, with the CPU time it and its waited-for descendants used.
#[derive(Debug, Clone, Copy)]
pub struct Reaped {
    /// The raw `wait` status (decode with `libc::WIFEXITED` and friends).
    pub status: libc::c_int,
    /// User plus system CPU time, from `struct rusage`.
    pub cpu: Duration,
    /// The system part of `cpu`: time in the kernel on the process's behalf.
    pub kernel: Duration,
}

/// `wait4(pid, &status, WNOHANG, &rusage)`—Reaps `pid` if it has exited (`None` if it has
/// not), retried on `EINTR`.
pub fn wait4_nohang(pid: libc::pid_t) -> io::Result<Option<Reaped>> {
    let mut status = 0;
    // SAFETY: an all-zero `rusage` is a valid value of this plain C struct.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: both out-pointers point to live, writable locals of the right types.
        let ret = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
        match cvt(ret) {
            Ok(0) => return Ok(None),
            Ok(_) => break,
            Err(e) if e.raw_os_error() == Some(libc::EINTR) => continue,
            Err(e) => return Err(e),
        }
    }
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    Ok(Some(Reaped {
        status,
        cpu: tv(usage.ru_utime) + tv(usage.ru_stime),
        kernel: tv(usage.ru_stime),
    }))
}

/// `fork()` in a process that has a single thread (the `grader sandbox` launcher): the child
/// may then do anything the parent could. `None` in the child, the child's pid in the parent.
pub fn fork_single_threaded() -> io::Result<Option<nix::unistd::Pid>> {
    debug_assert_eq!(thread_count(), Some(1), "fork_single_threaded with threads");
    // SAFETY: the caller has one thread, so no lock or allocator state can be held by another
    // thread at the fork; the child continues as an ordinary single-threaded process.
    match unsafe { nix::unistd::fork() }? {
        nix::unistd::ForkResult::Child => Ok(None),
        nix::unistd::ForkResult::Parent { child } => Ok(Some(child)),
    }
}

/// The number of threads of this process, from `/proc/self/status`.
fn thread_count() -> Option<usize> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))?
        .trim()
        .parse()
        .ok()
}

/// `prctl(PR_CAPBSET_DROP, cap)` for every capability the kernel knows: no program this
/// process executes afterwards gains a capability, even as root (of its user namespace).
pub fn drop_bounding_set() -> io::Result<()> {
    for cap in 0..64 {
        // SAFETY: `prctl(PR_CAPBSET_DROP)` takes integers only.
        let ret = unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap as libc::c_ulong, 0, 0, 0) };
        if ret != 0 {
            let e = io::Error::last_os_error();
            // Past the last capability the kernel knows.
            if e.raw_os_error() == Some(libc::EINVAL) {
                return Ok(());
            }
            return Err(e);
        }
    }
    Ok(())
}

/// `_exit(code)`: ends the process at once, running no destructor and flushing nothing (a
/// forked child that must not touch what its parent owns).
pub fn exit_now(code: i32) -> ! {
    // SAFETY: `_exit` takes an integer and does not return.
    unsafe { libc::_exit(code) }
}

/// The three kinds of SysV IPC object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum IpcKind {
    /// A message queue (`ipcs -q`).
    Msg,
    /// A shared-memory segment (`ipcs -m`).
    Shm,
    /// A semaphore set (`ipcs -s`).
    Sem,
}

/// `msgctl`/`shmctl`/`semctl(id, IPC_RMID)`—Removes a SysV object by id.
pub fn ipc_remove(kind: IpcKind, id: i32) -> io::Result<()> {
    // SAFETY: IPC_RMID reads no buffer (NULL is allowed for msgctl and shmctl, and semctl
    // takes no fourth argument for it); an unknown id fails with EINVAL.
    let ret = unsafe {
        match kind {
            IpcKind::Msg => libc::msgctl(id, libc::IPC_RMID, std::ptr::null_mut()),
            IpcKind::Shm => libc::shmctl(id, libc::IPC_RMID, std::ptr::null_mut()),
            IpcKind::Sem => libc::semctl(id, 0, libc::IPC_RMID),
        }
    };
    cvt(ret).map(drop)
}

/// The number of the first SIGINT or SIGTERM caught since [`catch_termination`] (0: none).
static CAUGHT: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(0);

/// Catches SIGINT and SIGTERM: the first one is kept for [`termination`] to report; a second
/// one ends the process at once (status 128 + its number). A handler, not a blocked mask: the
/// programs the grader starts inherit its mask, and a handler is reset by `exec`.
pub fn catch_termination() -> io::Result<()> {
    extern "C" fn caught(signal: libc::c_int) {
        use std::sync::atomic::Ordering;
        if CAUGHT
            .compare_exchange(0, signal, Ordering::SeqCst, Ordering::SeqCst)
            .is_err()
        {
            // SAFETY: `_exit` is async-signal-safe; it runs no destructor and takes no lock.
            unsafe { libc::_exit(128 + signal) };
        }
    }
    for signal in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: the handler only touches an atomic and calls `_exit`, both async-signal-safe;
        // the `sigaction` struct is zeroed (an empty mask) and fully set before the call.
        let ret = unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = caught as extern "C" fn(libc::c_int) as usize;
            action.sa_flags = libc::SA_RESTART;
            libc::sigaction(signal, &action, std::ptr::null_mut())
        };
        cvt(ret)?;
    }
    Ok(())
}

/// The signal [`catch_termination`] caught first, if one came.
pub fn termination() -> Option<i32> {
    match CAUGHT.load(std::sync::atomic::Ordering::SeqCst) {
        0 => None,
        signal => Some(signal),
    }
}
