//! The SysV shared-memory calls the `sysv-shm` checks make themselves: create a segment of
//! their own (`shmget`), attach one to look at its header (`shmat`, `shmdt`; its size from
//! `IPC_STAT`) through an [`Attachment`] whose every access is checked. `nix` wraps none of
//! them. Each `unsafe` block is one call long.
#![allow(unsafe_code)]

use std::io;
use std::ptr::NonNull;
use crate::sys::cvt;

/// `shmget(key, size, IPC_CREAT | IPC_EXCL | 0600)`—Creates a new segment; its id.
pub fn create(key: i32, size: usize) -> io::Result<i32> {
    // SAFETY: shmget takes no pointers.
    let id = unsafe { libc::shmget(key, size, libc::IPC_CREAT | libc::IPC_EXCL | 0o600) };
    cvt(id)
}

/// `shmctl(id, IPC_STAT)`: the segment's description, as the kernel holds it.
fn stat(id: i32) -> io::Result<libc::shmid_ds> {
    // SAFETY: an all-zero shmid_ds is a valid value of this plain C struct.
    let mut ds: libc::shmid_ds = unsafe { std::mem::zeroed() };
    // SAFETY: `ds` is a live, writable shmid_ds.
    cvt(unsafe { libc::shmctl(id, libc::IPC_STAT, &mut ds) })?;
    Ok(ds)
}

/// `shmctl(id, IPC_SET)` with the segment's owner set to `uid` and `gid`: makes a segment the
/// grader created the programs' own, as if another run of theirs had left it.
pub fn give(id: i32, uid: u32, gid: u32) -> io::Result<()> {
    let mut ds = stat(id)?;
    ds.shm_perm.uid = uid;
    ds.shm_perm.gid = gid;
    // SAFETY: `ds` is a live shmid_ds, filled by IPC_STAT above.
    cvt(unsafe { libc::shmctl(id, libc::IPC_SET, &mut ds) })?;
    Ok(())
}

/// One attachment of a segment, detached on drop. Its length is the segment's own size, asked
/// of the kernel once attached (an attached segment cannot go away or change size), so every
/// access through it is checked against the attached range; it hands out no pointer or slice.
pub struct Attachment {
    addr: NonNull<u8>,
    len: usize,
    writable: bool,
}

impl Attachment {
    /// `shmat(id, NULL, read_only ? SHM_RDONLY : 0)`.
    pub fn attach(id: i32, read_only: bool) -> io::Result<Attachment> {
        let flags = if read_only { libc::SHM_RDONLY } else { 0 };
        // SAFETY: a NULL address lets the kernel choose a free range; nothing is replaced.
        let addr = unsafe { libc::shmat(id, std::ptr::null(), flags) };
        cvt(addr as isize)?;
        let addr = NonNull::new(addr.cast::<u8>()).ok_or(io::ErrorKind::InvalidData)?;
        // From here on `Drop` detaches, whatever happens next.
        let mut attached = Attachment {
            addr,
            len: 0,
            writable: !read_only,
        };
        // The segment's size, asked after attaching: the attachment keeps the segment (even
        // one marked for removal) and its size, which never changes, for as long as it lasts.
        attached.len = stat(id)?.shm_segsz;
        Ok(attached)
    }

    /// Reads `n` bytes at `offset`, fewer past the segment's end (fields another process may be
    /// changing: each byte is read once, volatile, so a torn value is possible but never
    /// undefined behaviour of ours).
    pub fn read(&self, offset: usize, n: usize) -> Vec<u8> {
        let end = offset.saturating_add(n).min(self.len);
        (offset..end)
            .map(|i| {
                // SAFETY: `i < len`, the segment's size, and it stays attached while `self`
                // lives; a volatile byte read of shared memory is always a valid `u8`.
                unsafe { self.addr.as_ptr().add(i).read_volatile() }
            })
            .collect()
    }

    /// Reads a little-endian `u64` at `offset` (missing bytes past the end read as 0).
    pub fn u64_at(&self, offset: usize) -> u64 {
        let b = self.read(offset, 8);
        let mut a = [0u8; 8];
        a[..b.len()].copy_from_slice(&b);
        u64::from_le_bytes(a)
    }

    /// Reads a little-endian `u32` at `offset` (missing bytes past the end read as 0).
    pub fn u32_at(&self, offset: usize) -> u32 {
        let b = self.read(offset, 4);
        let mut a = [0u8; 4];
        a[..b.len()].copy_from_slice(&b);
        u32::from_le_bytes(a)
    }

    /// Writes `bytes` at `offset` (a segment attached read-write that only the grader uses);
    /// an error, writing nothing, if attached read-only or if the bytes do not fit.
    pub fn write(&self, offset: usize, bytes: &[u8]) -> io::Result<()> {
        if !self.writable {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                "the segment is attached read-only",
            ));
        }
        if offset
            .checked_add(bytes.len())
            .is_none_or(|end| end > self.len)
        {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "{} bytes at offset {offset} do not fit in a segment of {} bytes",
                    bytes.len(),
                    self.len
                ),
            ));
        }
        for (i, b) in bytes.iter().enumerate() {
            // SAFETY: `offset + i < offset + bytes.len() <= len`, inside the segment, which is
            // attached read-write and stays attached while `self` lives.
            unsafe { self.addr.as_ptr().add(offset + i).write_volatile(*b) };
        }
        Ok(())
    }
}

impl Drop for Attachment {
    fn drop(&mut self) {
        // SAFETY: `addr` is the address shmat returned; nothing refers into it after this.
        unsafe { libc::shmdt(self.addr.as_ptr().cast()) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A private segment of `size` bytes, removed on drop (it lives on while attached).
    struct Private(i32);

    impl Private {
        fn new(size: usize) -> Private {
            Private(create(libc::IPC_PRIVATE, size).expect("shmget"))
        }
    }

    impl Drop for Private {
        fn drop(&mut self) {
            // SAFETY: IPC_RMID takes no buffer.
            unsafe { libc::shmctl(self.0, libc::IPC_RMID, std::ptr::null_mut()) };
        }
    }

    #[test]
    fn every_access_stays_inside_the_segment() {
        let seg = Private::new(48);
        let rw = Attachment::attach(seg.0, false).expect("attach read-write");
        rw.write(40, &[1, 2, 3, 4, 5, 6, 7, 8]).expect("fits");
        assert!(rw.write(41, &[0; 8]).is_err(), "one byte past the end");
        assert!(rw.write(usize::MAX, &[0; 2]).is_err(), "offset overflow");
        assert_eq!(rw.read(40, 100), [1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(rw.read(usize::MAX, 2), Vec::<u8>::new());
        assert_eq!(rw.u32_at(44), u32::from_le_bytes([5, 6, 7, 8]));
        assert_eq!(rw.u64_at(44), u64::from(u32::from_le_bytes([5, 6, 7, 8])));
        let ro = Attachment::attach(seg.0, true).expect("attach read-only");
        assert!(ro.write(0, &[9]).is_err(), "read-only attachment");
        assert_eq!(ro.read(40, 8), [1, 2, 3, 4, 5, 6, 7, 8]);
    }
}
