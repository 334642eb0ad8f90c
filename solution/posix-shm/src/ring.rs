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
// BEGIN SOLUTION
use crate::sem::Deadline;
use std::os::fd::AsFd;
use std::sync::atomic::Ordering;
use std::time::Instant;
// END SOLUTION

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
        // BEGIN SOLUTION todo!("specs/posix-shm.md §5: create the object (O_EXCL) or join the peer's")
        let start = Instant::now();
        loop {
            match target.create_excl() {
                Ok(fd) => return create(target, role, fd, ring_size, timeout),
                Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {}
                Err(e) => return Err(Failure::runtime(format!("cannot create {target}: {e}"))),
            }
            match target.open_existing() {
                Ok(fd) => return join(target, role, fd, timeout),
                // The creator gave up and removed the name in between: create it ourselves.
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) && start.elapsed() < timeout => {}
                Err(e) => return Err(Failure::runtime(format!("cannot open {target}: {e}"))),
            }
        }
        // END SOLUTION
    }

    /// The header of the channel.
    pub fn header(&self) -> &Header {
        header(&self.map)
    }

    /// Sends all of `input` (spec §6.1): fills the slots in order, the last one marked END.
    pub fn send(&self, input: BorrowedFd<'_>) -> Result<(), Failure> {
        let _ = input;
        // BEGIN SOLUTION todo!("specs/posix-shm.md §6.1: fill the slots from stdin, the last one marked END")
        let h = self.header();
        let n = h.slot_count.load(Ordering::Relaxed) as usize;
        let size = h.slot_size.load(Ordering::Relaxed) as usize;
        let mut pos = 0u64;
        let mut i = 0;
        loop {
            self.wait(&h.free, "the receiver took no data")?;
            // SAFETY: we took a `free` count, so slot `i` is the sender's until it posts
            // `filled`; the slot lies inside the data area.
            let buf = unsafe { self.map.bytes_mut(HEADER_SIZE + i * size, size) };
            let (len, end) =
                fill(input, buf).map_err(|e| Failure::runtime(format!("read stdin: {e}")))?;
            let slot = &h.slots[i];
            slot.offset.store(pos, Ordering::Relaxed);
            slot.len.store(len as u32, Ordering::Relaxed);
            slot.flags
                .store(if end { FLAG_END } else { 0 }, Ordering::Relaxed);
            // `sem_post` publishes the data and the descriptor to the receiver's `sem_wait`.
            h.filled
                .post()
                .map_err(|e| Failure::runtime(format!("sem_post: {e}")))?;
            if end {
                return Ok(());
            }
            pos += len as u64;
            i = (i + 1) % n;
        }
        // END SOLUTION
    }

    /// Receives the stream into `output` (spec §6.2) until the END slot.
    pub fn recv(&self, output: BorrowedFd<'_>) -> Result<(), Failure> {
        let _ = output;
        // BEGIN SOLUTION todo!("specs/posix-shm.md §6.2: write the slots to stdout in order until the END slot")
        let h = self.header();
        let n = h.slot_count.load(Ordering::Relaxed) as usize;
        let size = h.slot_size.load(Ordering::Relaxed) as usize;
        let mut expected = 0u64;
        let mut i = 0;
        loop {
            self.wait(&h.filled, "the sender sent no data")?;
            let slot = &h.slots[i];
            let offset = slot.offset.load(Ordering::Relaxed);
            let len = slot.len.load(Ordering::Relaxed);
            let flags = slot.flags.load(Ordering::Relaxed);
            if offset != expected || len as usize > size || flags & !FLAG_END != 0 {
                return Err(Failure::runtime(format!(
                    "protocol error: slot {i} has offset {offset}, length {len}, flags {flags}; expected offset {expected}"
                )));
            }
            // SAFETY: we took a `filled` count, so slot `i` is the receiver's until it posts
            // `free`; `len <= slot_size` keeps it inside the slot.
            let data = unsafe { self.map.bytes_mut(HEADER_SIZE + i * size, len as usize) };
            write_all(output, data).map_err(|e| Failure::runtime(format!("write stdout: {e}")))?;
            h.free
                .post()
                .map_err(|e| Failure::runtime(format!("sem_post: {e}")))?;
            if flags & FLAG_END != 0 {
                return Ok(());
            }
            expected += u64::from(len);
            i = (i + 1) % n;
        }
        // END SOLUTION
    }
}
// BEGIN SOLUTION

impl Channel {
    /// Takes one count from `sem`, waiting at most `self.timeout`; `what` says what the peer
    /// failed to do if the wait expires.
    fn wait(&self, sem: &Sem, what: &str) -> Result<(), Failure> {
        let deadline = Deadline::after(self.timeout)
            .map_err(|e| Failure::runtime(format!("clock_gettime: {e}")))?;
        match sem.wait_until(&deadline) {
            Ok(true) => Ok(()),
            Ok(false) => Err(Failure::gave_up(format!(
                "gave up after {} ms: {what}",
                self.timeout.as_millis()
            ))),
            Err(e) => Err(Failure::runtime(format!("sem_timedwait: {e}"))),
        }
    }
}

/// The creator's side of §5.1: size, map and initialise the object, mark it, wait for the peer.
/// The name is removed on every failure.
fn create(
    target: &Target,
    role: Role,
    fd: OwnedFd,
    ring_size: u64,
    timeout: Duration,
) -> Result<Channel, Failure> {
    let fail = |what: &str, e: io::Error| {
        let _ = target.remove();
        Failure::runtime(format!("cannot set up {target}: {what}: {e}"))
    };
    // The deadline is taken before the object is published, so that no failure can come
    // between publishing it and waiting.
    let deadline = Deadline::after(timeout).map_err(|e| fail("clock_gettime", e))?;
    let total = HEADER_SIZE as u64 + ring_size;
    posix_shm::ftruncate(fd.as_fd(), total).map_err(|e| fail("ftruncate", e))?;
    let map = posix_shm::mmap_shared(fd.as_fd(), total as usize).map_err(|e| fail("mmap", e))?;
    drop(fd);
    let h = header(&map);
    h.version.store(VERSION, Ordering::Relaxed);
    h.creator.store(role as u32, Ordering::Relaxed);
    h.ring_size.store(ring_size, Ordering::Relaxed);
    h.slot_count.store(SLOT_COUNT, Ordering::Relaxed);
    h.slot_size.store(
        (ring_size / u64::from(SLOT_COUNT)) as u32,
        Ordering::Relaxed,
    );
    h.creator_pid.store(std::process::id(), Ordering::Relaxed);
    // SAFETY: the object is not marked yet, so no other process uses its semaphores.
    unsafe { h.joined.init(0) }.map_err(|e| fail("sem_init", e))?;
    // SAFETY: as above.
    unsafe { h.filled.init(0) }.map_err(|e| fail("sem_init", e))?;
    // SAFETY: as above.
    unsafe { h.free.init(SLOT_COUNT) }.map_err(|e| fail("sem_init", e))?;
    h.state.store(STATE_READY, Ordering::Relaxed);
    h.magic.store(MAGIC, Ordering::Release);

    let joined = h.joined.wait_until(&deadline);
    if let Ok(true) = joined {
        return Ok(Channel { map, role, timeout });
    }
    // Expired (or failed): withdraw, unless the peer joined at the last moment.
    if h.state
        .compare_exchange(
            STATE_READY,
            STATE_ABANDONED,
            Ordering::AcqRel,
            Ordering::Acquire,
        )
        .is_err()
    {
        return Ok(Channel { map, role, timeout });
    }
    let _ = target.remove();
    match joined {
        Err(e) => Err(Failure::runtime(format!("sem_timedwait: {e}"))),
        _ => Err(Failure::gave_up(format!(
            "gave up after {} ms: no {} joined {target}",
            timeout.as_millis(),
            role.peer().noun()
        ))),
    }
}

/// The joiner's side of §5.2: wait for the creator's mark, check the header, join, remove the
/// name, tell the creator. Never writes to an object that is not a waiting channel.
fn join(target: &Target, role: Role, fd: OwnedFd, timeout: Duration) -> Result<Channel, Failure> {
    let start = Instant::now();
    let not_ours =
        || Failure::runtime(format!("{target} already exists and is not a pshm channel"));
    let io_err =
        |what: &str, e: io::Error| Failure::runtime(format!("cannot join {target}: {what}: {e}"));
    let mut map = None;
    loop {
        if map.is_none() {
            let size = posix_shm::fstat_size(fd.as_fd()).map_err(|e| io_err("fstat", e))?;
            if size != 0 {
                // The creator sizes the object in one `ftruncate`: this size is final.
                if size < HEADER_SIZE as u64 + PAGE || size > HEADER_SIZE as u64 + MAX_RING {
                    return Err(not_ours());
                }
                let m = posix_shm::mmap_shared(fd.as_fd(), size as usize)
                    .map_err(|e| io_err("mmap", e))?;
                map = Some(m);
            }
        }
        if let Some(m) = &map {
            match header(m).magic.load(Ordering::Acquire) {
                MAGIC => break,
                0 => {}
                _ => return Err(not_ours()),
            }
        }
        if start.elapsed() >= timeout {
            return Err(Failure::runtime(format!(
                "{target} already exists and was not set up within {} ms",
                timeout.as_millis()
            )));
        }
        std::thread::sleep(INIT_POLL);
    }
    drop(fd);
    let map = map.expect("the loop breaks only with a mapping");
    let h = header(&map);
    let ring = h.ring_size.load(Ordering::Relaxed);
    let n = h.slot_count.load(Ordering::Relaxed);
    let size = h.slot_size.load(Ordering::Relaxed);
    let creator = h.creator.load(Ordering::Relaxed);
    if h.version.load(Ordering::Relaxed) != VERSION
        || ring == 0
        || !ring.is_multiple_of(PAGE)
        || HEADER_SIZE as u64 + ring != map.len() as u64
        || n == 0
        || n as usize > MAX_SLOTS
        || u64::from(n) * u64::from(size) != ring
        || !(creator == Role::Sender as u32 || creator == Role::Receiver as u32)
    {
        return Err(not_ours());
    }
    if creator == role as u32 {
        return Err(Failure::runtime(format!(
            "{target} already exists and already has a {}",
            role.noun()
        )));
    }
    match h.state.compare_exchange(
        STATE_READY,
        STATE_JOINED,
        Ordering::AcqRel,
        Ordering::Acquire,
    ) {
        Ok(_) => {}
        Err(STATE_ABANDONED) => {
            return Err(Failure::gave_up(format!(
                "the {} gave up waiting on {target}",
                role.peer().noun()
            )));
        }
        Err(_) => {
            return Err(Failure::runtime(format!(
                "{target} already exists and is in use"
            )));
        }
    }
    // Both sides have it mapped: the name has done its job (spec §5.3).
    let _ = target.remove();
    h.joined.post().map_err(|e| io_err("sem_post", e))?;
    Ok(Channel { map, role, timeout })
}

/// Reads from `input` into `buf` until it is full or at end of input; returns the bytes read
/// and whether the input ended. `EINTR` is retried.
fn fill(input: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<(usize, bool)> {
    let mut got = 0;
    while got < buf.len() {
        match nix::unistd::read(input, &mut buf[got..]) {
            Ok(0) => return Ok((got, true)),
            Ok(k) => got += k,
            Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok((got, false))
}

/// Writes all of `data` to `output`, retrying short writes and `EINTR`.
fn write_all(output: BorrowedFd<'_>, mut data: &[u8]) -> io::Result<()> {
    while !data.is_empty() {
        match nix::unistd::write(output, data) {
            Ok(k) => data = &data[k..],
            Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}
// END SOLUTION
