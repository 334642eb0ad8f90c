//! `<sys/shm.h>`: the SysV segment that holds `sem-mutex`'s counter (lesson §10, §11).

use std::ptr::NonNull;
use std::sync::atomic::AtomicU64;

use nix::errno::Errno;

// BEGIN SOLUTION
use crate::cvt::cvt;
// END SOLUTION

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
        // BEGIN SOLUTION todo!("specs/semaphores.md §4.2: call shmget(2) with IPC_CREAT | IPC_EXCL")
        let flags = libc::IPC_CREAT | libc::IPC_EXCL | mode as libc::c_int;
        // SAFETY: shmget takes only integers.
        let id = unsafe { libc::shmget(key, size, flags) };
        cvt(id).map(|id| Segment { id })
        // END SOLUTION
    }

    /// `shmget(key, 0, 0)`—Opens the existing segment of `key`, failing with `ENOENT` if there
    /// is none.
    pub fn open(key: libc::key_t) -> Result<Self, Errno> {
        let _ = key;
        // BEGIN SOLUTION todo!("specs/semaphores.md §4.2: call shmget(2) without IPC_CREAT")
        // SAFETY: shmget takes only integers.
        let id = unsafe { libc::shmget(key, 0, 0) };
        cvt(id).map(|id| Segment { id })
        // END SOLUTION
    }

    /// `shmat(id, NULL, 0)`—Maps the segment at an address the kernel picks, read-write. The
    /// mapping lasts until the returned [`Attached`] is dropped.
    pub fn attach(&self) -> Result<Attached, Errno> {
        // BEGIN SOLUTION todo!("specs/semaphores.md §4.2: call shmat(2); (void *) -1 means failure")
        // SAFETY: a null address lets the kernel choose where to map; nothing is overwritten.
        let addr = unsafe { libc::shmat(self.id, std::ptr::null(), 0) };
        cvt(addr as isize)?;
        let size = self.size()?;
        if size < COUNTER_SIZE {
            // SAFETY: `addr` is the mapping shmat just returned and nothing else refers to it.
            unsafe { libc::shmdt(addr) };
            return Err(Errno::EINVAL);
        }
        NonNull::new(addr.cast::<u8>())
            .map(|addr| Attached { addr })
            .ok_or(Errno::EINVAL)
        // END SOLUTION
    }

    /// `shmctl(id, IPC_STAT, &ds)`—The segment's size in bytes (`shm_segsz`).
    pub fn size(&self) -> Result<usize, Errno> {
        // BEGIN SOLUTION todo!("specs/semaphores.md §4.2: call shmctl(2) with IPC_STAT")
        // SAFETY: shmid_ds is plain integers, for which all zeroes is a valid value.
        let mut ds: libc::shmid_ds = unsafe { std::mem::zeroed() };
        // SAFETY: `ds` is a valid shmid_ds for the kernel to fill and outlives the call.
        cvt(unsafe { libc::shmctl(self.id, libc::IPC_STAT, &mut ds) })?;
        Ok(ds.shm_segsz)
        // END SOLUTION
    }

    /// `shmctl(id, IPC_RMID, NULL)`—Marks the segment for removal; it goes away once the last
    /// process detaches.
    pub fn remove(self) -> Result<(), Errno> {
        // BEGIN SOLUTION todo!("specs/semaphores.md §4.2: call shmctl(2) with IPC_RMID")
        // SAFETY: IPC_RMID ignores the buffer, so a null pointer is fine.
        cvt(unsafe { libc::shmctl(self.id, libc::IPC_RMID, std::ptr::null_mut()) }).map(drop)
        // END SOLUTION
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
        // BEGIN SOLUTION todo!("specs/semaphores.md §4.2: view offset 0 of the mapping as the counter")
        // SAFETY: the mapping is page-aligned, at least 8 bytes long (checked in `attach`) and
        // stays mapped while `self` lives; other processes access it only atomically too.
        unsafe { AtomicU64::from_ptr(self.addr.as_ptr().cast::<u64>()) }
        // END SOLUTION
    }
}

impl Drop for Attached {
    /// `shmdt(addr)`—Unmaps the segment from this process.
    fn drop(&mut self) {
        let _ = &self.addr;
        // BEGIN SOLUTION todo!("specs/semaphores.md §4.2: call shmdt(2)")
        // SAFETY: `addr` is the address shmat returned; no reference into it outlives `self`.
        unsafe { libc::shmdt(self.addr.as_ptr().cast()) };
        // END SOLUTION
    }
}
