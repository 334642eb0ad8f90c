//! `<sys/shm.h>`: the SysV segment that holds `sem-mutex`'s counter (lesson §10, §11).

use std::ptr::NonNull;
use std::sync::atomic::AtomicU64;

use nix::errno::Errno;

/// A SysV shared memory segment, named by its identifier. Removal is explicit
/// ([`Segment::remove`]): the segment belongs to the whole run, not to one process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    /// The identifier `shmget` returned.
    pub id: libc::c_int,
}

impl Segment {
    /// `shmget(key, size, IPC_CREAT | IPC_EXCL | mode)`—Creates a new zero-filled segment of
    /// `size` bytes, failing with `EEXIST` if the key already has one.
    pub fn create(key: libc::key_t, size: usize, mode: libc::mode_t) -> Result<Self, Errno> {
        let _ = (key, size, mode);
        todo!("specs/semaphores.md §4.2: call shmget(2) with IPC_CREAT | IPC_EXCL")
    }

    /// `shmget(key, 0, 0)`—Opens the existing segment of `key`, failing with `ENOENT` if there
    /// is none.
    pub fn open(key: libc::key_t) -> Result<Self, Errno> {
        let _ = key;
        todo!("specs/semaphores.md §4.2: call shmget(2) without IPC_CREAT")
    }

    /// `shmat(id, NULL, 0)`—Maps the segment at an address the kernel picks, read-write. The
    /// mapping lasts until the returned [`Attached`] is dropped.
    pub fn attach(&self) -> Result<Attached, Errno> {
        todo!("specs/semaphores.md §4.2: call shmat(2); (void *) -1 means failure")
    }

    /// `shmctl(id, IPC_STAT, &ds)`—The segment's size in bytes (`shm_segsz`).
    pub fn size(&self) -> Result<usize, Errno> {
        todo!("specs/semaphores.md §4.2: call shmctl(2) with IPC_STAT")
    }

    /// `shmctl(id, IPC_RMID, NULL)`—Marks the segment for removal; it goes away once the last
    /// process detaches.
    pub fn remove(self) -> Result<(), Errno> {
        todo!("specs/semaphores.md §4.2: call shmctl(2) with IPC_RMID")
    }
}

/// Size of the counter segment: one `uint64_t` (spec §4.2).
pub const COUNTER_SIZE: usize = 8;

/// This process's mapping of a segment; dropping it detaches (`shmdt`).
#[derive(Debug)]
pub struct Attached {
    /// Where `shmat` mapped the segment: page-aligned, at least [`COUNTER_SIZE`] bytes.
    addr: NonNull<u8>,
}

impl Attached {
    /// The `uint64_t` at offset 0, the shared counter. It is read and written with plain
    /// (relaxed) loads and stores: the semaphore, not the memory access, makes the update
    /// exclusive.
    pub fn counter(&self) -> &AtomicU64 {
        todo!("specs/semaphores.md §4.2: view offset 0 of the mapping as the counter")
    }
}

impl Drop for Attached {
    /// `shmdt(addr)`—Unmaps the segment from this process.
    fn drop(&mut self) {
        let _ = &self.addr;
        todo!("specs/semaphores.md §4.2: call shmdt(2)")
    }
}
