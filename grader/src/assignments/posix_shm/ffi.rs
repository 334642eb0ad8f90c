//! The few C calls the grader's own peer needs and neither `nix` nor the core wraps: POSIX
//! shared memory, `mmap` of a whole object, and unnamed process-shared semaphores inside it.
//! Every block is one call long and says why it is sound.
#![allow(unsafe_code)]

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicU32, AtomicU64};

/// `shm_open(name, flags | O_CLOEXEC, mode)`.
pub fn shm_open(name: &str, flags: libc::c_int, mode: libc::mode_t) -> io::Result<OwnedFd> {
    let name = CString::new(name).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: `name` is a valid NUL-terminated string for the duration of the call.
    let fd = unsafe { libc::shm_open(name.as_ptr(), flags | libc::O_CLOEXEC, mode) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `shm_open` returned a fresh descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `shm_unlink(name)`.
pub fn shm_unlink(name: &str) -> io::Result<()> {
    let name = CString::new(name).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: `name` is a valid NUL-terminated string for the duration of the call.
    if unsafe { libc::shm_unlink(name.as_ptr()) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// A shared read-write mapping of a whole object, unmapped on drop.
pub struct Map {
    ptr: *mut u8,
    len: usize,
}

impl Map {
    /// `mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)`.
    pub fn new(fd: &OwnedFd, len: usize) -> io::Result<Map> {
        // SAFETY: a NULL hint lets the kernel pick free addresses; `fd` is open.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd.as_raw_fd(),
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(Map { ptr: p.cast(), len })
    }

    /// Its length.
    pub fn len(&self) -> usize {
        self.len
    }

    /// The `u32` at `off` (4-aligned, inside the mapping), shared with the other process.
    pub fn u32(&self, off: usize) -> &AtomicU32 {
        assert!(off.is_multiple_of(4) && off + 4 <= self.len);
        // SAFETY: in bounds and aligned (the mapping is page aligned), and the memory lives as
        // long as `self`; an atomic tolerates the other process writing it concurrently.
        unsafe { &*self.ptr.add(off).cast::<AtomicU32>() }
    }

    /// The `u64` at `off` (8-aligned, inside the mapping).
    pub fn u64(&self, off: usize) -> &AtomicU64 {
        assert!(off.is_multiple_of(8) && off + 8 <= self.len);
        // SAFETY: as for `u32`.
        unsafe { &*self.ptr.add(off).cast::<AtomicU64>() }
    }

    /// Bytes `off..off + len`.
    ///
    /// The caller holds them under the slot protocol: the peer does not touch them meanwhile.
    #[allow(clippy::mut_from_ref)]
    pub fn bytes(&self, off: usize, len: usize) -> &mut [u8] {
        assert!(off + len <= self.len);
        // SAFETY: in bounds; exclusive by the slot protocol (a slot belongs to one side between
        // its semaphore operations), and the mapping lives as long as `self`.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.add(off), len) }
    }

    fn sem(&self, off: usize) -> *mut libc::sem_t {
        assert!(off.is_multiple_of(8) && off + 32 <= self.len);
        // SAFETY: in bounds, as just checked.
        unsafe { self.ptr.add(off).cast() }
    }

    /// `sem_init(sem at off, 1, value)`.
    pub fn sem_init(&self, off: usize, value: u32) -> io::Result<()> {
        // SAFETY: a 32-byte, 8-aligned `sem_t` inside the mapping that nobody uses yet.
        if unsafe { libc::sem_init(self.sem(off), 1, value) } < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// `sem_post(sem at off)`.
    pub fn sem_post(&self, off: usize) -> io::Result<()> {
        // SAFETY: a `sem_t` inside the mapping, initialised by the object's creator.
        if unsafe { libc::sem_post(self.sem(off)) } < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// `sem_getvalue(sem at off)`.
    pub fn sem_value(&self, off: usize) -> io::Result<i32> {
        let mut v = 0;
        // SAFETY: a `sem_t` inside the mapping; `v` is a valid `int` to write.
        if unsafe { libc::sem_getvalue(self.sem(off), &mut v) } < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(v)
    }

    /// `sem_timedwait(sem at off, deadline)`, `EINTR` retried: `Ok(false)` on expiry.
    pub fn sem_wait_until(&self, off: usize, deadline: &libc::timespec) -> io::Result<bool> {
        loop {
            // SAFETY: a `sem_t` inside the mapping; `deadline` is a valid `timespec`.
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
        // SAFETY: `ptr` and `len` come from a successful `mmap`; no reference outlives `self`.
        unsafe { libc::munmap(self.ptr.cast(), self.len) };
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
