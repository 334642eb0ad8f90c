//! The system calls `nix` does not wrap, or wraps without what the bench needs: `fork` with a
//! child that ends in `_exit`, SysV message queues and shared memory, mappings that can be
//! made and unmade per message, process-shared POSIX semaphores, the futex, and the signal
//! handler that removes the bench's message queues when it is interrupted. Every `unsafe`
//! block is one call long and says what it relies on; everything above this module is safe.
#![allow(unsafe_code)]

use std::cell::UnsafeCell;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicI32, AtomicU32, AtomicU64, Ordering};

use nix::unistd::Pid;

/// Converts the C convention "`-1` and `errno`" into a `Result`, in one place.
fn cvt(ret: libc::c_long) -> io::Result<libc::c_long> {
    if ret == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// The same, retrying while the call was interrupted by a signal (`msgrcv`, `sem_wait`).
fn cvt_r(mut call: impl FnMut() -> libc::c_long) -> io::Result<libc::c_long> {
    loop {
        match cvt(call()) {
            Err(e) if e.raw_os_error() == Some(libc::EINTR) => continue,
            other => return other,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Processes

/// `fork()`—Starts a child that runs `child` and ends with `_exit` of its result.
///
/// The child runs no destructors and returns to no caller: everything it uses was built before
/// the fork (ends, buffers), and it makes only system calls and copies, so it is safe even when
/// the parent has other threads (the test harness). It is killed if the parent dies
/// (`PR_SET_PDEATHSIG`), so an interrupted bench leaves no process behind.
pub fn fork_child(child: impl FnOnce() -> i32) -> io::Result<Pid> {
    let parent = std::process::id();
    // SAFETY: the child below only makes system calls and touches memory allocated before the
    // fork, then leaves with `_exit` (no atexit handlers, no destructors, no return).
    match unsafe { nix::unistd::fork() }? {
        nix::unistd::ForkResult::Parent { child } => Ok(child),
        nix::unistd::ForkResult::Child => {
            // SAFETY: `prctl(PR_SET_PDEATHSIG)` takes integers and changes only this process.
            unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) };
            // The parent may have died before the line above took effect.
            if nix::unistd::getppid().as_raw() as u32 != parent {
                exit_now(1);
            }
            let code = std::panic::catch_unwind(std::panic::AssertUnwindSafe(child)).unwrap_or(101);
            exit_now(code)
        }
    }
}

/// `_exit(code)`—Ends this process at once: no atexit handlers, no destructors, no flushing.
pub fn exit_now(code: i32) -> ! {
    // SAFETY: `_exit` is async-signal-safe and never returns.
    unsafe { libc::_exit(code) }
}

// ---------------------------------------------------------------------------------------------
// Cleanup when interrupted

/// SysV message queues are the one kind of object the bench cannot remove the moment it has
/// made them (shared memory is marked for removal while attached, POSIX names are unlinked
/// once opened), so their ids are kept here for the signal handler.
static QUEUES: [AtomicI32; 4] = [const { AtomicI32::new(-1) }; 4];
/// The child of the measurement running now, for the handler to kill (0: none).
static CHILD: AtomicI32 = AtomicI32::new(0);
/// The bench's own pid: a forked child inherits the handler and must not act on it.
static OWNER: AtomicI32 = AtomicI32::new(0);

/// Records `id` for removal by the signal handler; returns its slot.
fn register_queue(id: i32) -> Option<usize> {
    QUEUES.iter().position(|slot| {
        slot.compare_exchange(-1, id, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
    })
}

/// Records the child that the handler must kill, or 0 once it has been reaped.
pub fn set_current_child(pid: i32) {
    CHILD.store(pid, Ordering::SeqCst);
}

extern "C" fn on_fatal_signal(signal: libc::c_int) {
    // SAFETY (whole handler): only async-signal-safe calls (`getpid`, `msgctl`, `kill`,
    // `write`, `_exit`) on values read from atomics.
    if unsafe { libc::getpid() } != OWNER.load(Ordering::SeqCst) {
        // A child: pass the signal on to the bench, which cleans up, and go.
        // SAFETY: see above.
        unsafe { libc::kill(OWNER.load(Ordering::SeqCst), signal) };
        exit_now(128 + signal);
    }
    for slot in &QUEUES {
        let id = slot.load(Ordering::SeqCst);
        if id >= 0 {
            // SAFETY: see above; a stale id fails harmlessly with EINVAL or EIDRM.
            unsafe { libc::msgctl(id, libc::IPC_RMID, std::ptr::null_mut()) };
        }
    }
    let child = CHILD.load(Ordering::SeqCst);
    if child > 0 {
        // SAFETY: see above; `child` is our unreaped child, so its pid cannot have been reused.
        unsafe { libc::kill(child, libc::SIGKILL) };
    }
    let text: &[u8] = if signal == libc::SIGALRM {
        b"\nbench: a measurement made no progress for a minute (a lost wakeup, or the machine is \
          overloaded); stopped and cleaned up\n"
    } else {
        b"\nbench: interrupted; cleaned up\n"
    };
    // SAFETY: see above; `text` is a static buffer of the given length.
    unsafe { libc::write(2, text.as_ptr().cast(), text.len()) };
    exit_now(128 + signal)
}

/// Installs the handler for SIGINT, SIGTERM, SIGHUP and SIGALRM (the watchdog), which removes
/// the registered message queues, kills the running child and exits.
pub fn install_cleanup_handler() -> io::Result<()> {
    OWNER.store(std::process::id() as i32, Ordering::SeqCst);
    let action = nix::sys::signal::SigAction::new(
        nix::sys::signal::SigHandler::Handler(on_fatal_signal),
        nix::sys::signal::SaFlags::empty(),
        nix::sys::signal::SigSet::all(),
    );
    for signal in [
        nix::sys::signal::SIGINT,
        nix::sys::signal::SIGTERM,
        nix::sys::signal::SIGHUP,
        nix::sys::signal::SIGALRM,
    ] {
        // SAFETY: the handler is async-signal-safe (see `on_fatal_signal`).
        unsafe { nix::sys::signal::sigaction(signal, &action) }?;
    }
    Ok(())
}

/// `clock_gettime(CLOCK_PROCESS_CPUTIME_ID)`—CPU time this process has used, user and system,
/// in seconds: unlike the wall clock it does not advance while another process has the CPU.
pub fn cpu_time() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a live, writable `timespec`; this clock always exists on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

/// `getrusage(RUSAGE_CHILDREN)`—CPU time, user and system, of every child this process has
/// waited for so far, in seconds: the difference around a run is what its programs used.
pub fn children_cpu_time() -> f64 {
    // SAFETY: `rusage` is plain data for which all-zero bytes are a valid value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `usage` is a live, writable `rusage`; RUSAGE_CHILDREN always exists.
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) };
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
    seconds(usage.ru_utime) + seconds(usage.ru_stime)
}

/// Removes the SysV message queue, semaphore set and shared-memory segment with key
/// `ftok(path, proj)`, those that exist: what a program under measurement may have left when
/// it failed. Errors (no such object, no such file) are ignored.
pub fn remove_sysv_objects(path: &std::path::Path, proj: u8) {
    use std::os::unix::ffi::OsStrExt;
    let Ok(path) = std::ffi::CString::new(path.as_os_str().as_bytes()) else {
        return;
    };
    // SAFETY: `path` is a live NUL-terminated string; `ftok` only reads it.
    let key = unsafe { libc::ftok(path.as_ptr(), libc::c_int::from(proj)) };
    if key == -1 {
        return;
    }
    // SAFETY (the three blocks): `*get(key, 0, 0)` take integers and return an id or -1;
    // `*ctl(id, IPC_RMID, NULL)` with a null buffer take integers only.
    unsafe {
        let id = libc::msgget(key, 0);
        if id >= 0 {
            libc::msgctl(id, libc::IPC_RMID, std::ptr::null_mut());
        }
    }
    // SAFETY: see above.
    unsafe {
        let id = libc::semget(key, 0, 0);
        if id >= 0 {
            libc::semctl(id, 0, libc::IPC_RMID);
        }
    }
    // SAFETY: see above.
    unsafe {
        let id = libc::shmget(key, 0, 0);
        if id >= 0 {
            libc::shmctl(id, libc::IPC_RMID, std::ptr::null_mut());
        }
    }
}

/// `setpriority(PRIO_PROCESS, 0, nice)`—Sets this process's nice value, which the processes it
/// starts inherit. Lowering it below 0 needs privilege; the error says so.
pub fn set_nice(nice: i32) -> io::Result<()> {
    // SAFETY: `setpriority` takes integers and changes only this process.
    cvt(unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, nice) }.into()).map(drop)
}

/// `alarm(seconds)`—Arms (or with 0 disarms) the watchdog that stops a hung measurement.
pub fn watchdog(seconds: u32) {
    // SAFETY: `alarm` takes an integer and only schedules a signal to this process.
    unsafe { libc::alarm(seconds) };
}

// ---------------------------------------------------------------------------------------------
// SysV message queues

/// A private SysV message queue (`msgget(IPC_PRIVATE)`), removed by its creator on drop.
pub struct MsgQueue {
    id: i32,
    slot: Option<usize>,
}

impl MsgQueue {
    /// `msgget(IPC_PRIVATE, IPC_CREAT | 0600)`—Creates a queue only this bench knows.
    pub fn create() -> io::Result<MsgQueue> {
        // SAFETY: `msgget` takes integers and returns an id or -1.
        let id = cvt(unsafe { libc::msgget(libc::IPC_PRIVATE, libc::IPC_CREAT | 0o600) }.into())?;
        let id = id as i32;
        Ok(MsgQueue {
            id,
            slot: register_queue(id),
        })
    }

    /// `msgsnd(id, msg, len, 0)`—Sends the first `len` bytes of `msg`'s text as type `mtype`.
    pub fn send(&self, msg: &mut MsgBuf, mtype: libc::c_long, len: usize) -> io::Result<()> {
        assert!(len <= msg.text().len());
        msg.set_type(mtype);
        cvt_r(|| {
            // SAFETY: `msg` is a live `struct msgbuf`: the type word followed by at least
            // `len` bytes of text; `msgsnd` only reads it.
            unsafe { libc::msgsnd(self.id, msg.as_ptr(), len, 0) }.into()
        })
        .map(drop)
    }

    /// `msgrcv(id, msg, max, mtype, 0)`—Receives the next message of type `mtype` into `msg`;
    /// returns the length of its text.
    pub fn recv(&self, msg: &mut MsgBuf, mtype: libc::c_long) -> io::Result<usize> {
        let max = msg.text().len();
        let n = cvt_r(|| {
            // SAFETY: `msg` is a live, writable buffer with room for the type word and
            // `max` bytes of text, the most `msgrcv` writes.
            unsafe { libc::msgrcv(self.id, msg.as_mut_ptr(), max, mtype, 0) as _ }
        })?;
        Ok(n as usize)
    }
}

/// C's `struct msgbuf`: a `long` type followed by the text, in `long`s so it is aligned, placed
/// so that the text starts on a page boundary (see `channel::PageBuf` for why).
pub struct MsgBuf {
    all: Vec<libc::c_long>,
    /// `all[start..end]` is the `struct msgbuf`: the type, then the text.
    start: usize,
    end: usize,
}

impl MsgBuf {
    /// A buffer for texts of up to `text_len` bytes.
    pub fn new(text_len: usize) -> MsgBuf {
        let page = 4096 / size_of::<libc::c_long>();
        let len = 1 + text_len.div_ceil(size_of::<libc::c_long>());
        let all = vec![1; len + page];
        let start = all[1..].as_ptr().align_offset(4096).min(page);
        MsgBuf {
            all,
            start,
            end: start + len,
        }
    }

    /// The text, to read.
    pub fn text(&self) -> &[u8] {
        let words = &self.all[self.start + 1..self.end];
        // SAFETY: the words are initialised, any byte is a valid `u8`, `u8` needs no alignment,
        // and the slice borrows `self`.
        unsafe { std::slice::from_raw_parts(words.as_ptr().cast(), size_of_val(words)) }
    }

    /// The text, to write.
    pub fn text_mut(&mut self) -> &mut [u8] {
        let words = &mut self.all[self.start + 1..self.end];
        // SAFETY: as in `text`; any bytes written form valid `long`s.
        unsafe { std::slice::from_raw_parts_mut(words.as_mut_ptr().cast(), size_of_val(words)) }
    }

    fn set_type(&mut self, mtype: libc::c_long) {
        self.all[self.start] = mtype;
    }

    fn as_ptr(&self) -> *const libc::c_void {
        self.all[self.start..].as_ptr().cast()
    }

    fn as_mut_ptr(&mut self) -> *mut libc::c_void {
        self.all[self.start..].as_mut_ptr().cast()
    }
}

impl Drop for MsgQueue {
    fn drop(&mut self) {
        // SAFETY: `msgctl(IPC_RMID)` with a null buffer takes integers only.
        unsafe { libc::msgctl(self.id, libc::IPC_RMID, std::ptr::null_mut()) };
        if let Some(slot) = self.slot {
            QUEUES[slot].store(-1, Ordering::SeqCst);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Mappings

/// How a [`Mapping`] is undone.
enum Unmap {
    Munmap,
    Shmdt,
}

/// A range of shared memory mapped into this process: by `mmap` (anonymous or of a POSIX
/// shared-memory object) or by `shmat`. Unmapped on drop.
///
/// The bytes may be written by another process. The bench hands a slot from one process to the
/// other with a semaphore (a full memory barrier both ways), so while one side holds the
/// slices below the other does not touch the slot: that protocol is the callers' to keep.
pub struct Mapping {
    ptr: NonNull<u8>,
    len: usize,
    unmap: Unmap,
}

impl Mapping {
    /// `mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0)`—Memory
    /// shared with the children forked after this call.
    pub fn anonymous(len: usize) -> io::Result<Mapping> {
        // SAFETY: a fresh mapping at an address the kernel chooses overlaps nothing of ours;
        // `mmap` returns it or MAP_FAILED.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        Self::from_mmap(ptr, len)
    }

    /// `mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)`—Maps a POSIX
    /// shared-memory object (or any file) of at least `len` bytes.
    pub fn of_fd(fd: BorrowedFd<'_>, len: usize) -> io::Result<Mapping> {
        // SAFETY: as in `anonymous`; `fd` is open for as long as this call.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd.as_raw_fd(),
                0,
            )
        };
        Self::from_mmap(ptr, len)
    }

    fn from_mmap(ptr: *mut libc::c_void, len: usize) -> io::Result<Mapping> {
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(Mapping {
            ptr: NonNull::new(ptr.cast()).ok_or_else(|| io::Error::other("mmap returned NULL"))?,
            len,
            unmap: Unmap::Munmap,
        })
    }

    /// The bytes, to read.
    pub fn bytes(&self) -> &[u8] {
        // SAFETY: `ptr` is a live mapping of `len` readable bytes until drop (see the type's
        // doc for who may write them meanwhile).
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }

    /// The bytes, to write.
    pub fn bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `bytes`, and the mapping is writable.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }

    /// The start of the mapping, for placing a `#[repr(C)]` structure there.
    pub fn as_ptr(&self) -> *mut u8 {
        self.ptr.as_ptr()
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        match self.unmap {
            // SAFETY: the mapping is ours and no slice of it outlives `self`.
            Unmap::Munmap => unsafe { libc::munmap(self.ptr.as_ptr().cast(), self.len) },
            // SAFETY: as above, for an attachment made by `shmat`.
            Unmap::Shmdt => unsafe { libc::shmdt(self.ptr.as_ptr().cast()) },
        };
    }
}

/// A SysV shared-memory segment (`shmget(IPC_PRIVATE)`) that is already marked for removal:
/// it disappears when its last attachment goes, even if the bench is killed.
pub struct SysvSegment {
    id: i32,
    len: usize,
    /// An attachment held by the creator (and inherited by the child) that keeps the segment,
    /// and with it `id`, alive while the per-message attachments come and go. Linux allows
    /// `shmat` on a segment marked for removal while it is still attached.
    _holder: Mapping,
}

impl SysvSegment {
    /// `shmget(IPC_PRIVATE, len, IPC_CREAT | 0600)`, `shmat`, `shmctl(IPC_RMID)`.
    pub fn create(len: usize) -> io::Result<SysvSegment> {
        // SAFETY: `shmget` takes integers and returns an id or -1.
        let id =
            cvt(unsafe { libc::shmget(libc::IPC_PRIVATE, len, libc::IPC_CREAT | 0o600) }.into())?
                as i32;
        let holder = Self::attach_id(id, len);
        // SAFETY: `shmctl(IPC_RMID)` with a null buffer takes integers only.
        unsafe { libc::shmctl(id, libc::IPC_RMID, std::ptr::null_mut()) };
        Ok(SysvSegment {
            id,
            len,
            _holder: holder?,
        })
    }

    /// `shmat(id, NULL, 0)`—A new attachment of the whole segment, detached on drop.
    pub fn attach(&self) -> io::Result<Mapping> {
        Self::attach_id(self.id, self.len)
    }

    fn attach_id(id: i32, len: usize) -> io::Result<Mapping> {
        // SAFETY: `shmat` at an address the kernel chooses overlaps nothing of ours; it returns
        // the address or `(void *) -1`.
        let ptr = unsafe { libc::shmat(id, std::ptr::null(), 0) };
        if ptr as isize == -1 {
            return Err(io::Error::last_os_error());
        }
        Ok(Mapping {
            ptr: NonNull::new(ptr.cast()).ok_or_else(|| io::Error::other("shmat returned NULL"))?,
            len,
            unmap: Unmap::Shmdt,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Process-shared synchronisation

/// A POSIX unnamed semaphore to be placed in shared memory (`sem_init(sem, 1, value)`).
#[repr(C)]
pub struct Semaphore(UnsafeCell<libc::sem_t>);

impl Semaphore {
    /// `sem_init(sem, 1, value)`—Initialises the semaphore in place, shared between processes.
    /// `self` must live in memory shared with the other process and never move.
    pub fn init(&self, value: u32) -> io::Result<()> {
        // SAFETY: `self.0` is valid, writable memory for a `sem_t`; nobody waits on it yet.
        cvt(unsafe { libc::sem_init(self.0.get(), 1, value) }.into()).map(drop)
    }

    /// `sem_wait(sem)`, retried on `EINTR`.
    pub fn wait(&self) -> io::Result<()> {
        // SAFETY: the semaphore was initialised by `init` and lives as long as `self`.
        cvt_r(|| unsafe { libc::sem_wait(self.0.get()) }.into()).map(drop)
    }

    /// `sem_post(sem)`.
    pub fn post(&self) -> io::Result<()> {
        // SAFETY: as in `wait`.
        cvt(unsafe { libc::sem_post(self.0.get()) }.into()).map(drop)
    }
}

/// `futex(word, FUTEX_WAIT, expected)`—Sleeps while `*word == expected` (shared futex: the word
/// is in memory shared between processes, so no FUTEX_PRIVATE_FLAG).
pub fn futex_wait(word: &AtomicU32, expected: u32) {
    // SAFETY: `word` is a live, aligned 32-bit word; a null timeout waits without limit. Any
    // result (woken, EAGAIN because the word changed, EINTR) sends the caller back to its loop.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT,
            expected,
            std::ptr::null::<libc::timespec>(),
        )
    };
}

/// `futex(word, FUTEX_WAKE, 1)`—Wakes one process sleeping on `word`.
pub fn futex_wake(word: &AtomicU32) {
    // SAFETY: as in `futex_wait`; FUTEX_WAKE only reads the address as a key.
    unsafe { libc::syscall(libc::SYS_futex, word.as_ptr(), libc::FUTEX_WAKE, 1) };
}

/// The synchronisation the two processes of a measurement share: a futex word for the
/// ping-pong baseline, and the four semaphores of the shared-memory rings (per direction,
/// "slots empty" and "slots full").
#[repr(C)]
pub struct Control {
    /// The futex ping-pong's turn: 0 the parent's, 1 the child's.
    pub turn: AtomicU32,
    /// `[a→b empty, a→b full, b→a empty, b→a full]`.
    pub sems: [Semaphore; 4],
    /// The CPU time the child spent in the timed part of a measurement, in nanoseconds.
    pub child_cpu_ns: AtomicU64,
}

/// A [`Control`] in an anonymous shared mapping made before the fork, so that both processes
/// see the same one at the same address.
pub struct SharedControl {
    map: Mapping,
}

impl SharedControl {
    /// Maps a zeroed page (`turn` = 0) and initialises the semaphores with `initial`.
    pub fn create(initial: [u32; 4]) -> io::Result<SharedControl> {
        let shared = SharedControl {
            map: Mapping::anonymous(size_of::<Control>().max(4096))?,
        };
        for (sem, value) in shared.sems.iter().zip(initial) {
            sem.init(value)?;
        }
        Ok(shared)
    }
}

impl std::ops::Deref for SharedControl {
    type Target = Control;

    fn deref(&self) -> &Control {
        // SAFETY: the mapping is page-aligned, large enough, zero-filled by the kernel (a valid
        // `AtomicU32`; the semaphores are initialised by `create` before any use) and lives as
        // long as `self`. `Control` is accessed only through atomics and `sem_*` calls.
        unsafe { &*self.map.as_ptr().cast::<Control>() }
    }
}
