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
        // BEGIN SOLUTION todo!("specs/msgq.md §3.1: lay the request header out to the byte")
        put(buf, offset_of!(Request, mtype), &self.mtype.to_ne_bytes());
        put(buf, offset_of!(Request, pid), &self.pid.to_ne_bytes());
        put(buf, offset_of!(Request, op), &self.op.to_ne_bytes());
        put(buf, offset_of!(Request, seq), &self.seq.to_ne_bytes());
        put(buf, offset_of!(Request, a), &self.a.to_ne_bytes());
        put(buf, offset_of!(Request, b), &self.b.to_ne_bytes());
        put(buf, offset_of!(Request, len), &self.len.to_ne_bytes());
        put(
            buf,
            offset_of!(Request, reserved),
            &self.reserved.to_ne_bytes(),
        );
        // END SOLUTION
    }

    /// Reads a header from `buf[..HEADER_LEN]`.
    pub fn decode(buf: &[u8]) -> Request {
        let _ = &buf;
        // BEGIN SOLUTION todo!("specs/msgq.md §3.1: read the request header")
        Request {
            mtype: c_long::from_ne_bytes(get(buf, offset_of!(Request, mtype))),
            pid: i32::from_ne_bytes(get(buf, offset_of!(Request, pid))),
            op: u32::from_ne_bytes(get(buf, offset_of!(Request, op))),
            seq: u64::from_ne_bytes(get(buf, offset_of!(Request, seq))),
            a: i64::from_ne_bytes(get(buf, offset_of!(Request, a))),
            b: i64::from_ne_bytes(get(buf, offset_of!(Request, b))),
            len: u32::from_ne_bytes(get(buf, offset_of!(Request, len))),
            reserved: u32::from_ne_bytes(get(buf, offset_of!(Request, reserved))),
        }
        // END SOLUTION
    }
}

impl Reply {
    /// Writes the header into `buf[..HEADER_LEN]`, native byte order.
    pub fn encode(&self, buf: &mut [u8]) {
        let _ = &buf;
        // BEGIN SOLUTION todo!("specs/msgq.md §3.2: lay the reply header out to the byte")
        put(buf, offset_of!(Reply, mtype), &self.mtype.to_ne_bytes());
        put(buf, offset_of!(Reply, status), &self.status.to_ne_bytes());
        put(buf, offset_of!(Reply, op), &self.op.to_ne_bytes());
        put(buf, offset_of!(Reply, seq), &self.seq.to_ne_bytes());
        put(buf, offset_of!(Reply, value), &self.value.to_ne_bytes());
        put(buf, offset_of!(Reply, digest), &self.digest.to_ne_bytes());
        put(buf, offset_of!(Reply, len), &self.len.to_ne_bytes());
        put(
            buf,
            offset_of!(Reply, reserved),
            &self.reserved.to_ne_bytes(),
        );
        // END SOLUTION
    }

    /// Reads a header from `buf[..HEADER_LEN]`.
    pub fn decode(buf: &[u8]) -> Reply {
        let _ = &buf;
        // BEGIN SOLUTION todo!("specs/msgq.md §3.2: read the reply header")
        Reply {
            mtype: c_long::from_ne_bytes(get(buf, offset_of!(Reply, mtype))),
            status: i32::from_ne_bytes(get(buf, offset_of!(Reply, status))),
            op: u32::from_ne_bytes(get(buf, offset_of!(Reply, op))),
            seq: u64::from_ne_bytes(get(buf, offset_of!(Reply, seq))),
            value: i64::from_ne_bytes(get(buf, offset_of!(Reply, value))),
            digest: u64::from_ne_bytes(get(buf, offset_of!(Reply, digest))),
            len: u32::from_ne_bytes(get(buf, offset_of!(Reply, len))),
            reserved: u32::from_ne_bytes(get(buf, offset_of!(Reply, reserved))),
        }
        // END SOLUTION
    }
}
// BEGIN SOLUTION

/// Copies `bytes` to `buf[at..]`.
fn put(buf: &mut [u8], at: usize, bytes: &[u8]) {
    buf[at..at + bytes.len()].copy_from_slice(bytes);
}

/// The `N` bytes at `buf[at..]`.
fn get<const N: usize>(buf: &[u8], at: usize) -> [u8; N] {
    buf[at..at + N].try_into().expect("N bytes")
}

/// Slicing-by-8 tables of the reflected CRC-32 polynomial `0xEDB88320`.
static CRC_TABLES: [[u32; 256]; 8] = crc_tables();

const fn crc_tables() -> [[u32; 256]; 8] {
    let mut t = [[0u32; 256]; 8];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        t[0][i] = c;
        i += 1;
    }
    let mut i = 0;
    while i < 256 {
        let mut j = 1;
        while j < 8 {
            let prev = t[j - 1][i];
            t[j][i] = (prev >> 8) ^ t[0][(prev & 0xff) as usize];
            j += 1;
        }
        i += 1;
    }
    t
}
// END SOLUTION

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
        // BEGIN SOLUTION todo!("specs/msgq.md §3.4: CRC-32 of the payload")
        let t = &CRC_TABLES;
        let mut c = self.state;
        let mut chunks = bytes.chunks_exact(8);
        for w in &mut chunks {
            let lo = u32::from_le_bytes([w[0], w[1], w[2], w[3]]) ^ c;
            c = t[7][(lo & 0xff) as usize]
                ^ t[6][((lo >> 8) & 0xff) as usize]
                ^ t[5][((lo >> 16) & 0xff) as usize]
                ^ t[4][(lo >> 24) as usize]
                ^ t[3][w[4] as usize]
                ^ t[2][w[5] as usize]
                ^ t[1][w[6] as usize]
                ^ t[0][w[7] as usize];
        }
        for &b in chunks.remainder() {
            c = t[0][((c ^ u32::from(b)) & 0xff) as usize] ^ (c >> 8);
        }
        self.state = c;
        // END SOLUTION
    }

    /// The CRC of everything fed so far.
    pub fn value(&self) -> u32 {
        !self.state
    }
}

/// Bytes `a`–`z` become `A`–`Z`; every other byte is left as it is.
pub fn upper_in_place(text: &mut [u8]) {
    let _ = &text;
    // BEGIN SOLUTION todo!("specs/msgq.md §4.2: ASCII upper-casing")
    text.make_ascii_uppercase();
    // END SOLUTION
}
