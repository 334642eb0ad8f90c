//! The wire format (specs/msgq.md §3): every message starts with a 48-byte header, laid out
//! as the `#[repr(C)]` structs below on x86-64 Linux (native little-endian, `long` = 8 bytes),
//! optionally followed by `len` bytes of text.

use std::mem::{offset_of, size_of};

use libc::c_long;

/// Type of an urgent request.
pub const TYPE_URGENT: c_long = 1;
/// Type of a normal request.
pub const TYPE_NORMAL: c_long = 2;
/// The server takes requests with `msgrcv(msgtyp = -REQUEST_TYPES)`: lowest type first.
pub const REQUEST_TYPES: c_long = 2;
/// Transfer messages for the server from client `pid` are typed `TYPE_DATA_BASE + pid`, above
/// every pid (a `pid_t` is below 2^31), so they collide with neither requests nor replies.
pub const TYPE_DATA_BASE: c_long = 1 << 32;
/// Replies are typed with the client's pid, which must exceed every request type.
pub const MIN_CLIENT_PID: i32 = 3;

/// Size of a header, `mtype` included.
pub const HEADER_LEN: usize = 48;
/// `msgsz` of a message that is a header only (the header without its `mtype`).
pub const HEADER_MSGSZ: usize = HEADER_LEN - size_of::<c_long>();

/// Operation: sum of `a` and `b`.
pub const OP_SUM: u32 = 1;
/// Operation: ASCII upper-casing of the text.
pub const OP_UPPER: u32 = 2;
/// Operation: reply, remove the queue and exit.
pub const OP_SHUTDOWN: u32 = 3;
/// Operation: start a transfer through segment `a` of `b` bytes.
pub const OP_PUT: u32 = 4;
/// Transfer round: `a` bytes are ready at the start of the segment; 0 ends the transfer.
pub const OP_DATA: u32 = 5;

/// Status: success.
pub const ST_OK: i32 = 0;
/// Status: the message does not follow the format of its operation.
pub const ST_BAD_REQUEST: i32 = 1;
/// Status: the operation number is not one of the above.
pub const ST_UNKNOWN_OP: i32 = 2;
/// Status: the sum does not fit in an `int64_t`.
pub const ST_OVERFLOW: i32 = 3;
/// Status: the segment of a `put` cannot be attached or is smaller than announced.
pub const ST_BAD_SEGMENT: i32 = 4;

/// The name a client prints for a status (`error: NAME`).
pub fn status_name(status: i32) -> String {
    match status {
        ST_OK => "ok".to_string(),
        ST_BAD_REQUEST => "bad-request".to_string(),
        ST_UNKNOWN_OP => "unknown-op".to_string(),
        ST_OVERFLOW => "overflow".to_string(),
        ST_BAD_SEGMENT => "bad-segment".to_string(),
        other => format!("status-{other}"),
    }
}

/// A message for the server: a request (typed 1 or 2) or a transfer round (`OP_DATA`).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Request {
    /// `TYPE_URGENT`, `TYPE_NORMAL`, or `TYPE_DATA_BASE + pid` for `OP_DATA`.
    pub mtype: c_long,
    /// The sender's pid; its replies are typed with it.
    pub pid: i32,
    /// One of the `OP_*` numbers.
    pub op: u32,
    /// Chosen by the client, echoed in the reply.
    pub seq: u64,
    /// `OP_SUM`: first operand; `OP_PUT`: segment id; `OP_DATA`: bytes ready.
    pub a: i64,
    /// `OP_SUM`: second operand; `OP_PUT`: segment size; otherwise 0.
    pub b: i64,
    /// `OP_UPPER`: length of the text that follows the header; otherwise 0.
    pub len: u32,
    /// Always 0.
    pub reserved: u32,
}

/// A message for a client, typed with its pid.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reply {
    /// The pid of the client the reply is for.
    pub mtype: c_long,
    /// One of the `ST_*` numbers.
    pub status: i32,
    /// The request's operation, echoed (0 if it could not be read).
    pub op: u32,
    /// The request's `seq`, echoed.
    pub seq: u64,
    /// `OP_SUM`: the sum; `OP_PUT`/`OP_DATA`: bytes received so far; otherwise 0.
    pub value: i64,
    /// `OP_PUT`/`OP_DATA`: CRC-32 of the bytes received so far; otherwise 0.
    pub digest: u64,
    /// `OP_UPPER`: length of the text that follows the header; otherwise 0.
    pub len: u32,
    /// Always 0.
    pub reserved: u32,
}

const _: () = {
    assert!(size_of::<c_long>() == 8);
    assert!(size_of::<Request>() == HEADER_LEN && size_of::<Reply>() == HEADER_LEN);
    assert!(offset_of!(Request, pid) == 8 && offset_of!(Reply, status) == 8);
    assert!(offset_of!(Request, op) == 12 && offset_of!(Reply, op) == 12);
    assert!(offset_of!(Request, seq) == 16 && offset_of!(Reply, seq) == 16);
    assert!(offset_of!(Request, a) == 24 && offset_of!(Reply, value) == 24);
    assert!(offset_of!(Request, b) == 32 && offset_of!(Reply, digest) == 32);
    assert!(offset_of!(Request, len) == 40 && offset_of!(Reply, len) == 40);
    assert!(offset_of!(Request, reserved) == 44 && offset_of!(Reply, reserved) == 44);
};

impl Request {
    /// Writes the header into `buf[..HEADER_LEN]`, native byte order.
    pub fn encode(&self, buf: &mut [u8]) {
        let _ = &buf;
        todo!("specs/msgq.md §3.1: lay the request header out to the byte")
    }

    /// Reads a header from `buf[..HEADER_LEN]`.
    pub fn decode(buf: &[u8]) -> Request {
        let _ = &buf;
        todo!("specs/msgq.md §3.1: read the request header")
    }
}

impl Reply {
    /// Writes the header into `buf[..HEADER_LEN]`, native byte order.
    pub fn encode(&self, buf: &mut [u8]) {
        let _ = &buf;
        todo!("specs/msgq.md §3.2: lay the reply header out to the byte")
    }

    /// Reads a header from `buf[..HEADER_LEN]`.
    pub fn decode(buf: &[u8]) -> Reply {
        let _ = &buf;
        todo!("specs/msgq.md §3.2: read the reply header")
    }
}

/// CRC-32 as in zlib, gzip and PNG (reflected polynomial `0xEDB88320`, initial value and final
/// XOR `0xFFFFFFFF`), computed incrementally.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Crc32 {
    /// The running register, before the final XOR.
    state: u32,
}

impl Default for Crc32 {
    fn default() -> Self {
        Crc32 { state: !0 }
    }
}

impl Crc32 {
    /// Feeds `bytes`.
    pub fn update(&mut self, bytes: &[u8]) {
        let _ = &bytes;
        todo!("specs/msgq.md §3.4: CRC-32 of the payload")
    }

    /// The CRC of everything fed so far.
    pub fn value(&self) -> u32 {
        !self.state
    }
}

/// Bytes `a`–`z` become `A`–`Z`; every other byte is left as it is.
pub fn upper_in_place(text: &mut [u8]) {
    let _ = &text;
    todo!("specs/msgq.md §4.2: ASCII upper-casing")
}
