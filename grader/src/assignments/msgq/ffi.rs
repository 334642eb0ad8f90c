//! The SysV calls the `msgq` checks and their helper tools make that `nix` does not wrap:
//! `ftok`, `msgget`, `msgsnd`, `msgrcv`, `msgctl(IPC_STAT)` and `setitimer` for bounded
//! waits, and SysV segments attached for a transfer. Each `unsafe` block is one call long. No
//! safe function hands out memory it cannot vouch for: an attached segment's bytes are
//! borrowed from the guard that detaches it. (Candidates for `grader/src/sys.rs`.)
#![allow(unsafe_code)]

use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::ptr::NonNull;
use std::time::{Duration, Instant};

/// Size of `mtype`, a C `long`.
pub const MTYPE_LEN: usize = 8;

use crate::sys::cvt;

/// `ftok(path, id)`.
pub fn ftok(path: &Path, id: u8) -> io::Result<libc::key_t> {
    let c = CString::new(path.as_os_str().as_bytes()).map_err(|_| io::ErrorKind::InvalidInput)?;
    // SAFETY: `c` is a NUL-terminated string that outlives the call.
    let key = unsafe { libc::ftok(c.as_ptr(), libc::c_int::from(id)) };
    cvt(key)
}

/// `msgget(key, flags)`.
pub fn msgget(key: libc::key_t, flags: libc::c_int) -> io::Result<i32> {
    // SAFETY: a system call on integers.
    let id = unsafe { libc::msgget(key, flags) };
    cvt(id)
}

/// Opens the queue of `key`, creating it if needed (specs/msgq.md §2.1).
pub fn open_or_create(key: libc::key_t) -> io::Result<i32> {
    loop {
        match msgget(key, libc::IPC_CREAT | libc::IPC_EXCL | 0o600) {
            Ok(id) => return Ok(id),
            Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {}
            Err(e) => return Err(e),
        }
        match msgget(key, 0) {
            Ok(id) => return Ok(id),
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
            Err(e) => return Err(e),
        }
    }
}

/// `msgsnd(id, msg, msg.len() - 8, flags)`: `msg` starts with its `mtype`.
pub fn msgsnd(id: i32, msg: &[u8], flags: libc::c_int) -> io::Result<()> {
    assert!(msg.len() >= MTYPE_LEN);
    // SAFETY: `msg` holds the type and `msg.len() - 8` bytes of text, and outlives the call.
    let ret = unsafe { libc::msgsnd(id, msg.as_ptr().cast(), msg.len() - MTYPE_LEN, flags) };
    cvt(ret).map(drop)
}

/// `msgrcv(id, buf, buf.len() - 8, msgtyp, flags)`: the length of the text received.
pub fn msgrcv(id: i32, buf: &mut [u8], msgtyp: i64, flags: libc::c_int) -> io::Result<usize> {
    assert!(buf.len() >= MTYPE_LEN);
    // SAFETY: `buf` has room for the type and `buf.len() - 8` bytes of text.
    let ret = unsafe {
        libc::msgrcv(
            id,
            buf.as_mut_ptr().cast(),
            buf.len() - MTYPE_LEN,
            msgtyp,
            flags,
        )
    };
    cvt(ret).map(|n| n as usize)
}

/// `msgctl(id, IPC_STAT)`: (messages queued, pid of the last sender).
pub fn msg_stat(id: i32) -> io::Result<(u64, i32)> {
    // SAFETY: an all-zero `msqid_ds` is a valid value of this plain C struct.
    let mut ds: libc::msqid_ds = unsafe { std::mem::zeroed() };
    // SAFETY: `ds` is a live, writable `msqid_ds`.
    let ret = unsafe { libc::msgctl(id, libc::IPC_STAT, &mut ds) };
    cvt(ret)?;
    Ok((ds.msg_qnum, ds.msg_lspid))
}

/// `msgctl(id, IPC_RMID)`.
pub fn msg_remove(id: i32) -> io::Result<()> {
    crate::sys::ipc_remove(crate::sys::IpcKind::Msg, id)
}

extern "C" fn nothing(_: libc::c_int) {}

/// Installs a handler that does nothing for SIGALRM, without `SA_RESTART`, so that an
/// interval timer interrupts a blocked `msgrcv`/`msgsnd`.
pub fn install_alarm() {
    use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};
    let action = SigAction::new(
        SigHandler::Handler(nothing),
        SaFlags::empty(),
        SigSet::empty(),
    );
    // SAFETY: the handler does nothing, which is async-signal-safe.
    let _ = unsafe { sigaction(Signal::SIGALRM, &action) };
}

fn set_timer(value: Duration) {
    let tv = |d: Duration| libc::timeval {
        tv_sec: d.as_secs() as libc::time_t,
        tv_usec: d.subsec_micros() as libc::suseconds_t,
    };
    let interval = if value.is_zero() {
        Duration::ZERO
    } else {
        Duration::from_millis(10)
    };
    let it = libc::itimerval {
        it_interval: tv(interval),
        it_value: tv(value),
    };
    // SAFETY: `it` is a valid `itimerval`; the old value is not asked for.
    unsafe { libc::setitimer(libc::ITIMER_REAL, &it, std::ptr::null_mut()) };
}

/// Runs `call` (one blocking attempt) until it succeeds, fails other than with `EINTR`, or
/// `deadline` passes (`Err(TimedOut)`). [`install_alarm`] must have been called.
pub fn bounded<T>(deadline: Instant, mut call: impl FnMut() -> io::Result<T>) -> io::Result<T> {
    loop {
        let now = Instant::now();
        if now >= deadline {
            return Err(io::ErrorKind::TimedOut.into());
        }
        set_timer((deadline - now).max(Duration::from_micros(100)));
        let result = call();
        set_timer(Duration::ZERO);
        match result {
            Err(e) if e.raw_os_error() == Some(libc::EINTR) => continue,
            other => return other,
        }
    }
}

/// One attachment of a SysV segment to this process, `len` bytes at `addr`; detached when
/// dropped, so that no borrow of its bytes outlives it.
struct Attachment {
    addr: NonNull<u8>,
    len: usize,
}

impl Attachment {
    /// `shmat(id, NULL, flags)`, the kernel choosing the address, of a segment of `len` bytes.
    fn new(id: i32, flags: libc::c_int, len: usize) -> io::Result<Attachment> {
        // SAFETY: attaching at an address the kernel chooses maps new pages and touches none
        // of this process's memory.
        let addr = unsafe { libc::shmat(id, std::ptr::null(), flags) };
        cvt(addr as isize)?;
        let addr = NonNull::new(addr.cast()).ok_or(io::ErrorKind::InvalidData)?;
        Ok(Attachment { addr, len })
    }
}

impl Drop for Attachment {
    fn drop(&mut self) {
        // SAFETY: `addr` was returned by `shmat` and is detached here only, once; no borrow
        // of the bytes outlives `self`.
        unsafe { libc::shmdt(self.addr.as_ptr().cast()) };
    }
}

/// A segment attached read-only by id (the server side of a transfer), detached on drop.
pub struct ReadOnlySegment {
    at: Attachment,
}

impl ReadOnlySegment {
    /// Attaches segment `id` with `SHM_RDONLY`; its length is the segment's size.
    pub fn attach(id: i32) -> io::Result<ReadOnlySegment> {
        // SAFETY: an all-zero `shmid_ds` is a valid value of this plain C struct.
        let mut ds: libc::shmid_ds = unsafe { std::mem::zeroed() };
        // SAFETY: `ds` is a live, writable `shmid_ds`.
        cvt(unsafe { libc::shmctl(id, libc::IPC_STAT, &mut ds) })?;
        let at = Attachment::new(id, libc::SHM_RDONLY, ds.shm_segsz)?;
        Ok(ReadOnlySegment { at })
    }

    /// The segment's size in bytes.
    pub fn len(&self) -> usize {
        self.at.len
    }

    /// The segment's bytes, for as long as it stays attached.
    pub fn as_slice(&self) -> &[u8] {
        // SAFETY: `len` bytes at `addr` are mapped readable while `self.at` lives, which the
        // borrow of `self` guarantees. Every byte value is a valid `u8`; a peer that writes
        // the segment while it is read (against the protocol: it waits for "ok") changes what
        // is read, never whether it may be read.
        unsafe { std::slice::from_raw_parts(self.at.addr.as_ptr(), self.at.len) }
    }
}

/// A fresh `IPC_PRIVATE` segment attached read-write and at once marked for removal (the
/// client side of a transfer, spec §2.4): the kernel destroys it once every attachment is
/// gone. Detached on drop.
pub struct PrivateSegment {
    id: i32,
    at: Attachment,
}

impl PrivateSegment {
    /// A segment of `size` bytes.
    pub fn create(size: usize) -> io::Result<PrivateSegment> {
        // SAFETY: shmget takes no pointers.
        let id = unsafe { libc::shmget(libc::IPC_PRIVATE, size, libc::IPC_CREAT | 0o600) };
        cvt(id)?;
        let at = Attachment::new(id, 0, size);
        // SAFETY: IPC_RMID takes no buffer; the segment lives on while attached.
        unsafe { libc::shmctl(id, libc::IPC_RMID, std::ptr::null_mut()) };
        Ok(PrivateSegment { id, at: at? })
    }

    /// Its id, for the server to attach.
    pub fn id(&self) -> i32 {
        self.id
    }

    /// The segment's bytes, to fill, for as long as it stays attached.
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        // SAFETY: `len` bytes at `addr` are mapped read-write while `self.at` lives, which the
        // exclusive borrow of `self` guarantees, and no other slice of this process covers
        // them. The server only reads them, between "ready" and "ok".
        unsafe { std::slice::from_raw_parts_mut(self.at.addr.as_ptr(), self.at.len) }
    }
}
