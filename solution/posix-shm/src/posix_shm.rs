//! POSIX shared memory and memory-mapped files: `shm_open`, `shm_unlink`, `open`, `unlink`,
//! `ftruncate`, `fstat`, `mmap`, `munmap` (lesson §12: a segment is a file in tmpfs; a
//! regular file is mapped with the same calls).

use std::ffi::CStr;
use std::io;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::ptr::NonNull;
// BEGIN SOLUTION
use crate::cvt::{cvt, cvt_r};
use std::os::fd::{AsRawFd, FromRawFd};
// END SOLUTION

/// `shm_open(name, oflag, mode)`—Opens, or with `O_CREAT` creates, the POSIX shared-memory
/// object `name` and returns a descriptor for it.
///
/// `O_CLOEXEC` is always added. On Linux the object is the file `/dev/shm/NAME[1..]` in a
/// tmpfs. See POSIX `shm_open` and Linux `shm_open(3)`, `shm_overview(7)`.
pub fn shm_open(name: &CStr, oflag: libc::c_int, mode: libc::mode_t) -> io::Result<OwnedFd> {
    let _ = (name, oflag, mode);
    // BEGIN SOLUTION todo!("specs/posix-shm.md §7: shm_open(name, oflag | O_CLOEXEC, mode)")
    // SAFETY: `name` is a valid NUL-terminated string for the duration of the call.
    let fd = cvt(unsafe { libc::shm_open(name.as_ptr(), oflag | libc::O_CLOEXEC, mode) })?;
    // SAFETY: `shm_open` returned a fresh descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
    // END SOLUTION
}

/// `shm_unlink(name)`—Removes the name of a POSIX shared-memory object.
///
/// The memory lives on until the last mapping of it is unmapped and the last descriptor is
/// closed. See POSIX `shm_unlink` and Linux `shm_unlink(3)`.
pub fn shm_unlink(name: &CStr) -> io::Result<()> {
    let _ = name;
    // BEGIN SOLUTION todo!("specs/posix-shm.md §7: shm_unlink(name)")
    // SAFETY: `name` is a valid NUL-terminated string for the duration of the call.
    cvt(unsafe { libc::shm_unlink(name.as_ptr()) })?;
    Ok(())
    // END SOLUTION
}

/// `open(path, oflag, mode)`—Opens, or with `O_CREAT` creates, the regular file `path`.
///
/// `O_CLOEXEC` is always added; `EINTR` is retried. See POSIX `open` and Linux `open(2)`.
pub fn open(path: &CStr, oflag: libc::c_int, mode: libc::mode_t) -> io::Result<OwnedFd> {
    let _ = (path, oflag, mode);
    // BEGIN SOLUTION todo!("specs/posix-shm.md §7: open(path, oflag | O_CLOEXEC, mode)")
    let fd = cvt_r(|| {
        // SAFETY: `path` is a valid NUL-terminated string for the duration of the call.
        unsafe {
            libc::open(
                path.as_ptr(),
                oflag | libc::O_CLOEXEC,
                libc::c_uint::from(mode),
            )
        }
    })?;
    // SAFETY: `open` returned a fresh descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
    // END SOLUTION
}

/// `unlink(path)`—Removes the name `path` of a file. See POSIX `unlink` and Linux `unlink(2)`.
pub fn unlink(path: &CStr) -> io::Result<()> {
    let _ = path;
    // BEGIN SOLUTION todo!("specs/posix-shm.md §7: unlink(path)")
    // SAFETY: `path` is a valid NUL-terminated string for the duration of the call.
    cvt(unsafe { libc::unlink(path.as_ptr()) })?;
    Ok(())
    // END SOLUTION
}

/// `ftruncate(fd, len)`—Sets the size of the object or file to `len` bytes; new bytes read as
/// zero. See POSIX `ftruncate` and Linux `ftruncate(2)`.
pub fn ftruncate(fd: BorrowedFd<'_>, len: u64) -> io::Result<()> {
    let _ = (fd, len);
    // BEGIN SOLUTION todo!("specs/posix-shm.md §7: ftruncate(fd, len), EINTR retried")
    let len = libc::off_t::try_from(len).map_err(|_| io::Error::from_raw_os_error(libc::EFBIG))?;
    // SAFETY: `fd` is an open descriptor borrowed for the duration of the call.
    cvt_r(|| unsafe { libc::ftruncate(fd.as_raw_fd(), len) })?;
    Ok(())
    // END SOLUTION
}

/// `fstat(fd)`—Returns `st_size`, the size in bytes of the object or file.
/// See POSIX `fstat` and Linux `fstat(2)`.
pub fn fstat_size(fd: BorrowedFd<'_>) -> io::Result<u64> {
    let _ = fd;
    // BEGIN SOLUTION todo!("specs/posix-shm.md §7: fstat(fd) and return st_size")
    let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: `fd` is open and `st` points to writable memory the size of a `struct stat`.
    cvt(unsafe { libc::fstat(fd.as_raw_fd(), st.as_mut_ptr()) })?;
    // SAFETY: `fstat` succeeded, so it filled in the whole structure.
    let st = unsafe { st.assume_init() };
    Ok(u64::try_from(st.st_size).unwrap_or(0))
    // END SOLUTION
}

/// A shared, readable and writable mapping of a whole object; [`Drop`] unmaps it.
///
/// The mapping stays valid after its descriptor is closed and after the name is unlinked
/// (lesson §12).
#[derive(Debug)]
pub struct Mapping {
    /// First byte of the mapping (page aligned).
    ptr: NonNull<u8>,
    /// Length in bytes, as passed to `mmap`.
    len: usize,
}

// SAFETY: the mapping is plain memory; who may touch which bytes is decided by the protocol
// of `ring`, not by the thread that happens to hold the `Mapping`.
unsafe impl Send for Mapping {}
// SAFETY: as above; shared access goes through atomics, semaphores or the slot protocol.
unsafe impl Sync for Mapping {}

/// `mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)`—Maps the first `len` bytes
/// of the object or file so that stores are seen by every other process that maps it.
///
/// See POSIX `mmap` and Linux `mmap(2)`.
pub fn mmap_shared(fd: BorrowedFd<'_>, len: usize) -> io::Result<Mapping> {
    let _ = (fd, len);
    // BEGIN SOLUTION todo!("specs/posix-shm.md §7: mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)")
    let prot = libc::PROT_READ | libc::PROT_WRITE;
    // SAFETY: a NULL hint lets the kernel choose free addresses, so no existing memory of this
    // process is replaced; `fd` is open for the duration of the call.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            prot,
            libc::MAP_SHARED,
            fd.as_raw_fd(),
            0,
        )
    };
    if p == libc::MAP_FAILED {
        return Err(io::Error::last_os_error());
    }
    // `mmap` returns a valid non-null pointer or `MAP_FAILED`.
    let ptr =
        NonNull::new(p.cast::<u8>()).ok_or_else(|| io::Error::from_raw_os_error(libc::EINVAL))?;
    Ok(Mapping { ptr, len })
    // END SOLUTION
}

/// `munmap(addr, len)`—Removes a mapping made by [`mmap_shared`]. See POSIX `munmap`.
///
/// # Safety
///
/// `addr` and `len` are exactly those of a live mapping, and no reference into it is used
/// afterwards.
unsafe fn munmap(addr: NonNull<u8>, len: usize) -> io::Result<()> {
    let _ = (addr, len);
    // BEGIN SOLUTION todo!("specs/posix-shm.md §7: munmap(addr, len)")
    // SAFETY: the caller passes a live mapping that nothing uses any more.
    cvt(unsafe { libc::munmap(addr.as_ptr().cast(), len) })?;
    Ok(())
    // END SOLUTION
}

impl Mapping {
    /// First byte of the mapping.
    pub fn as_ptr(&self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    /// Length of the mapping in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the mapping is empty (never true for a successful `mmap`).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The bytes `off..off + len` of the mapping, to read or write in place.
    ///
    /// # Safety
    ///
    /// `off + len <= self.len()`, and while the slice lives no other process or thread
    /// touches those bytes (the caller holds them under the slot protocol of `ring`).
    #[allow(clippy::mut_from_ref)]
    pub unsafe fn bytes_mut(&self, off: usize, len: usize) -> &mut [u8] {
        debug_assert!(off + len <= self.len);
        // SAFETY: in bounds, and exclusive for the slice's lifetime, by the caller's promise.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr().add(off), len) }
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: `ptr` and `len` come from a successful `mmap` and `self` is going away.
        let _ = unsafe { munmap(self.ptr, self.len) };
    }
}
