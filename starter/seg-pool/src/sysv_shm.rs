//! SysV shared-memory segments (`<sys/shm.h>`, lesson §10–11).
//!
//! A [`Segment`] is one attachment: dropping it detaches (`shmdt`) and never destroys the
//! segment. Destruction is explicit ([`Segment::mark_removed`], `IPC_RMID`) and takes effect
//! when the last attachment goes; Linux still lets a process attach a segment marked for
//! removal, which is what lets the creator mark it at once and leave nothing behind.

use std::ptr::NonNull;

use libc::c_int;
use nix::errno::Errno;

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
        todo!("specs/seg-pool.md §2.4: create and attach a private segment")
    }

    /// `shmctl(id, IPC_STAT)` then `shmat(id, NULL, writable ? 0 : SHM_RDONLY)`—Attaches an
    /// existing segment, whatever its size.
    pub fn attach(id: c_int, writable: bool) -> Result<Segment, Errno> {
        let _ = (&id, &writable);
        todo!("specs/seg-pool.md §2.4: attach an existing segment")
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
        todo!("specs/seg-pool.md §2.4: shmctl(id, IPC_RMID)")
    }

    /// The segment's bytes. The other process must not write them while they are borrowed:
    /// the free list hands each segment to one process at a time.
    pub fn as_slice(&self) -> &[u8] {
        todo!("specs/seg-pool.md §2.4: view the attached bytes")
    }

    /// The segment's bytes, for writing; panics on a read-only attachment.
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        todo!("specs/seg-pool.md §2.4: view the attached bytes for writing")
    }
}

impl Drop for Segment {
    /// `shmdt(addr)`—Detaches; the segment itself stays until it is removed.
    fn drop(&mut self) {
        todo!("specs/seg-pool.md §2.4: shmdt")
    }
}
