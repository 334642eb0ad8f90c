//! SysV shared memory: `ftok`, `shmget`, `shmat`, `shmdt`, `shmctl` (lesson §10–11, spec §2.6).
//!
//! A [`ShmId`] names a segment and is freely copied; it does not remove anything by itself.
//! An [`Attachment`] is one mapping of a segment into this process and detaches when dropped.
//! Removal (`shmctl(IPC_RMID)`) is always an explicit call by the side the spec names.

use std::path::Path;
use std::ptr::NonNull;

use nix::errno::Errno;

/// Where Linux publishes the largest segment size `shmget` accepts.
pub const SHMMAX_PATH: &str = "/proc/sys/kernel/shmmax";

/// A SysV IPC key, as made by [`ftok`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Key(pub libc::key_t);

/// A shared-memory identifier, as returned by [`shmget`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShmId(pub libc::c_int);

/// `ftok(path, proj_id)`—Makes a key from a file's inode and device and the low 8 bits of
/// `proj_id`. The same arguments give the same key while the file exists.
///
/// Fails with the `stat` errors of `path` (`ENOENT` when it does not exist).
pub fn ftok(path: &Path, proj_id: u8) -> Result<Key, Errno> {
    let _ = (path, proj_id);
    todo!("specs/sysv-shm.md §2.6: call ftok(3) and convert its -1 + errno")
}

/// `shmget(key, size, flags)`—Creates (with `IPC_CREAT`, and `IPC_EXCL` to insist on a new
/// one) or opens the segment of `key`. `flags` also carries the permission bits.
///
/// Fails with `EEXIST` (exists and `IPC_EXCL`), `ENOENT` (missing, no `IPC_CREAT`), `EINVAL`
/// (size out of range or larger than the existing segment), `ENOMEM`/`ENOSPC` (limits).
pub fn shmget(key: Key, size: usize, flags: libc::c_int) -> Result<ShmId, Errno> {
    let _ = (key, size, flags);
    todo!("specs/sysv-shm.md §2.6: call shmget(2)")
}

/// `shmctl(id, IPC_STAT, &buf)`—Reads the segment's size (`shm_segsz`), number of attachments
/// (`shm_nattch`), creator and last-operation PIDs.
pub fn shm_stat(id: ShmId) -> Result<libc::shmid_ds, Errno> {
    let _ = id;
    todo!("specs/sysv-shm.md §2.6: call shmctl(2) with IPC_STAT")
}

/// `shmctl(id, IPC_RMID, NULL)`—Marks the segment for destruction: its key is free at once,
/// and its memory is freed when the last attachment goes.
///
/// Fails with `EINVAL` or `EIDRM` when it is already gone.
pub fn shm_remove(id: ShmId) -> Result<(), Errno> {
    let _ = id;
    todo!("specs/sysv-shm.md §2.6: call shmctl(2) with IPC_RMID")
}

/// One attachment of a segment into this process's address space; `shmdt` on drop.
#[derive(Debug)]
pub struct Attachment {
    /// The address `shmat` chose (page-aligned).
    addr: NonNull<u8>,
    /// The segment's size in bytes, as asked for by the caller of [`shmat`].
    len: usize,
}

/// `shmat(id, NULL, flags)`—Attaches the segment at an address the kernel chooses, read-only
/// with `SHM_RDONLY`. `len` is the segment's size (the caller knows it from `shmget` or
/// [`shm_stat`]); it bounds [`Attachment::as_ptr`]'s valid range.
pub fn shmat(id: ShmId, len: usize, read_only: bool) -> Result<Attachment, Errno> {
    let _ = (id, len, read_only);
    todo!("specs/sysv-shm.md §2.6: call shmat(2); (void *) -1 means failure")
}

impl Attachment {
    /// The first byte of the segment.
    pub fn as_ptr(&self) -> *mut u8 {
        self.addr.as_ptr()
    }

    /// The segment's size in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the segment has no bytes (never true for a segment from `shmget`).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl Drop for Attachment {
    /// `shmdt(addr)`—Detaches the segment; the segment itself stays until it is removed.
    fn drop(&mut self) {
        todo!("specs/sysv-shm.md §2.6: call shmdt(2)")
    }
}

/// Reads the system's largest segment size from [`SHMMAX_PATH`].
pub fn shmmax() -> std::io::Result<u64> {
    let text = std::fs::read_to_string(SHMMAX_PATH)?;
    text.trim()
        .parse()
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
}
