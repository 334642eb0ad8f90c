//! The SysV shared-memory calls the `sysv-shm` checks make themselves: create a segment of
//! their own (`shmget`), attach one to look at its header (`shmat`, `shmdt`). `nix` wraps none
//! of them. Each `unsafe` block is one call long.
#![allow(unsafe_code)]

use std::io;
use std::ptr::NonNull;

/// `shmget(key, size, IPC_CREAT | IPC_EXCL | 0600)`—Creates a new segment; its id.
pub fn create(key: i32, size: usize) -> io::Result<i32> {
    // SAFETY: shmget takes no pointers.
    let id = unsafe { libc::shmget(key, size, libc::IPC_CREAT | libc::IPC_EXCL | 0o600) };
    if id == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(id)
    }
}

/// `shmctl(id, IPC_SET)` with the segment's owner set to `uid` and `gid`: makes a segment the
/// grader created the programs' own, as if another run of theirs had left it.
pub fn give(id: i32, uid: u32, gid: u32) -> io::Result<()> {
    // SAFETY: an all-zero shmid_ds is a valid value of this plain C struct.
    let mut ds: libc::shmid_ds = unsafe { std::mem::zeroed() };
    // SAFETY: `ds` is a live, writable shmid_ds.
    if unsafe { libc::shmctl(id, libc::IPC_STAT, &mut ds) } == -1 {
        return Err(io::Error::last_os_error());
    }
    ds.shm_perm.uid = uid;
    ds.shm_perm.gid = gid;
    // SAFETY: `ds` is a live shmid_ds, filled by IPC_STAT above.
    if unsafe { libc::shmctl(id, libc::IPC_SET, &mut ds) } == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// One attachment of a segment, detached on drop.
pub struct Mapped {
    addr: NonNull<u8>,
    len: usize,
}

impl Mapped {
    /// `shmat(id, NULL, read_only ? SHM_RDONLY : 0)`; `len` is the segment's size.
    pub fn attach(id: i32, len: usize, read_only: bool) -> io::Result<Mapped> {
        let flags = if read_only { libc::SHM_RDONLY } else { 0 };
        // SAFETY: a NULL address lets the kernel choose a free range; nothing is replaced.
        let addr = unsafe { libc::shmat(id, std::ptr::null(), flags) };
        if addr as isize == -1 {
            return Err(io::Error::last_os_error());
        }
        let addr = NonNull::new(addr.cast::<u8>()).ok_or(io::ErrorKind::InvalidData)?;
        Ok(Mapped { addr, len })
    }

    /// Reads `n` bytes at `offset` (fields another process may be changing: each byte is read
    /// once, volatile, so a torn value is possible but never undefined behaviour of ours).
    pub fn read(&self, offset: usize, n: usize) -> Vec<u8> {
        let end = (offset + n).min(self.len);
        (offset..end)
            .map(|i| {
                // SAFETY: `i < len`, the segment's size, and it stays attached while `self`
                // lives; a volatile byte read of shared memory is always a valid `u8`.
                unsafe { self.addr.as_ptr().add(i).read_volatile() }
            })
            .collect()
    }

    /// Reads a little-endian `u64` at `offset`.
    pub fn u64_at(&self, offset: usize) -> u64 {
        let b = self.read(offset, 8);
        let mut a = [0u8; 8];
        a[..b.len()].copy_from_slice(&b);
        u64::from_le_bytes(a)
    }

    /// Reads a little-endian `u32` at `offset`.
    pub fn u32_at(&self, offset: usize) -> u32 {
        let b = self.read(offset, 4);
        let mut a = [0u8; 4];
        a[..b.len()].copy_from_slice(&b);
        u32::from_le_bytes(a)
    }

    /// Writes `bytes` at `offset` (a segment attached read-write that only the grader uses).
    pub fn write(&self, offset: usize, bytes: &[u8]) {
        for (i, b) in bytes.iter().enumerate() {
            if offset + i >= self.len {
                break;
            }
            // SAFETY: `offset + i < len`, inside the attached segment, attached read-write.
            unsafe { self.addr.as_ptr().add(offset + i).write_volatile(*b) };
        }
    }
}

impl Drop for Mapped {
    fn drop(&mut self) {
        // SAFETY: `addr` is the address shmat returned; nothing refers into it after this.
        unsafe { libc::shmdt(self.addr.as_ptr().cast()) };
    }
}
