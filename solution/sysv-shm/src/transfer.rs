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
// BEGIN SOLUTION
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use std::time::Instant;

use nix::errno::Errno;

use crate::pshared_mutex::{MutexGuard, Robustness};
use crate::sysv_shm::{self, Key};
// END SOLUTION

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
    // BEGIN SOLUTION todo!("specs/sysv-shm.md §5.3–5.5: open or create, join, move the stream, clean up")
    let k = sysv_shm::ftok(&key.path, key.proj_id)
        .map_err(|e| Failure::sys("ftok", &key.path.display().to_string(), e))?;
    let channel = open(k, data_size, timeout)?;
    if let Err(failure) = join(&channel, role) {
        // A second producer (or consumer) leaves the pair it found alone.
        if !matches!(failure, Failure::Runtime(_)) {
            abort(&channel, role);
        }
        return Err(failure);
    }
    let result = match role {
        Role::Producer => produce(&channel),
        Role::Consumer => consume(&channel),
    };
    if result.is_err() {
        abort(&channel, role);
    }
    if result.is_err() || role == Role::Consumer {
        // The segment may already be gone (the peer removed it after giving up): not an error.
        let _ = sysv_shm::shm_remove(channel.id);
    }
    result
    // END SOLUTION
}
// BEGIN SOLUTION

/// Creates the segment or, when it exists, attaches it and waits (bounded) for `ready`.
fn open(key: Key, data_size: usize, timeout: Duration) -> Result<Channel, Failure> {
    let size = HEADER_SIZE + data_size;
    let deadline = Instant::now() + timeout;
    loop {
        match sysv_shm::shmget(key, size, libc::IPC_CREAT | libc::IPC_EXCL | MODE) {
            Ok(id) => return create(id, data_size, timeout),
            Err(Errno::EEXIST) => {}
            Err(e) => return Err(Failure::sys("shmget", "", e)),
        }
        match sysv_shm::shmget(key, 0, 0) {
            Ok(id) => return attach_existing(id, data_size, timeout, deadline),
            // Removed between our two calls: try to create it again, within the bound.
            Err(Errno::ENOENT) if Instant::now() < deadline => continue,
            Err(e) => return Err(Failure::sys("shmget", "", e)),
        }
    }
}

/// The creator's side: attach, initialise the header in place, publish `ready`. Removes the
/// segment if any step fails.
fn create(id: ShmId, data_size: usize, timeout: Duration) -> Result<Channel, Failure> {
    let init = || {
        let attachment = sysv_shm::shmat(id, HEADER_SIZE + data_size, false)
            .map_err(|e| Failure::sys("shmat", "", e))?;
        let channel = Channel {
            id,
            attachment,
            data_size,
            timeout,
        };
        let h = channel.header();
        // SAFETY: the segment was just created (IPC_EXCL); nobody else uses the objects before
        // `ready` is published; the segment never moves.
        unsafe { h.mutex.init(Robustness::Robust) }
            .map_err(|e| Failure::sys("pthread_mutex_init", "", e))?;
        // SAFETY: as above.
        unsafe { h.not_full.init() }.map_err(|e| Failure::sys("pthread_cond_init", "", e))?;
        // SAFETY: as above.
        unsafe { h.not_empty.init() }.map_err(|e| Failure::sys("pthread_cond_init", "", e))?;
        h.data_size.store(data_size as u64, Relaxed);
        h.ready.store(READY, Release);
        Ok(channel)
    };
    init().inspect_err(|_| {
        let _ = sysv_shm::shm_remove(id);
    })
}

/// The joiner's side: check the size, attach, wait for `ready` by polling it every 1 ms until
/// `deadline`. A segment never initialised is removed (its creator died).
fn attach_existing(
    id: ShmId,
    data_size: usize,
    timeout: Duration,
    deadline: Instant,
) -> Result<Channel, Failure> {
    let size = HEADER_SIZE + data_size;
    let stat = sysv_shm::shm_stat(id).map_err(|e| Failure::sys("shmctl", "IPC_STAT", e))?;
    if stat.shm_segsz != size {
        return Err(Failure::runtime(format!(
            "the segment has {} bytes, not {size} (HEADER_SIZE + DATA_SIZE)",
            stat.shm_segsz
        )));
    }
    let attachment = sysv_shm::shmat(id, size, false).map_err(|e| Failure::sys("shmat", "", e))?;
    let channel = Channel {
        id,
        attachment,
        data_size,
        timeout,
    };
    while channel.header().ready.load(Acquire) != READY {
        if Instant::now() >= deadline {
            let _ = sysv_shm::shm_remove(id);
            return Err(Failure::gave_up(format!(
                "gave up: the segment was not initialised within {} ms",
                timeout.as_millis()
            )));
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let found = channel.header().data_size.load(Relaxed);
    if found != data_size as u64 {
        return Err(Failure::runtime(format!(
            "the segment's DATA_SIZE is {found}, not {data_size}"
        )));
    }
    Ok(channel)
}

/// Locks the header's mutex; a peer that died holding it makes this side give up.
fn lock<'a>(channel: &'a Channel, role: Role) -> Result<MutexGuard<'a>, Failure> {
    channel.header().mutex.lock().map_err(|e| match e {
        Errno::EOWNERDEAD => Failure::gave_up(format!(
            "gave up: the {} died holding the lock",
            role.peer()
        )),
        e => Failure::sys("pthread_mutex_lock", "", e),
    })
}

/// Sets this side's `flags` bit and PID and wakes a waiting peer.
fn join(channel: &Channel, role: Role) -> Result<(), Failure> {
    let h = channel.header();
    let _guard = lock(channel, role)?;
    let flags = h.flags.load(Relaxed);
    if flags & ABORTED != 0 {
        return Err(Failure::gave_up(format!(
            "gave up: the {} gave up",
            role.peer()
        )));
    }
    if flags & role.joined_flag() != 0 {
        return Err(Failure::runtime(format!(
            "another {} is already attached",
            role.program()
        )));
    }
    h.flags.store(flags | role.joined_flag(), Relaxed);
    let pid = std::process::id() as i32;
    match role {
        Role::Producer => h.producer_pid.store(pid, Relaxed),
        Role::Consumer => h.consumer_pid.store(pid, Relaxed),
    }
    h.not_full.broadcast();
    h.not_empty.broadcast();
    Ok(())
}

/// Marks the transfer aborted and wakes the peer, which then stops with exit status 3.
fn abort(channel: &Channel, role: Role) {
    let h = channel.header();
    // A first attempt may report a dead owner (and make the mutex consistent); the second
    // then succeeds.
    let Ok(_guard) = lock(channel, role).or_else(|_| lock(channel, role)) else {
        return;
    };
    h.flags.fetch_or(ABORTED, Relaxed);
    h.not_full.broadcast();
    h.not_empty.broadcast();
}

/// Blocks on `cond` until `done(header)` holds. Wakes at least every [`HEARTBEAT`] to check
/// that a joined peer is still attached (`shm_nattch` ≥ 2), and gives up when the peer has
/// vanished, has aborted, or has changed nothing in the header for the timeout.
fn wait_until(
    channel: &Channel,
    guard: &mut MutexGuard<'_>,
    cond: &PsharedCond,
    role: Role,
    done: impl Fn(&Header) -> bool,
) -> Result<(), Failure> {
    let h = channel.header();
    let snapshot = |h: &Header| {
        (
            h.flags.load(Relaxed),
            h.written.load(Relaxed),
            h.read.load(Relaxed),
        )
    };
    let mut seen = snapshot(h);
    let mut deadline = Instant::now() + channel.timeout;
    loop {
        if h.flags.load(Relaxed) & ABORTED != 0 {
            return Err(Failure::gave_up(format!(
                "gave up: the {} gave up",
                role.peer()
            )));
        }
        if done(h) {
            return Ok(());
        }
        let slice = deadline
            .saturating_duration_since(Instant::now())
            .min(HEARTBEAT);
        let timed_out = cond.wait_timeout(guard, slice).map_err(|e| match e {
            Errno::EOWNERDEAD => Failure::gave_up(format!(
                "gave up: the {} died holding the lock",
                role.peer()
            )),
            e => Failure::sys("pthread_cond_timedwait", "", e),
        })?;
        let now = snapshot(h);
        if now != seen {
            seen = now;
            deadline = Instant::now() + channel.timeout;
            continue;
        }
        if !timed_out {
            continue;
        }
        if now.0 & role.peer_joined_flag() != 0 {
            let attached = sysv_shm::shm_stat(channel.id)
                .map(|s| s.shm_nattch)
                .unwrap_or(0);
            if attached < 2 {
                return Err(Failure::gave_up(format!(
                    "gave up: the {} vanished",
                    role.peer()
                )));
            }
        }
        if Instant::now() >= deadline {
            return Err(Failure::gave_up(format!(
                "gave up: no progress from the {} for {} ms",
                role.peer(),
                channel.timeout.as_millis()
            )));
        }
    }
}

/// The producer: rounds of one `read(stdin)` straight into the free part of the ring, each
/// published by advancing `written`; then end of stream; then waits until the consumer has
/// taken everything.
fn produce(channel: &Channel) -> Result<(), Failure> {
    let role = Role::Producer;
    let h = channel.header();
    let cap = channel.data_size as u64;
    let mut stdin = File::from(
        std::io::stdin()
            .as_fd()
            .try_clone_to_owned()
            .map_err(|e| Failure::runtime(format!("stdin: {e}")))?,
    );
    let mut guard = lock(channel, role)?;
    loop {
        wait_until(channel, &mut guard, &h.not_full, role, |h| {
            h.written.load(Relaxed) - h.read.load(Relaxed) < cap
        })?;
        let written = h.written.load(Relaxed);
        let free = cap - (written - h.read.load(Relaxed));
        let pos = (written % cap) as usize;
        let len = free.min(cap - pos as u64).min(ROUND_MAX as u64) as usize;
        drop(guard);
        // SAFETY: bytes [pos, pos + len) of the ring lie inside the segment and are free: the
        // consumer does not touch them until `written` covers them, which only this process
        // advances, below.
        let room = unsafe { std::slice::from_raw_parts_mut(channel.ring().add(pos), len) };
        let got = loop {
            match stdin.read(room) {
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                other => break other,
            }
        }
        .map_err(|e| Failure::runtime(format!("read from stdin: {e}")))?;
        guard = lock(channel, role)?;
        if got == 0 {
            h.flags.fetch_or(END_OF_STREAM, Relaxed);
            h.not_empty.signal();
            break;
        }
        h.written.store(written + got as u64, Relaxed);
        h.not_empty.signal();
    }
    wait_until(channel, &mut guard, &h.not_full, role, |h| {
        h.read.load(Relaxed) == h.written.load(Relaxed)
    })
}

/// The consumer: rounds of one `write(stdout)` straight from the filled part of the ring, each
/// released by advancing `read`, until end of stream and an empty ring.
fn consume(channel: &Channel) -> Result<(), Failure> {
    let role = Role::Consumer;
    let h = channel.header();
    let cap = channel.data_size as u64;
    let mut stdout = File::from(
        std::io::stdout()
            .as_fd()
            .try_clone_to_owned()
            .map_err(|e| Failure::runtime(format!("stdout: {e}")))?,
    );
    let mut guard = lock(channel, role)?;
    loop {
        wait_until(channel, &mut guard, &h.not_empty, role, |h| {
            h.written.load(Relaxed) > h.read.load(Relaxed)
                || h.flags.load(Relaxed) & END_OF_STREAM != 0
        })?;
        let read = h.read.load(Relaxed);
        let filled = h.written.load(Relaxed) - read;
        if filled == 0 {
            return Ok(());
        }
        let pos = (read % cap) as usize;
        let len = filled.min(cap - pos as u64).min(ROUND_MAX as u64) as usize;
        drop(guard);
        // SAFETY: bytes [pos, pos + len) of the ring lie inside the segment and hold published
        // data: the producer does not touch them until `read` passes them, which only this
        // process advances, below.
        let data = unsafe { std::slice::from_raw_parts(channel.ring().add(pos), len) };
        stdout
            .write_all(data)
            .map_err(|e| Failure::runtime(format!("write to stdout: {e}")))?;
        guard = lock(channel, role)?;
        h.read.store(read + len as u64, Relaxed);
        h.not_full.signal();
    }
}
// END SOLUTION
