//! Part 3, transfer in rounds: a producer moves its stdin through a ring in a segment smaller
//! than the stream; a consumer writes it to stdout (spec §5, lesson §13–14, §19–21).
//!
//! The header at the start of the segment holds a process-shared robust mutex, two
//! process-shared condition variables (`not_full`, `not_empty`) and the progress counters.
//! Either side may start first: the one whose `shmget(IPC_CREAT | IPC_EXCL)` succeeds
//! initialises the header and then publishes the `ready` word; the other waits for it.

use std::sync::atomic::{AtomicI32, AtomicU32, AtomicU64};
use std::time::Duration;

use crate::Failure;
use crate::cli::{self, KeyArgs};
use crate::pshared_mutex::{PsharedCond, PsharedMutex};
use crate::sysv_shm::{Attachment, ShmId};

/// The usage line's synopsis (both programs).
pub const SYNOPSIS: &str = "[--timeout-ms MS] KEYPATH PROJ_ID DATA_SIZE";
/// The `ready` word's value once the creator has initialised the header: the bytes `SHM1`.
pub const READY: u32 = u32::from_le_bytes(*b"SHM1");
/// Bytes before the ring: the header, padded so that the ring starts on a page boundary.
pub const HEADER_SIZE: usize = 4096;
/// The most bytes one round moves (one `read` into the ring, or one `write` out of it).
pub const ROUND_MAX: usize = 1 << 20;
/// How often a waiting side wakes to check that its peer is still attached.
pub const HEARTBEAT: Duration = Duration::from_millis(100);
/// Permission bits of the segment.
pub const MODE: libc::c_int = 0o600;

/// `flags` bit: a producer has joined.
pub const PRODUCER_JOINED: u32 = 1;
/// `flags` bit: a consumer has joined.
pub const CONSUMER_JOINED: u32 = 2;
/// `flags` bit: the producer has published its last byte (end of stream).
pub const END_OF_STREAM: u32 = 4;
/// `flags` bit: a side gave up or failed; the other side stops too (exit status 3).
pub const ABORTED: u32 = 8;

/// The header at offset 0 of the segment (spec §5.2). Every field except `ready` is read and
/// written only with `mutex` held (atomics with relaxed ordering, for interior mutability).
#[repr(C)]
pub struct Header {
    /// Offset 0: 0 until the creator has initialised everything else, then [`READY`]
    /// (stored with release ordering; read with acquire ordering without the mutex).
    pub ready: AtomicU32,
    /// Offset 4: [`PRODUCER_JOINED`] | [`CONSUMER_JOINED`] | [`END_OF_STREAM`] | [`ABORTED`].
    pub flags: AtomicU32,
    /// Offset 8: the ring's size in bytes (DATA_SIZE).
    pub data_size: AtomicU64,
    /// Offset 16: bytes the producer has stored in the ring so far (never decreases).
    pub written: AtomicU64,
    /// Offset 24: bytes the consumer has written out so far (never decreases).
    pub read: AtomicU64,
    /// Offset 32: the producer's PID once it has joined (informational).
    pub producer_pid: AtomicI32,
    /// Offset 36: the consumer's PID once it has joined (informational).
    pub consumer_pid: AtomicI32,
    /// Offset 40, 40 bytes: process-shared, robust, NORMAL.
    pub mutex: PsharedMutex,
    /// Offset 80, 48 bytes: signalled when `read` grows (space freed) or on join/abort.
    pub not_full: PsharedCond,
    /// Offset 128, 48 bytes: signalled when `written` grows, at end of stream, on join/abort.
    pub not_empty: PsharedCond,
}

const _: () = assert!(std::mem::size_of::<libc::pthread_mutex_t>() == 40);
const _: () = assert!(std::mem::size_of::<libc::pthread_cond_t>() == 48);
const _: () = assert!(std::mem::offset_of!(Header, flags) == 4);
const _: () = assert!(std::mem::offset_of!(Header, data_size) == 8);
const _: () = assert!(std::mem::offset_of!(Header, written) == 16);
const _: () = assert!(std::mem::offset_of!(Header, read) == 24);
const _: () = assert!(std::mem::offset_of!(Header, producer_pid) == 32);
const _: () = assert!(std::mem::offset_of!(Header, consumer_pid) == 36);
const _: () = assert!(std::mem::offset_of!(Header, mutex) == 40);
const _: () = assert!(std::mem::offset_of!(Header, not_full) == 80);
const _: () = assert!(std::mem::offset_of!(Header, not_empty) == 128);
const _: () = assert!(std::mem::size_of::<Header>() == 176);

/// Which program is running.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// `svshm-producer`: stdin into the ring.
    Producer,
    /// `svshm-consumer`: the ring to stdout.
    Consumer,
}

impl Role {
    /// The program's name in messages.
    pub fn program(self) -> &'static str {
        match self {
            Role::Producer => "svshm-producer",
            Role::Consumer => "svshm-consumer",
        }
    }

    /// The other side's name in messages.
    pub fn peer(self) -> &'static str {
        match self {
            Role::Producer => "consumer",
            Role::Consumer => "producer",
        }
    }

    /// This side's `flags` bit.
    pub fn joined_flag(self) -> u32 {
        match self {
            Role::Producer => PRODUCER_JOINED,
            Role::Consumer => CONSUMER_JOINED,
        }
    }

    /// The other side's `flags` bit.
    pub fn peer_joined_flag(self) -> u32 {
        match self {
            Role::Producer => CONSUMER_JOINED,
            Role::Consumer => PRODUCER_JOINED,
        }
    }
}

/// This process's attachment of the transfer segment.
pub struct Channel {
    /// The segment.
    pub id: ShmId,
    /// Where it is mapped: the header at offset 0, the ring at [`HEADER_SIZE`].
    pub attachment: Attachment,
    /// The ring's size in bytes (DATA_SIZE).
    pub data_size: usize,
    /// The bound of every wait for the peer (`--timeout-ms`).
    pub timeout: Duration,
}

impl Channel {
    /// The header at the start of the segment.
    pub fn header(&self) -> &Header {
        // SAFETY: the segment is HEADER_SIZE + data_size bytes, page-aligned, and was
        // zero-filled by the kernel (a valid bit pattern for every field); it stays attached
        // while `self` lives; every field has interior mutability.
        unsafe { &*self.attachment.as_ptr().cast::<Header>() }
    }

    /// The first byte of the ring.
    pub fn ring(&self) -> *mut u8 {
        self.attachment.as_ptr().wrapping_add(HEADER_SIZE)
    }
}

/// `svshm-producer` / `svshm-consumer` `[--timeout-ms MS] KEYPATH PROJ_ID DATA_SIZE`.
pub fn run(role: Role, args: &[String]) -> Result<(), Failure> {
    let (args, timeout) = cli::timeout_option(args)?;
    let [path, id, size] = &args[..] else {
        return Err(Failure::usage("expected KEYPATH PROJ_ID DATA_SIZE"));
    };
    let key = cli::key_args(path, id)?;
    let data_size = cli::number(size, "DATA_SIZE", 1, u64::MAX)?;
    cli::segment_size(data_size, HEADER_SIZE as u64)?;
    transfer(role, &key, data_size as usize, timeout)
}

/// Opens or creates the segment, joins as `role`, moves the stream, and removes the segment
/// as spec §5.5 says: the consumer after a complete transfer; either side when it stops early.
pub fn transfer(
    role: Role,
    key: &KeyArgs,
    data_size: usize,
    timeout: Duration,
) -> Result<(), Failure> {
    let _ = (role, key, data_size, timeout);
    todo!("specs/sysv-shm.md §5.3–5.5: open or create, join, move the stream, clean up")
}
