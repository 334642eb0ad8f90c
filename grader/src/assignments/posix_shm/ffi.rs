//! The system calls the grader's own peer needs: POSIX shared memory (`nix`'s `shm_open` and
//! `shm_unlink`), a mapping of a whole object that is unmapped on drop, and unnamed
//! process-shared semaphores inside it, which neither `nix` nor the core wraps.
//!
//! No safe function here hands out memory it cannot vouch for: the header's words are atomics
//! borrowed from the mapping, slot bytes are copied in and out (the other process is a
//! student's program, so no Rust reference is ever made to bytes it may write), and every
//! offset is checked against the mapping's length. Every `unsafe` block is one call long and
//! says why it is sound.
#![allow(unsafe_code)]

use std::io;
use std::num::NonZeroUsize;
use std::os::fd::{AsFd, OwnedFd};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, AtomicU64};

use nix::fcntl::OFlag;
use nix::sys::mman::{MapFlags, ProtFlags};
use nix::sys::stat::Mode;
use crate::sys::cvt;

/// `shm_open(name, flags | O_CLOEXEC, mode)`.
pub fn shm_open(name: &str, flags: OFlag, mode: Mode) -> io::Result<OwnedFd> {
    Ok(nix::sys::mman::shm_open(
        name,
        flags | OFlag::O_CLOEXEC,
        mode,
    )?)
}

/// `shm_unlink(name)`.
pub fn shm_unlink(name: &str) -> io::Result<()> {
    Ok(nix::sys::mman::shm_unlink(name)?)
}

/// A shared read-write mapping of a whole object, unmapped on drop.
///
/// Another process maps the same pages and may write any of them at any time: the mapping is
/// only ever read and written through atomics, copies and the semaphore calls below.
pub struct Map {
    ptr: NonNull<u8>,
    len: usize,
}

impl Map {
    /// `mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)`; a `len` of 0 is `EINVAL`,
    /// as the kernel has it.
    pub fn new(fd: impl AsFd, len: usize) -> io::Result<Map> {
        let length = NonZeroUsize::new(len).ok_or(io::Error::from_raw_os_error(libc::EINVAL))?;
        // SAFETY: no address hint, so the kernel picks pages no other mapping uses and nothing
        // already in this process is replaced; `fd` is open for the call.
        let p = unsafe {
            nix::sys::mman::mmap(
                None,
                length,
                ProtFlags::PROT_READ | ProtFlags::PROT_WRITE,
                MapFlags::MAP_SHARED,
                fd,
                0,
            )
        }?;
        Ok(Map { ptr: p.cast(), len })
    }

    /// Its length.
    pub fn len(&self) -> usize {
        self.len
    }

    /// The start of `off..off + len`, which must lie inside the mapping and be `align`-aligned
    /// (the mapping starts on a page).
    fn at(&self, off: usize, len: usize, align: usize) -> *mut u8 {
        assert!(
            off.is_multiple_of(align) && off.checked_add(len).is_some_and(|end| end <= self.len),
            "offset {off} + {len} outside a mapping of {} bytes",
            self.len
        );
        // SAFETY: `off` is inside the mapping, as just checked.
        unsafe { self.ptr.as_ptr().add(off) }
    }

    /// The `u32` at `off` (4-aligned, inside the mapping), shared with the other process.
    pub fn u32(&self, off: usize) -> &AtomicU32 {
        let p = self.at(off, 4, 4);
        // SAFETY: in bounds and aligned, and the memory lives as long as `self`, which the
        // reference borrows; an atomic tolerates the other process writing it concurrently.
        unsafe { AtomicU32::from_ptr(p.cast()) }
    }

    /// The `u64` at `off` (8-aligned, inside the mapping).
    pub fn u64(&self, off: usize) -> &AtomicU64 {
        let p = self.at(off, 8, 8);
        // SAFETY: as for `u32`.
        unsafe { AtomicU64::from_ptr(p.cast()) }
    }

    /// Copies `buf.len()` bytes from `off` into `buf`.
    ///
    /// The slot protocol keeps the other side off these bytes meanwhile; if it breaks the
    /// protocol, the copy holds whatever it wrote.
    pub fn read(&self, off: usize, buf: &mut [u8]) {
        let p = self.at(off, buf.len(), 1);
        // SAFETY: `p..p + buf.len()` is inside the mapping, which lives for the call; `buf` is
        // this process's own memory, so the two do not overlap.
        unsafe { std::ptr::copy_nonoverlapping(p, buf.as_mut_ptr(), buf.len()) };
    }

    /// Copies `data` to `off`.
    pub fn write(&self, off: usize, data: &[u8]) {
        let p = self.at(off, data.len(), 1);
        // SAFETY: as for `read`, the other way.
        unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), p, data.len()) };
    }

    /// The `sem_t` at `off`: 32 bytes, 8-aligned, inside the mapping.
    fn sem(&self, off: usize) -> *mut libc::sem_t {
        self.at(off, std::mem::size_of::<libc::sem_t>(), 8).cast()
    }

    /// `sem_init(sem at off, 1, value)`. Only for an object this process created and has not
    /// yet marked initialised: no other process uses its semaphores yet.
    pub fn sem_init(&self, off: usize, value: u32) -> io::Result<()> {
        // SAFETY: a `sem_t` inside the mapping (checked by `sem`); initialising one that
        // another process already waits on would only confuse that process, whose memory
        // this is not.
        cvt(unsafe { libc::sem_init(self.sem(off), 1, value) })?;
        Ok(())
    }

    /// `sem_post(sem at off)`.
    pub fn sem_post(&self, off: usize) -> io::Result<()> {
        // SAFETY: a `sem_t` inside the mapping (checked by `sem`), which glibc treats as
        // words it updates atomically: one the other process garbled gives a wrong value or
        // an error (EOVERFLOW), never an access outside those 32 bytes.
        cvt(unsafe { libc::sem_post(self.sem(off)) })?;
        Ok(())
    }

    /// `sem_getvalue(sem at off)`.
    pub fn sem_value(&self, off: usize) -> io::Result<i32> {
        let mut v = 0;
        // SAFETY: as for `sem_post`; `v` is a valid `int` to write.
        cvt(unsafe { libc::sem_getvalue(self.sem(off), &mut v) })?;
        Ok(v)
    }

    /// `sem_timedwait(sem at off, deadline)`, `EINTR` retried: `Ok(false)` on expiry.
    pub fn sem_wait_until(&self, off: usize, deadline: &libc::timespec) -> io::Result<bool> {
        loop {
            // SAFETY: as for `sem_post`; `deadline` is a valid `timespec`.
            if unsafe { libc::sem_timedwait(self.sem(off), deadline) } == 0 {
                return Ok(true);
            }
            let e = io::Error::last_os_error();
            match e.raw_os_error() {
                Some(libc::EINTR) => continue,
                Some(libc::ETIMEDOUT) => return Ok(false),
                _ => return Err(e),
            }
        }
    }
}

impl Drop for Map {
    fn drop(&mut self) {
        // SAFETY: `ptr` and `len` come from a successful `mmap`, and every reference into the
        // mapping borrows `self`, so none outlives it.
        let _ = unsafe { nix::sys::mman::munmap(self.ptr.cast(), self.len) };
    }
}

/// `CLOCK_REALTIME` now plus `ms` milliseconds, as `sem_timedwait` takes it.
pub fn deadline_after(ms: u64) -> libc::timespec {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        + std::time::Duration::from_millis(ms);
    libc::timespec {
        tv_sec: now.as_secs() as libc::time_t,
        tv_nsec: now.subsec_nanos() as libc::c_long,
    }
}

/// The size of the object behind `fd` (`fstat`).
pub fn size_of(fd: &OwnedFd) -> io::Result<u64> {
    let file = std::fs::File::from(fd.try_clone()?);
    Ok(file.metadata()?.len())
}
