//! POSIX shared memory and memory-mapped files: `shm_open`, `shm_unlink`, `open`, `unlink`,
//! `ftruncate`, `fstat`, `mmap`, `munmap` (lesson §12: a segment is a file in tmpfs; a
//! regular file is mapped with the same calls).

use std::ffi::CStr;
use std::io;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::ptr::NonNull;

/// `shm_open(name, oflag, mode)`—Opens, or with `O_CREAT` creates, the POSIX shared-memory
/// object `name` and returns a descriptor for it.
///
/// `O_CLOEXEC` is always added. On Linux the object is the file `/dev/shm/NAME[1..]` in a
/// tmpfs. See POSIX `shm_open` and Linux `shm_open(3)`, `shm_overview(7)`.
pub fn shm_open(name: &CStr, oflag: libc::c_int, mode: libc::mode_t) -> io::Result<OwnedFd> {
    let _ = (name, oflag, mode);
    todo!("specs/posix-shm.md §7: shm_open(name, oflag | O_CLOEXEC, mode)")
}

/// `shm_unlink(name)`—Removes the name of a POSIX shared-memory object.
///
/// The memory lives on until the last mapping of it is unmapped and the last descriptor is
/// closed. See POSIX `shm_unlink` and Linux `shm_unlink(3)`.
pub fn shm_unlink(name: &CStr) -> io::Result<()> {
    let _ = name;
    todo!("specs/posix-shm.md §7: shm_unlink(name)")
}

/// `open(path, oflag, mode)`—Opens, or with `O_CREAT` creates, the regular file `path`.
///
/// `O_CLOEXEC` is always added; `EINTR` is retried. See POSIX `open` and Linux `open(2)`.
pub fn open(path: &CStr, oflag: libc::c_int, mode: libc::mode_t) -> io::Result<OwnedFd> {
    let _ = (path, oflag, mode);
    todo!("specs/posix-shm.md §7: open(path, oflag | O_CLOEXEC, mode)")
}

/// `unlink(path)`—Removes the name `path` of a file. See POSIX `unlink` and Linux `unlink(2)`.
pub fn unlink(path: &CStr) -> io::Result<()> {
    let _ = path;
    todo!("specs/posix-shm.md §7: unlink(path)")
}

/// `ftruncate(fd, len)`—Sets the size of the object or file to `len` bytes; new bytes read as
/// zero. See POSIX `ftruncate` and Linux `ftruncate(2)`.
pub fn ftruncate(fd: BorrowedFd<'_>, len: u64) -> io::Result<()> {
    let _ = (fd, len);
    todo!("specs/posix-shm.md §7: ftruncate(fd, len), EINTR retried")
}

/// `fstat(fd)`—Returns `st_size`, the size in bytes of the object or file.
/// See POSIX `fstat` and Linux `fstat(2)`.
pub fn fstat_size(fd: BorrowedFd<'_>) -> io::Result<u64> {
    let _ = fd;
    todo!("specs/posix-shm.md §7: fstat(fd) and return st_size")
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
    todo!("specs/posix-shm.md §7: mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)")
}

/// `munmap(addr, len)`—Removes a mapping made by [`mmap_shared`]. See POSIX `munmap`.
///
/// # Safety
///
/// `addr` and `len` are exactly those of a live mapping, and no reference into it is used
/// afterwards.
unsafe fn munmap(addr: NonNull<u8>, len: usize) -> io::Result<()> {
    let _ = (addr, len);
    todo!("specs/posix-shm.md §7: munmap(addr, len)")
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
