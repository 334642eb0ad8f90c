//! SysV message queues (`<sys/msg.h>`) and the key they are found by (`ftok`, `<sys/ipc.h>`).
//!
//! A message as the kernel sees it starts with its type, a C `long`, followed by `msgsz`
//! bytes of text; the wrappers take and fill whole messages as byte slices, type included, so
//! `msgsz` is always the slice length minus [`MTYPE_LEN`].

use std::path::Path;

use libc::{c_int, c_long, key_t};
use nix::errno::Errno;

use crate::alarm::{self, Deadline, WaitError};

/// Size of the `mtype` field that starts every message: a C `long`.
pub const MTYPE_LEN: usize = std::mem::size_of::<c_long>();

/// `ftok(path, id)`—Derives the IPC key that every process naming the same existing file and
/// the same non-zero `id` obtains (lesson §11).
pub fn ftok(path: &Path, id: u8) -> Result<key_t, Errno> {
    let _ = (&path, &id);
    todo!("specs/msgq.md §2.1: ftok(path, id)")
}

/// `msgctl(0, IPC_INFO)`—The system's limit on the text of one message (`msgmax`), read
/// from the kernel rather than assumed.
pub fn msgmax() -> Result<usize, Errno> {
    todo!("specs/msgq.md §2.3: read msgmax with msgctl(IPC_INFO)")
}

/// `msgctl(id, IPC_RMID)`—Removes queue `id`; blocked readers and writers fail with
/// `EIDRM`. Async-signal-safe.
pub fn remove_id(id: c_int) -> Result<(), Errno> {
    let _ = &id;
    todo!("specs/msgq.md §2.1: msgctl(id, IPC_RMID)")
}

/// A message queue identifier. Dropping it does nothing: the queue outlives every process
/// until someone removes it ([`Queue::remove`]).
#[derive(Debug)]
pub struct Queue {
    /// The identifier `msgget` returned.
    pub id: c_int,
}

impl Queue {
    /// `msgget(key, IPC_CREAT | IPC_EXCL | 0600)`, then `msgget(key, 0)` if it exists—Opens
    /// the queue of `key`, creating it if needed; `true` when this call created it.
    pub fn open_or_create(key: key_t) -> Result<(Queue, bool), Errno> {
        let _ = &key;
        todo!("specs/msgq.md §2.1: create the queue or open the existing one")
    }

    /// `msgsnd(id, msg, msg.len() - MTYPE_LEN, flags)`—Sends one message whose first
    /// [`MTYPE_LEN`] bytes are its type. One attempt: `EINTR` and `EAGAIN` are returned.
    pub fn send(&self, msg: &[u8], flags: c_int) -> Result<(), Errno> {
        let _ = (&msg, &flags);
        todo!("specs/msgq.md §2.2: msgsnd")
    }

    /// `msgrcv(id, buf, buf.len() - MTYPE_LEN, msgtyp, flags | MSG_NOERROR)`—Receives one
    /// message into `buf` (type first) and returns the length of its text. `MSG_NOERROR`
    /// truncates an oversized message instead of failing with `E2BIG` and leaving it at the
    /// head of the queue. One attempt: `EINTR` and `ENOMSG` are returned.
    pub fn recv(&self, buf: &mut [u8], msgtyp: c_long, flags: c_int) -> Result<usize, Errno> {
        let _ = (&buf, &msgtyp, &flags);
        todo!("specs/msgq.md §2.2: msgrcv")
    }

    /// [`Queue::recv`] with `EINTR` retried: waits without bound.
    pub fn recv_r(&self, buf: &mut [u8], msgtyp: c_long) -> Result<usize, Errno> {
        let _ = (&buf, &msgtyp);
        todo!("specs/msgq.md §2.2: msgrcv, retried on EINTR")
    }

    /// [`Queue::send`], blocking until there is room or `deadline` passes. A queue usually has
    /// room: the message is first offered without waiting (`IPC_NOWAIT`), and the timer of a
    /// bounded wait is armed only if that fails (a full queue, or an error the bounded call
    /// then reports).
    pub fn send_until(&self, msg: &[u8], deadline: Deadline) -> Result<(), WaitError> {
        if !alarm::terminating() && self.send(msg, libc::IPC_NOWAIT).is_ok() {
            return Ok(());
        }
        alarm::with_deadline(deadline, || self.send(msg, 0))
    }

    /// [`Queue::recv`], blocking until a message of `msgtyp` arrives or `deadline` passes.
    pub fn recv_until(
        &self,
        buf: &mut [u8],
        msgtyp: c_long,
        deadline: Deadline,
    ) -> Result<usize, WaitError> {
        alarm::with_deadline(deadline, || self.recv(buf, msgtyp, 0))
    }

    /// `msgctl(id, IPC_RMID)`—Removes the queue.
    pub fn remove(self) -> Result<(), Errno> {
        remove_id(self.id)
    }
}
