//! The mechanisms under test, each as a two-way channel between the bench (side A) and its
//! child (side B). A channel is made whole before the fork; each process then uses its own
//! [`End`], built before the fork too, so the child allocates nothing.
//!
//! Every mechanism moves a message from a private buffer of the sender into the receiver's
//! address space, where the receiver reads it (one word per cache line, [`consume`]):
//!
//! - message passing (lesson §4–5): the sender's system call copies the bytes into the kernel,
//!   the receiver's copies them out into its private buffer: two crossings, two copies;
//! - shared memory (lesson §6, §9): the sender copies the bytes into a slot of a ring of two
//!   shared segments and posts a process-shared semaphore; the receiver reads them in place.
//!   "Mapped once" maps every slot before the fork and reuses it; "mapped per message" attaches
//!   the slot (`shmat` / `mmap`) for each message on both sides and detaches it afterwards, so
//!   each message pays for the mapping and for faulting its pages in (lesson §8).

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use nix::mqueue::{MQ_OFlag, MqAttr, MqdT};
use nix::sys::socket::{AddressFamily, SockFlag, SockType};
use nix::sys::stat::Mode;

use crate::sys::{Mapping, MsgBuf, MsgQueue, SharedControl, SysvSegment};

/// Slots per direction of a shared-memory ring: the sender fills one while the receiver reads
/// the other.
pub const SLOTS: usize = 2;

/// A mechanism under test.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Mechanism {
    Pipe,
    UnixSocket,
    SysvMsgq,
    PosixMq,
    SysvShmOnce,
    PosixShmOnce,
    SysvShmPerMessage,
    PosixShmPerMessage,
}

/// Whether a mechanism copies through the kernel or shares memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    MessagePassing,
    SharedMemoryOnce,
    SharedMemoryPerMessage,
}

impl Mechanism {
    pub const ALL: [Mechanism; 8] = [
        Mechanism::Pipe,
        Mechanism::UnixSocket,
        Mechanism::SysvMsgq,
        Mechanism::PosixMq,
        Mechanism::SysvShmOnce,
        Mechanism::PosixShmOnce,
        Mechanism::SysvShmPerMessage,
        Mechanism::PosixShmPerMessage,
    ];

    /// The name in the results and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Mechanism::Pipe => "pipe",
            Mechanism::UnixSocket => "unix-socket",
            Mechanism::SysvMsgq => "sysv-msgq",
            Mechanism::PosixMq => "posix-mq",
            Mechanism::SysvShmOnce => "sysv-shm-once",
            Mechanism::PosixShmOnce => "posix-shm-once",
            Mechanism::SysvShmPerMessage => "sysv-shm-per-message",
            Mechanism::PosixShmPerMessage => "posix-shm-per-message",
        }
    }

    pub fn family(self) -> Family {
        match self {
            Mechanism::Pipe | Mechanism::UnixSocket | Mechanism::SysvMsgq | Mechanism::PosixMq => {
                Family::MessagePassing
            }
            Mechanism::SysvShmOnce | Mechanism::PosixShmOnce => Family::SharedMemoryOnce,
            Mechanism::SysvShmPerMessage | Mechanism::PosixShmPerMessage => {
                Family::SharedMemoryPerMessage
            }
        }
    }
}

impl serde::Serialize for Mechanism {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl Family {
    pub fn name(self) -> &'static str {
        match self {
            Family::MessagePassing => "message-passing",
            Family::SharedMemoryOnce => "shared-memory, mapped once",
            Family::SharedMemoryPerMessage => "shared-memory, mapped per message",
        }
    }
}

/// Reads one word per 64-byte line of `bytes` and folds them: the receiver looks at every line
/// of the message, so every page is faulted in and every line crosses to its CPU.
pub fn consume(bytes: &[u8], sum: &mut u64) {
    let mut acc = *sum;
    for line in bytes.chunks(64) {
        acc = acc.rotate_left(5) ^ u64::from(line[0]);
    }
    *sum = std::hint::black_box(acc);
}

/// A buffer that starts on a page boundary. Where a buffer starts matters: on some CPUs
/// (AMD Zen, seen on this kit's VMs) `memcpy` runs up to 50 times slower when the destination
/// lies a few bytes after the source modulo 4 KiB, which two `Vec`s from `malloc` often do.
/// Every buffer a message is copied from or into is page-aligned, like the shared slots.
pub struct PageBuf {
    bytes: Vec<u8>,
    start: usize,
    len: usize,
}

impl PageBuf {
    /// `len` bytes of `fill`, page-aligned, written once so that their pages are present.
    pub fn new(len: usize, fill: u8) -> PageBuf {
        let bytes = vec![fill; len + PAGE];
        let start = bytes.as_ptr().align_offset(PAGE).min(PAGE);
        PageBuf { bytes, start, len }
    }

    pub fn bytes(&self) -> &[u8] {
        &self.bytes[self.start..self.start + self.len]
    }

    pub fn bytes_mut(&mut self) -> &mut [u8] {
        &mut self.bytes[self.start..self.start + self.len]
    }
}

const PAGE: usize = 4096;

/// One side of a channel.
pub trait End {
    /// Sends `data` as one message.
    fn send(&mut self, data: &[u8]) -> io::Result<()>;
    /// Receives one message of `len` bytes and reads it with [`consume`].
    fn recv(&mut self, len: usize, sum: &mut u64) -> io::Result<()>;
}

/// Which side of the channel an end is.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Side {
    A,
    B,
}

/// The system's limits that shape the message queues: the largest message of each kind (larger
/// messages are sent in pieces of this size) and how many a POSIX queue holds.
#[derive(Clone, Copy, Debug, serde::Serialize)]
pub struct Limits {
    /// `/proc/sys/kernel/msgmax`.
    pub sysv_msgmax: usize,
    /// `/proc/sys/fs/mqueue/msgsize_max`.
    pub mq_msgsize: usize,
    /// `/proc/sys/fs/mqueue/msg_max`.
    pub mq_maxmsg: usize,
}

impl Limits {
    pub fn read() -> Limits {
        let read = |path: &str, default: usize| {
            std::fs::read_to_string(path)
                .ok()
                .and_then(|s| s.trim().parse().ok())
                .unwrap_or(default)
        };
        Limits {
            sysv_msgmax: read("/proc/sys/kernel/msgmax", 8192),
            mq_msgsize: read("/proc/sys/fs/mqueue/msgsize_max", 8192),
            mq_maxmsg: read("/proc/sys/fs/mqueue/msg_max", 10),
        }
    }
}

/// A channel, made before the fork; both processes hold a copy and each uses its own end.
pub enum Channel {
    /// Two pipes, or one socket pair used both ways: `(a reads, a writes, b reads, b writes)`.
    Stream([OwnedFd; 4]),
    /// One SysV queue; type 1 carries a→b, type 2 b→a.
    SysvMsgq(MsgQueue, usize),
    /// Two POSIX queues, a→b and b→a, already unlinked.
    PosixMq([PosixQueue; 2], usize),
    /// A ring of shared segments per direction and their semaphores.
    Shm(Box<ShmRings>),
}

/// A POSIX queue descriptor, closed on drop.
pub struct PosixQueue(Option<MqdT>);

impl PosixQueue {
    fn get(&self) -> &MqdT {
        self.0.as_ref().expect("open until dropped")
    }
}

impl Drop for PosixQueue {
    fn drop(&mut self) {
        if let Some(q) = self.0.take() {
            let _ = nix::mqueue::mq_close(q);
        }
    }
}

/// The segments of the shared-memory rings, a→b then b→a.
pub struct ShmRings {
    control: SharedControl,
    segments: [Vec<Segment>; 2],
    per_message: bool,
}

/// A shared segment of either API.
pub enum Segment {
    Sysv(SysvSegment),
    /// An unlinked POSIX shared-memory object and its length.
    Posix(OwnedFd, usize),
}

impl Segment {
    fn map(&self) -> io::Result<Mapping> {
        match self {
            Segment::Sysv(seg) => seg.attach(),
            Segment::Posix(fd, len) => Mapping::of_fd(fd.as_fd(), *len),
        }
    }
}

impl Channel {
    /// Makes a channel carrying messages of up to `ab` bytes from A to B and `ba` bytes back.
    pub fn create(
        mechanism: Mechanism,
        ab: usize,
        ba: usize,
        limits: Limits,
    ) -> io::Result<Channel> {
        match mechanism {
            Mechanism::Pipe => {
                let (a_read, b_write) = nix::unistd::pipe()?;
                let (b_read, a_write) = nix::unistd::pipe()?;
                Ok(Channel::Stream([a_read, a_write, b_read, b_write]))
            }
            Mechanism::UnixSocket => {
                let (a, b) = nix::sys::socket::socketpair(
                    AddressFamily::Unix,
                    SockType::Stream,
                    None,
                    SockFlag::SOCK_CLOEXEC,
                )?;
                Ok(Channel::Stream([a.try_clone()?, a, b.try_clone()?, b]))
            }
            Mechanism::SysvMsgq => Ok(Channel::SysvMsgq(MsgQueue::create()?, limits.sysv_msgmax)),
            Mechanism::PosixMq => {
                let piece = limits.mq_msgsize;
                let attr = MqAttr::new(0, limits.mq_maxmsg as _, piece as _, 0);
                let open = |dir: &str| -> io::Result<PosixQueue> {
                    let name = format!("/ipclab-bench-{}-{dir}", std::process::id());
                    let flags = MQ_OFlag::O_CREAT | MQ_OFlag::O_EXCL | MQ_OFlag::O_RDWR;
                    let q = nix::mqueue::mq_open(
                        name.as_str(),
                        flags,
                        Mode::S_IRUSR | Mode::S_IWUSR,
                        Some(&attr),
                    )?;
                    let q = PosixQueue(Some(q));
                    nix::mqueue::mq_unlink(name.as_str())?;
                    Ok(q)
                };
                Ok(Channel::PosixMq([open("ab")?, open("ba")?], piece))
            }
            Mechanism::SysvShmOnce
            | Mechanism::PosixShmOnce
            | Mechanism::SysvShmPerMessage
            | Mechanism::PosixShmPerMessage => {
                let sysv = matches!(
                    mechanism,
                    Mechanism::SysvShmOnce | Mechanism::SysvShmPerMessage
                );
                let segment = |len: usize, n: usize| -> io::Result<Segment> {
                    if sysv {
                        return Ok(Segment::Sysv(SysvSegment::create(len)?));
                    }
                    let name = format!("/ipclab-bench-{}-{n}", std::process::id());
                    let flags = nix::fcntl::OFlag::O_CREAT
                        | nix::fcntl::OFlag::O_EXCL
                        | nix::fcntl::OFlag::O_RDWR;
                    let fd = nix::sys::mman::shm_open(
                        name.as_str(),
                        flags,
                        Mode::S_IRUSR | Mode::S_IWUSR,
                    )?;
                    nix::sys::mman::shm_unlink(name.as_str())?;
                    nix::unistd::ftruncate(&fd, len as i64)?;
                    Ok(Segment::Posix(fd, len))
                };
                let mut segments: [Vec<Segment>; 2] = [Vec::new(), Vec::new()];
                for (dir, len) in [ab, ba].into_iter().enumerate() {
                    for slot in 0..SLOTS {
                        segments[dir].push(segment(len.max(1), dir * SLOTS + slot)?);
                    }
                }
                let slots = SLOTS as u32;
                Ok(Channel::Shm(Box::new(ShmRings {
                    control: SharedControl::create([slots, 0, slots, 0])?,
                    segments,
                    per_message: family_per_message(mechanism),
                })))
            }
        }
    }

    /// The end that `side` uses, with a receive buffer of `recv_len` bytes.
    pub fn end(&self, side: Side, recv_len: usize) -> io::Result<Box<dyn End + '_>> {
        let (tx, rx) = if side == Side::A { (0, 1) } else { (1, 0) };
        Ok(match self {
            Channel::Stream(fds) => {
                let (r, w) = if side == Side::A { (0, 1) } else { (2, 3) };
                Box::new(StreamEnd {
                    read: fds[r].as_fd(),
                    write: fds[w].as_fd(),
                    buf: PageBuf::new(recv_len, 1),
                })
            }
            Channel::SysvMsgq(q, piece) => Box::new(MsgqEnd {
                q,
                piece: *piece,
                tx_type: tx as libc::c_long + 1,
                rx_type: rx as libc::c_long + 1,
                stage: MsgBuf::new(*piece),
            }),
            Channel::PosixMq(qs, piece) => Box::new(MqEnd {
                tx: qs[tx].get(),
                rx: qs[rx].get(),
                piece: *piece,
                buf: PageBuf::new(*piece, 1),
            }),
            Channel::Shm(rings) => {
                let maps = |dir: usize| -> io::Result<Vec<Mapping>> {
                    if rings.per_message {
                        return Ok(Vec::new());
                    }
                    rings.segments[dir].iter().map(Segment::map).collect()
                };
                Box::new(ShmEnd {
                    rings,
                    tx,
                    rx,
                    tx_maps: maps(tx)?,
                    rx_maps: maps(rx)?,
                    sent: 0,
                    received: 0,
                })
            }
        })
    }
}

fn family_per_message(mechanism: Mechanism) -> bool {
    mechanism.family() == Family::SharedMemoryPerMessage
}

/// A pipe pair or a socket: `write` until all is written, `read` until all is read.
struct StreamEnd<'a> {
    read: BorrowedFd<'a>,
    write: BorrowedFd<'a>,
    buf: PageBuf,
}

impl End for StreamEnd<'_> {
    fn send(&mut self, mut data: &[u8]) -> io::Result<()> {
        while !data.is_empty() {
            match nix::unistd::write(self.write, data) {
                Ok(n) => data = &data[n..],
                Err(nix::errno::Errno::EINTR) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    fn recv(&mut self, len: usize, sum: &mut u64) -> io::Result<()> {
        let mut got = 0;
        while got < len {
            match nix::unistd::read(self.read, &mut self.buf.bytes_mut()[got..len]) {
                Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
                Ok(n) => got += n,
                Err(nix::errno::Errno::EINTR) => {}
                Err(e) => return Err(e.into()),
            }
        }
        consume(&self.buf.bytes()[..len], sum);
        Ok(())
    }
}

/// A SysV queue: a message larger than `msgmax` goes in pieces. `msgsnd` wants the type word in
/// front of the text, so each piece is staged behind it (the API's own extra copy).
struct MsgqEnd<'a> {
    q: &'a MsgQueue,
    piece: usize,
    tx_type: libc::c_long,
    rx_type: libc::c_long,
    stage: MsgBuf,
}

impl End for MsgqEnd<'_> {
    fn send(&mut self, data: &[u8]) -> io::Result<()> {
        for piece in data.chunks(self.piece) {
            self.stage.text_mut()[..piece.len()].copy_from_slice(piece);
            self.q.send(&mut self.stage, self.tx_type, piece.len())?;
        }
        Ok(())
    }

    fn recv(&mut self, len: usize, sum: &mut u64) -> io::Result<()> {
        let mut got = 0;
        while got < len {
            let n = self.q.recv(&mut self.stage, self.rx_type)?;
            consume(&self.stage.text()[..n], sum);
            got += n;
        }
        Ok(())
    }
}

/// Two POSIX queues: a message larger than `msgsize` goes in pieces.
struct MqEnd<'a> {
    tx: &'a MqdT,
    rx: &'a MqdT,
    piece: usize,
    buf: PageBuf,
}

impl End for MqEnd<'_> {
    fn send(&mut self, data: &[u8]) -> io::Result<()> {
        for piece in data.chunks(self.piece) {
            loop {
                match nix::mqueue::mq_send(self.tx, piece, 0) {
                    Ok(()) => break,
                    Err(nix::errno::Errno::EINTR) => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }
        Ok(())
    }

    fn recv(&mut self, len: usize, sum: &mut u64) -> io::Result<()> {
        let mut got = 0;
        let mut prio = 0;
        while got < len {
            match nix::mqueue::mq_receive(self.rx, self.buf.bytes_mut(), &mut prio) {
                Ok(n) => {
                    consume(&self.buf.bytes()[..n], sum);
                    got += n;
                }
                Err(nix::errno::Errno::EINTR) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }
}

/// A shared-memory ring: wait for an empty slot, copy in, post full; wait for a full slot,
/// read in place, post empty.
struct ShmEnd<'a> {
    rings: &'a ShmRings,
    tx: usize,
    rx: usize,
    /// The slots mapped once (empty when mapping per message).
    tx_maps: Vec<Mapping>,
    rx_maps: Vec<Mapping>,
    sent: usize,
    received: usize,
}

impl End for ShmEnd<'_> {
    fn send(&mut self, data: &[u8]) -> io::Result<()> {
        let sems = &self.rings.control.sems;
        sems[2 * self.tx].wait()?;
        let slot = self.sent % SLOTS;
        self.sent += 1;
        if self.rings.per_message {
            let mut map = self.rings.segments[self.tx][slot].map()?;
            map.bytes_mut()[..data.len()].copy_from_slice(data);
        } else {
            self.tx_maps[slot].bytes_mut()[..data.len()].copy_from_slice(data);
        }
        sems[2 * self.tx + 1].post()
    }

    fn recv(&mut self, len: usize, sum: &mut u64) -> io::Result<()> {
        let sems = &self.rings.control.sems;
        sems[2 * self.rx + 1].wait()?;
        let slot = self.received % SLOTS;
        self.received += 1;
        if self.rings.per_message {
            let map = self.rings.segments[self.rx][slot].map()?;
            consume(&map.bytes()[..len], sum);
        } else {
            consume(&self.rx_maps[slot].bytes()[..len], sum);
        }
        sems[2 * self.rx].post()
    }
}
