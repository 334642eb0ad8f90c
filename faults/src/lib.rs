//! IPC Lab's fault injection: a library the grader preloads (`LD_PRELOAD`) into a student's
//! program so that the calls POSIX lets fail in these ways do, now and then:
//!
//! - `read` returns fewer bytes than asked, and `write` writes fewer than asked when it asks
//!   for more than `PIPE_BUF` (smaller writes to a pipe are atomic), on pipes and sockets;
//! - `read` and `write` on a blocking pipe or socket, `msgrcv`/`msgsnd`/`semop` without
//!   `IPC_NOWAIT`, `sem_wait`, and `waitpid` without `WNOHANG` fail with `EINTR` before doing
//!   anything, as when a signal handler interrupts them.
//!
//! The first eligible call of each kind always fails so; later ones at the configured rate,
//! never twice in a row. A correct program loops on short counts and retries on `EINTR`, and
//! always makes progress; one that does not loses or corrupts data, or gives up. Each function finds the real one with `dlsym(RTLD_NEXT)`.
//!
//! Controlled by environment variables, read once:
//! - `IPCLAB_FAULTS_RATE`: the probability of a fault per eligible call (`0.25`; 0 disables);
//! - `IPCLAB_FAULTS_SEED`: the seed of the generator (mixed with the pid);
//! - `IPCLAB_FAULTS_CALLS`: which calls, comma-separated (`read,write,msgrcv,msgsnd,semop,
//!   sem_wait,waitpid`; all when unset);
//! - `IPCLAB_FAULTS_ONLY`: a path prefix; only programs whose executable starts with it get
//!   faults (so the filters a student's program runs do not);
//! - `IPCLAB_FAULTS_FTRUNCATE_SLEEP_MS`: after every successful `ftruncate`, sleep this many
//!   milliseconds (whatever the rate): a creator then stays between sizing a shared object and
//!   marking it initialised long enough for a peer to find it half made, as a slow machine may
//!   leave it (a delay, not a failure: no caller can tell it from being descheduled).
//!
//! Everything here runs inside someone else's system calls: no allocation, no lock, no call
//! that could come back here.
#![allow(unsafe_code)] // The whole crate is an FFI shim: it exports C functions and calls libc.

use std::ffi::{CStr, c_int, c_long, c_void};
use std::sync::atomic::{AtomicU8, AtomicU32, AtomicU64, AtomicUsize, Ordering};

use libc::{pid_t, size_t, ssize_t};

const READ: u32 = 1;
const WRITE: u32 = 2;
const MSGRCV: u32 = 4;
const MSGSND: u32 = 8;
const SEMOP: u32 = 16;
const SEM_WAIT: u32 = 32;
const WAITPID: u32 = 64;
const NAMES: [(&str, u32); 7] = [
    ("read", READ),
    ("write", WRITE),
    ("msgrcv", MSGRCV),
    ("msgsnd", MSGSND),
    ("semop", SEMOP),
    ("sem_wait", SEM_WAIT),
    ("waitpid", WAITPID),
];

/// 0: not configured yet; 1: configured.
static READY: AtomicU8 = AtomicU8::new(0);
/// The calls that get faults (a mask of the constants above); 0 when disabled.
static CALLS: AtomicU32 = AtomicU32::new(0);
/// The probability of a fault, in millionths.
static RATE: AtomicU32 = AtomicU32::new(0);
/// The generator's state.
static STATE: AtomicU64 = AtomicU64::new(0);
/// Milliseconds to sleep after a successful `ftruncate`; 0: none.
static FTRUNCATE_SLEEP_MS: AtomicU32 = AtomicU32::new(0);

/// Reads the configuration from the environment, once.
fn configure() {
    if READY.load(Ordering::Acquire) == 1 {
        return;
    }
    let rate = env("IPCLAB_FAULTS_RATE")
        .and_then(|s| s.parse::<f64>().ok())
        .unwrap_or(0.0)
        .clamp(0.0, 1.0);
    let seed = env("IPCLAB_FAULTS_SEED")
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or(1);
    let calls = match env("IPCLAB_FAULTS_CALLS") {
        None => u32::MAX,
        Some(list) => list
            .split(',')
            .filter_map(|w| NAMES.iter().find(|(n, _)| *n == w.trim()))
            .fold(0, |mask, (_, bit)| mask | bit),
    };
    let chosen = match env("IPCLAB_FAULTS_ONLY") {
        None => true,
        Some(prefix) => exe_starts_with(prefix.as_bytes()),
    };
    // SAFETY: `getpid` takes no argument and cannot fail.
    let pid = unsafe { libc::getpid() } as u64;
    STATE.store(
        (seed ^ pid.wrapping_mul(0x9e37_79b9_7f4a_7c15)) | 1,
        Ordering::Relaxed,
    );
    RATE.store((rate * 1e6) as u32, Ordering::Relaxed);
    CALLS.store(
        if chosen && rate > 0.0 { calls } else { 0 },
        Ordering::Relaxed,
    );
    let sleep_ms = env("IPCLAB_FAULTS_FTRUNCATE_SLEEP_MS")
        .and_then(|s| s.parse::<u32>().ok())
        .unwrap_or(0)
        .min(10_000);
    FTRUNCATE_SLEEP_MS.store(if chosen { sleep_ms } else { 0 }, Ordering::Relaxed);
    READY.store(1, Ordering::Release);
}

/// An environment variable, without allocating.
fn env(name: &str) -> Option<&'static str> {
    let mut buf = [0u8; 64];
    buf[..name.len()].copy_from_slice(name.as_bytes());
    // SAFETY: `buf` is NUL-terminated (names are shorter than 64 bytes); `getenv` returns a
    // pointer into the environment, valid while nobody calls `setenv`, or null.
    let value = unsafe { libc::getenv(buf.as_ptr().cast()) };
    if value.is_null() {
        return None;
    }
    // SAFETY: a non-null `getenv` result is a NUL-terminated string.
    unsafe { CStr::from_ptr(value) }.to_str().ok()
}

/// Whether `/proc/self/exe` starts with `prefix`.
fn exe_starts_with(prefix: &[u8]) -> bool {
    let mut buf = [0u8; 4096];
    // SAFETY: the path is a NUL-terminated literal and `buf` is writable for its length.
    let n = unsafe {
        libc::readlink(
            c"/proc/self/exe".as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    n > 0 && buf[..n as usize].starts_with(prefix)
}

/// A number in `0..1_000_000` from the shared xorshift generator.
fn roll() -> u64 {
    let next = |mut x: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let old = STATE
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |x| Some(next(x)))
        .unwrap_or(1);
    next(old).wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11
}

/// Whether `call` gets faults in this process.
fn enabled(call: u32) -> bool {
    configure();
    CALLS.load(Ordering::Relaxed) & call != 0
}

/// The calls whose first eligible call has happened.
static SEEN: AtomicU32 = AtomicU32::new(0);
/// The calls whose last eligible call got a fault.
static FAULTED: AtomicU32 = AtomicU32::new(0);

/// Whether this eligible call of `call` gets a fault: the first one always (so that a program
/// that never retries fails every time), then at the configured rate, but never twice in a
/// row (so that a program that retries always makes progress).
fn fault(call: u32) -> bool {
    if !enabled(call) {
        return false;
    }
    let first = SEEN.fetch_or(call, Ordering::Relaxed) & call == 0;
    let after_fault = FAULTED.load(Ordering::Relaxed) & call != 0;
    let hit =
        first || (!after_fault && roll() % 1_000_000 < u64::from(RATE.load(Ordering::Relaxed)));
    if hit {
        FAULTED.fetch_or(call, Ordering::Relaxed);
    } else {
        FAULTED.fetch_and(!call, Ordering::Relaxed);
    }
    hit
}

/// Fails the call with `EINTR`.
fn eintr<T: From<i8>>() -> T {
    // SAFETY: `__errno_location` returns this thread's errno, always valid.
    unsafe { *libc::__errno_location() = libc::EINTR };
    T::from(-1)
}

/// Whether `fd` is a pipe or a socket, and whether it blocks.
fn stream_fd(fd: c_int) -> Option<bool> {
    // SAFETY: an all-zero `stat` is a valid value of this plain C struct.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: `st` is a live, writable `stat`.
    if unsafe { libc::fstat(fd, &mut st) } != 0 {
        return None;
    }
    let kind = st.st_mode & libc::S_IFMT;
    if kind != libc::S_IFIFO && kind != libc::S_IFSOCK {
        return None;
    }
    // SAFETY: `F_GETFL` takes no third argument.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    Some(flags >= 0 && flags & libc::O_NONBLOCK == 0)
}

/// The next definition of `name` after this library's (the C library's), looked up once.
fn real(slot: &AtomicUsize, name: &CStr) -> usize {
    let mut f = slot.load(Ordering::Relaxed);
    if f == 0 {
        // SAFETY: `name` is NUL-terminated; RTLD_NEXT is a valid pseudo-handle here.
        f = unsafe { libc::dlsym(libc::RTLD_NEXT, name.as_ptr()) } as usize;
        slot.store(f, Ordering::Relaxed);
    }
    f
}

/// Declares a pointer to the real function `$name` of type `$ty`.
macro_rules! real {
    ($name:literal, $ty:ty) => {{
        static SLOT: AtomicUsize = AtomicUsize::new(0);
        let f = real(&SLOT, $name);
        assert!(f != 0, "ipclab_faults: no real function");
        // SAFETY: `dlsym` returned the address of the C library's function of this name, whose
        // C type is `$ty`.
        unsafe { std::mem::transmute::<usize, $ty>(f) }
    }};
}

/// `read(2)`, with short counts and EINTR on pipes and sockets.
///
/// # Safety
/// As `read(2)`: `buf` is writable for `count` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn read(fd: c_int, buf: *mut c_void, count: size_t) -> ssize_t {
    let f = real!(
        c"read",
        unsafe extern "C" fn(c_int, *mut c_void, size_t) -> ssize_t
    );
    let mut count = count;
    if count > 0 && enabled(READ) {
        match stream_fd(fd) {
            Some(true) if fault(READ) => {
                if roll().is_multiple_of(2) {
                    return eintr();
                }
                count = 1 + (roll() as usize % count);
            }
            Some(false) if fault(READ) => count = 1 + (roll() as usize % count),
            _ => {}
        }
    }
    // SAFETY: the caller's promise, for a count no larger than theirs.
    unsafe { f(fd, buf, count) }
}

/// `write(2)`, with short counts (above `PIPE_BUF`) and EINTR on pipes and sockets.
///
/// # Safety
/// As `write(2)`: `buf` is readable for `count` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn write(fd: c_int, buf: *const c_void, count: size_t) -> ssize_t {
    let f = real!(
        c"write",
        unsafe extern "C" fn(c_int, *const c_void, size_t) -> ssize_t
    );
    let mut count = count;
    if count > 0 && enabled(WRITE) {
        let big = count > libc::PIPE_BUF;
        match stream_fd(fd) {
            Some(true) if fault(WRITE) => {
                if !big || roll().is_multiple_of(2) {
                    return eintr();
                }
                count = 1 + (roll() as usize % (count - 1));
            }
            Some(false) if big && fault(WRITE) => count = 1 + (roll() as usize % (count - 1)),
            _ => {}
        }
    }
    // SAFETY: the caller's promise, for a count no larger than theirs.
    unsafe { f(fd, buf, count) }
}

/// `msgrcv(2)`, with EINTR unless `IPC_NOWAIT`.
///
/// # Safety
/// As `msgrcv(2)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn msgrcv(
    id: c_int,
    msg: *mut c_void,
    size: size_t,
    kind: c_long,
    flags: c_int,
) -> ssize_t {
    let f = real!(
        c"msgrcv",
        unsafe extern "C" fn(c_int, *mut c_void, size_t, c_long, c_int) -> ssize_t
    );
    if flags & libc::IPC_NOWAIT == 0 && fault(MSGRCV) {
        return eintr();
    }
    // SAFETY: the caller's promise.
    unsafe { f(id, msg, size, kind, flags) }
}

/// `msgsnd(2)`, with EINTR unless `IPC_NOWAIT`.
///
/// # Safety
/// As `msgsnd(2)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn msgsnd(
    id: c_int,
    msg: *const c_void,
    size: size_t,
    flags: c_int,
) -> c_int {
    let f = real!(
        c"msgsnd",
        unsafe extern "C" fn(c_int, *const c_void, size_t, c_int) -> c_int
    );
    if flags & libc::IPC_NOWAIT == 0 && fault(MSGSND) {
        return eintr();
    }
    // SAFETY: the caller's promise.
    unsafe { f(id, msg, size, flags) }
}

/// `semop(2)`, with EINTR unless every operation has `IPC_NOWAIT`.
///
/// # Safety
/// As `semop(2)`: `ops` points to `n` operations.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn semop(id: c_int, ops: *mut libc::sembuf, n: size_t) -> c_int {
    let f = real!(
        c"semop",
        unsafe extern "C" fn(c_int, *mut libc::sembuf, size_t) -> c_int
    );
    let may_block = !ops.is_null()
        && (0..n).any(|i| {
            // SAFETY: the caller's promise: `ops` holds `n` operations.
            let op = unsafe { &*ops.add(i) };
            op.sem_flg as c_int & libc::IPC_NOWAIT == 0
        });
    if may_block && fault(SEMOP) {
        return eintr();
    }
    // SAFETY: the caller's promise.
    unsafe { f(id, ops, n) }
}

/// `sem_wait(3)`, with EINTR.
///
/// # Safety
/// As `sem_wait(3)`: `sem` is a valid semaphore.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sem_wait(sem: *mut libc::sem_t) -> c_int {
    let f = real!(c"sem_wait", unsafe extern "C" fn(*mut libc::sem_t) -> c_int);
    if fault(SEM_WAIT) {
        return eintr();
    }
    // SAFETY: the caller's promise.
    unsafe { f(sem) }
}

/// `waitpid(2)`, with EINTR unless `WNOHANG`.
///
/// # Safety
/// As `waitpid(2)`: `status` is null or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn waitpid(pid: pid_t, status: *mut c_int, options: c_int) -> pid_t {
    let f = real!(
        c"waitpid",
        unsafe extern "C" fn(pid_t, *mut c_int, c_int) -> pid_t
    );
    if options & libc::WNOHANG == 0 && fault(WAITPID) {
        return eintr();
    }
    // SAFETY: the caller's promise.
    unsafe { f(pid, status, options) }
}

/// Sleeps `IPCLAB_FAULTS_FTRUNCATE_SLEEP_MS` after a successful `ftruncate`, if set; the sleep
/// is resumed after a signal, and `errno` is left as the call set it.
fn after_ftruncate(rc: c_int) {
    configure();
    let ms = FTRUNCATE_SLEEP_MS.load(Ordering::Relaxed);
    if rc != 0 || ms == 0 {
        return;
    }
    // SAFETY: `__errno_location` returns this thread's errno, always valid.
    let errno = unsafe { *libc::__errno_location() };
    let mut left = libc::timespec {
        tv_sec: libc::time_t::from(ms / 1000),
        tv_nsec: c_long::from(ms % 1000) * 1_000_000,
    };
    loop {
        let mut rest = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: both are live timespecs; `rest` is writable.
        if unsafe { libc::nanosleep(&left, &mut rest) } == 0 {
            break;
        }
        // SAFETY: `__errno_location` returns this thread's errno, always valid.
        if unsafe { *libc::__errno_location() } != libc::EINTR {
            break;
        }
        left = rest;
    }
    // SAFETY: as above.
    unsafe { *libc::__errno_location() = errno };
}

/// `ftruncate(2)`, followed by the configured sleep.
///
/// # Safety
/// As `ftruncate(2)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftruncate(fd: c_int, length: libc::off_t) -> c_int {
    let f = real!(
        c"ftruncate",
        unsafe extern "C" fn(c_int, libc::off_t) -> c_int
    );
    // SAFETY: the caller's promise.
    let rc = unsafe { f(fd, length) };
    after_ftruncate(rc);
    rc
}

/// `ftruncate64`, the name Rust's standard library (`File::set_len`) calls, followed by the
/// configured sleep.
///
/// # Safety
/// As `ftruncate(2)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftruncate64(fd: c_int, length: libc::off64_t) -> c_int {
    let f = real!(
        c"ftruncate64",
        unsafe extern "C" fn(c_int, libc::off64_t) -> c_int
    );
    // SAFETY: the caller's promise.
    let rc = unsafe { f(fd, length) };
    after_ftruncate(rc);
    rc
}
