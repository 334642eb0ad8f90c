//! SysV shared-memory segments (`<sys/shm.h>`, lesson §10–11).
//!
//! A [`Segment`] is one attachment: dropping it detaches (`shmdt`) and never destroys the
//! segment. Destruction is explicit ([`Segment::mark_removed`], `IPC_RMID`) and takes effect
//! when the last attachment goes; Linux still lets a process attach a segment marked for
//! removal, which is what lets the creator mark it at once and leave nothing behind.

use std::ptr::NonNull;

use libc::c_int;
use nix::errno::Errno;

// BEGIN SOLUTION
use crate::cvt::cvt;

// END SOLUTION
/// One attachment of a segment into this process.
#[derive(Debug)]
pub struct Segment {
    /// The identifier `shmget` returned.
    pub id: c_int,
    /// Where the segment is attached in this process.
    addr: NonNull<u8>,
    /// Its size in bytes.
    len: usize,
    /// Whether it was attached for writing.
    writable: bool,
}

impl Segment {
    /// `shmget(IPC_PRIVATE, len, IPC_CREAT | 0600)` then `shmat(id, NULL, 0)`—Creates a new
    /// segment of `len` bytes and attaches it for reading and writing.
    pub fn create_private(len: usize) -> Result<Segment, Errno> {
        let _ = &len;
        // BEGIN SOLUTION todo!("specs/seg-pool.md §2.4: create and attach a private segment")
        // SAFETY: plain system call on integers.
        let id = cvt(unsafe { libc::shmget(libc::IPC_PRIVATE, len, libc::IPC_CREAT | 0o600) })?;
        Self::attach(id, true).inspect_err(|_| {
            let _ = remove_id(id);
        })
        // END SOLUTION
    }

    /// `shmctl(id, IPC_STAT)` then `shmat(id, NULL, writable ? 0 : SHM_RDONLY)`—Attaches an
    /// existing segment, whatever its size.
    pub fn attach(id: c_int, writable: bool) -> Result<Segment, Errno> {
        let _ = (&id, &writable);
        // BEGIN SOLUTION todo!("specs/seg-pool.md §2.4: attach an existing segment")
        let mut ds = std::mem::MaybeUninit::<libc::shmid_ds>::zeroed();
        // SAFETY: with `IPC_STAT` the kernel fills a `struct shmid_ds`, which `ds` has room for.
        cvt(unsafe { libc::shmctl(id, libc::IPC_STAT, ds.as_mut_ptr()) })?;
        // SAFETY: zero-initialised, then filled by the kernel; every bit pattern is valid.
        let len = unsafe { ds.assume_init() }.shm_segsz;
        let flags = if writable { 0 } else { libc::SHM_RDONLY };
        // SAFETY: a null address lets the kernel choose where to map the segment.
        let addr = unsafe { libc::shmat(id, std::ptr::null(), flags) };
        if addr as isize == -1 {
            return Err(Errno::last());
        }
        let addr = NonNull::new(addr.cast()).ok_or(Errno::EFAULT)?;
        Ok(Segment {
            id,
            addr,
            len,
            writable,
        })
        // END SOLUTION
    }

    /// The segment's size in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Where the segment is attached in this process.
    pub fn addr(&self) -> NonNull<u8> {
        self.addr
    }

    /// Whether the segment is attached for writing.
    pub fn writable(&self) -> bool {
        self.writable
    }

    /// Whether the segment has no bytes (never, for an attached segment).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// `shmctl(id, IPC_RMID)`—Marks the segment for destruction once the last process has
    /// detached; attached processes keep using it.
    pub fn mark_removed(&self) -> Result<(), Errno> {
        // BEGIN SOLUTION todo!("specs/seg-pool.md §2.4: shmctl(id, IPC_RMID)")
        remove_id(self.id)
        // END SOLUTION
    }

    /// The segment's bytes. The other process must not write them while they are borrowed:
    /// the free list hands each segment to one process at a time.
    pub fn as_slice(&self) -> &[u8] {
        // BEGIN SOLUTION todo!("specs/seg-pool.md §2.4: view the attached bytes")
        // SAFETY: `addr` is the start of `len` attached bytes that stay mapped until `drop`.
        unsafe { std::slice::from_raw_parts(self.addr.as_ptr(), self.len) }
        // END SOLUTION
    }

    /// The segment's bytes, for writing; panics on a read-only attachment.
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        // BEGIN SOLUTION todo!("specs/seg-pool.md §2.4: view the attached bytes for writing")
        assert!(self.writable, "segment attached read-only");
        // SAFETY: `addr` is the start of `len` attached, writable bytes that stay mapped until
        // `drop`; `&mut self` makes this the only view in this process.
        unsafe { std::slice::from_raw_parts_mut(self.addr.as_ptr(), self.len) }
        // END SOLUTION
    }
}

impl Drop for Segment {
    /// `shmdt(addr)`—Detaches; the segment itself stays until it is removed.
    fn drop(&mut self) {
        // BEGIN SOLUTION todo!("specs/seg-pool.md §2.4: shmdt")
        // SAFETY: `addr` is the address `shmat` returned and is detached only here.
        let _ = cvt(unsafe { libc::shmdt(self.addr.as_ptr().cast()) });
        // END SOLUTION
    }
}
// BEGIN SOLUTION

/// `shmctl(id, IPC_RMID)`.
fn remove_id(id: c_int) -> Result<(), Errno> {
    // SAFETY: `IPC_RMID` takes no buffer.
    cvt(unsafe { libc::shmctl(id, libc::IPC_RMID, std::ptr::null_mut()) })?;
    Ok(())
}
// END SOLUTION
