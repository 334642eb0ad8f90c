//! The channel: the layout of the object (spec §4), the rendezvous of the two sides (§5) and
//! the transfer through the ring of slots (§6).

use std::io;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicU32, AtomicU64};
use std::time::Duration;

use crate::Failure;
use crate::cli::{Role, Target};
use crate::posix_shm::{self, Mapping};
use crate::sem::Sem;

/// `magic` of an initialised object: the bytes `P S H M` in memory.
pub const MAGIC: u32 = 0x4D48_5350;
/// `version` of this layout.
pub const VERSION: u32 = 1;
/// Bytes before the data area: the header page.
pub const HEADER_SIZE: usize = 4096;
/// The page size; ring sizes are multiples of it.
pub const PAGE: u64 = 4096;
/// Slots a creator divides its ring into.
pub const SLOT_COUNT: u32 = 4;
/// Most slots the slot table has room for: `(4096 - 256) / 16`.
pub const MAX_SLOTS: usize = 240;
/// Largest ring a creator makes or a joiner accepts: 1 GiB.
pub const MAX_RING: u64 = 1 << 30;

/// `state`: set up by the creator, no peer yet.
pub const STATE_READY: u32 = 1;
/// `state`: the peer joined.
pub const STATE_JOINED: u32 = 2;
/// `state`: the creator stopped waiting for a peer and removed the name.
pub const STATE_ABANDONED: u32 = 3;

/// Slot `flags` bit: the last slot of the stream.
pub const FLAG_END: u32 = 1;

/// How often a joiner looks again at an object whose creator has not marked it yet.
pub const INIT_POLL: Duration = Duration::from_millis(1);

/// The header page at offset 0 of the object (spec §4.1). Every field is an atomic or a
/// semaphore, because the two processes read and write it at the same time.
#[repr(C)]
pub struct Header {
    /// [`MAGIC`], stored last (release) by the creator: "initialised".
    pub magic: AtomicU32,
    /// [`VERSION`].
    pub version: AtomicU32,
    /// [`STATE_READY`], [`STATE_JOINED`] or [`STATE_ABANDONED`]; 0 before initialisation.
    pub state: AtomicU32,
    /// The creator's [`Role`]: 1 sender, 2 receiver.
    pub creator: AtomicU32,
    /// Bytes in the data area.
    pub ring_size: AtomicU64,
    /// Slots in the data area.
    pub slot_count: AtomicU32,
    /// Bytes in one slot; `slot_count * slot_size == ring_size`.
    pub slot_size: AtomicU32,
    /// Process ID of the creator (for people reading a dump; not used by the protocol).
    pub creator_pid: AtomicU32,
    /// Zero.
    _reserved: [u32; 7],
    /// Posted once by the joiner when it has joined; initial value 0.
    pub joined: Sem,
    /// Counts slots that hold data for the receiver; initial value 0.
    pub filled: Sem,
    /// Counts slots the sender may fill; initial value `slot_count`.
    pub free: Sem,
    /// Zero.
    _reserved2: [u64; 12],
    /// One descriptor per slot; only the first `slot_count` are used.
    pub slots: [Slot; MAX_SLOTS],
}

/// One slot descriptor (spec §4.2), written by the sender before it posts `filled`.
#[repr(C)]
pub struct Slot {
    /// Position in the stream of the slot's first byte.
    pub offset: AtomicU64,
    /// Bytes of data in the slot, `0..=slot_size`.
    pub len: AtomicU32,
    /// [`FLAG_END`] on the last slot of the stream; no other bit is used.
    pub flags: AtomicU32,
}

const _: () = {
    use std::mem::{offset_of, size_of};
    assert!(offset_of!(Header, ring_size) == 16);
    assert!(offset_of!(Header, creator_pid) == 32);
    assert!(offset_of!(Header, joined) == 64);
    assert!(offset_of!(Header, filled) == 96);
    assert!(offset_of!(Header, free) == 128);
    assert!(offset_of!(Header, slots) == 256);
    assert!(size_of::<Slot>() == 16);
    assert!(size_of::<Header>() == HEADER_SIZE);
};

/// The header at the start of `map`.
///
/// Panics if `map` is shorter than [`HEADER_SIZE`].
pub fn header(map: &Mapping) -> &Header {
    assert!(map.len() >= HEADER_SIZE);
    // SAFETY: the mapping is page aligned and at least a header long, and lives as long as the
    // returned reference; every field is an atomic or a semaphore, so other processes may write
    // it while we hold `&Header`.
    unsafe { &*map.as_ptr().cast::<Header>() }
}

impl Target {
    /// Creates the object or file, `O_RDWR | O_CREAT | O_EXCL`, mode 0600.
    pub fn create_excl(&self) -> io::Result<OwnedFd> {
        let flags = libc::O_RDWR | libc::O_CREAT | libc::O_EXCL;
        match self {
            Target::Shm(name) => posix_shm::shm_open(name, flags, 0o600),
            Target::File(path) => posix_shm::open(path, flags, 0o600),
        }
    }

    /// Opens the existing object or file, `O_RDWR`.
    pub fn open_existing(&self) -> io::Result<OwnedFd> {
        match self {
            Target::Shm(name) => posix_shm::shm_open(name, libc::O_RDWR, 0),
            Target::File(path) => posix_shm::open(path, libc::O_RDWR, 0),
        }
    }

    /// Removes the name: `shm_unlink` or `unlink`.
    pub fn remove(&self) -> io::Result<()> {
        match self {
            Target::Shm(name) => posix_shm::shm_unlink(name),
            Target::File(path) => posix_shm::unlink(path),
        }
    }
}

/// One side's view of a joined channel: the whole object mapped.
pub struct Channel {
    /// Header page followed by the data area.
    pub map: Mapping,
    /// Which side this process is.
    pub role: Role,
    /// Bound of every wait for the peer (spec §6.3).
    pub timeout: Duration,
}

impl Channel {
    /// Creates the object, or joins the one the peer created, and returns once both sides are
    /// there (spec §5). `ring_size` is used only when this side creates.
    pub fn open(
        target: &Target,
        role: Role,
        ring_size: u64,
        timeout: Duration,
    ) -> Result<Channel, Failure> {
        let _ = (target, role, ring_size, timeout);
        todo!("specs/posix-shm.md §5: create the object (O_EXCL) or join the peer's")
    }

    /// The header of the channel.
    pub fn header(&self) -> &Header {
        header(&self.map)
    }

    /// Sends all of `input` (spec §6.1): fills the slots in order, the last one marked END.
    pub fn send(&self, input: BorrowedFd<'_>) -> Result<(), Failure> {
        let _ = input;
        todo!("specs/posix-shm.md §6.1: fill the slots from stdin, the last one marked END")
    }

    /// Receives the stream into `output` (spec §6.2) until the END slot.
    pub fn recv(&self, output: BorrowedFd<'_>) -> Result<(), Failure> {
        let _ = output;
        todo!("specs/posix-shm.md §6.2: write the slots to stdout in order until the END slot")
    }
}
