//! The messages on the queue (specs/seg-pool.md §2.3), to the byte.
//!
//! Every message is a C `long` type followed by 8 bytes of text: the segment's identifier
//! (`int32_t`, little-endian) and a length (`uint32_t`, little-endian).

use libc::c_long;

use crate::msg::MTYPE_LEN;

/// A client's filled segment: `(shmid, bytes of the chunk)`, client → server.
pub const FULL: c_long = 1;
/// A client has sent all its input: `(the client's pid, 0)`, client → server.
pub const DONE: c_long = 2;
/// A free segment: `(shmid, SEG_SIZE)`, server → clients (and a client returning an unused one).
pub const FREE: c_long = 3;
/// The server's `msgtyp`: FULL and DONE, never FREE (the lowest type up to 2 first).
pub const TO_SERVER: c_long = -DONE;
/// Bytes of text of every message.
pub const TEXT_LEN: usize = 8;
/// Bytes of a whole message, type included.
pub const MSG_LEN: usize = MTYPE_LEN + TEXT_LEN;

/// A decoded message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Message {
    /// [`FULL`], [`DONE`] or [`FREE`] (or anything a broken peer sent).
    pub mtype: c_long,
    /// The segment's identifier (a pid for [`DONE`]).
    pub id: i32,
    /// The length.
    pub len: u32,
}

/// The bytes of `msg`, type first, in the machine's order for the type.
pub fn encode(msg: Message) -> [u8; MSG_LEN] {
    let _ = &msg;
    // BEGIN SOLUTION todo!("specs/seg-pool.md §2.3: lay out a message")
    let mut out = [0u8; MSG_LEN];
    out[..MTYPE_LEN].copy_from_slice(&msg.mtype.to_ne_bytes());
    out[MTYPE_LEN..MTYPE_LEN + 4].copy_from_slice(&msg.id.to_le_bytes());
    out[MTYPE_LEN + 4..].copy_from_slice(&msg.len.to_le_bytes());
    out
    // END SOLUTION
}

/// The message in `buf` (type first) whose text is `text_len` bytes, or `None` if the text is
/// not [`TEXT_LEN`] bytes long.
pub fn decode(buf: &[u8; MSG_LEN], text_len: usize) -> Option<Message> {
    let _ = (&buf, &text_len);
    // BEGIN SOLUTION todo!("specs/seg-pool.md §2.3: read a message")
    if text_len != TEXT_LEN {
        return None;
    }
    let word = |at: usize| [buf[at], buf[at + 1], buf[at + 2], buf[at + 3]];
    let mut mtype = [0u8; MTYPE_LEN];
    mtype.copy_from_slice(&buf[..MTYPE_LEN]);
    Some(Message {
        mtype: c_long::from_ne_bytes(mtype),
        id: i32::from_le_bytes(word(MTYPE_LEN)),
        len: u32::from_le_bytes(word(MTYPE_LEN + 4)),
    })
    // END SOLUTION
}
