//! SysV message queues (`<sys/msg.h>`) and the key they are found by (`ftok`, `<sys/ipc.h>`).
//!
//! A message as the kernel sees it starts with its type, a C `long`, followed by `msgsz`
//! bytes of text; the wrappers take and fill whole messages as byte slices, type included, so
//! `msgsz` is always the slice length minus [`MTYPE_LEN`].

use std::path::Path;

use libc::{c_int, c_long, key_t};
use nix::errno::Errno;

use crate::alarm::{self, Deadline, WaitError};
// BEGIN SOLUTION
use crate::cvt::{cvt, cvt_r};
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
// END SOLUTION

/// Size of the `mtype` field that starts every message: a C `long`.
pub const MTYPE_LEN: usize = std::mem::size_of::<c_long>();

/// `ftok(path, id)`—Derives the IPC key that every process naming the same existing file and
/// the same non-zero `id` obtains (lesson §11).
pub fn ftok(path: &Path, id: u8) -> Result<key_t, Errno> {
    let _ = (&path, &id);
    // BEGIN SOLUTION todo!("specs/msgq.md §2.1: ftok(path, id)")
    let path = CString::new(path.as_os_str().as_bytes()).map_err(|_| Errno::EINVAL)?;
    // SAFETY: `path` is a NUL-terminated string that outlives the call.
    let key = unsafe { libc::ftok(path.as_ptr(), c_int::from(id)) };
    cvt(key)
    // END SOLUTION
}

/// `msgctl(0, IPC_INFO)`—The system's limit on the text of one message (`msgmax`), read
/// from the kernel rather than assumed.
pub fn msgmax() -> Result<usize, Errno> {
    // BEGIN SOLUTION todo!("specs/msgq.md §2.3: read msgmax with msgctl(IPC_INFO)")
    let mut info = std::mem::MaybeUninit::<libc::msginfo>::zeroed();
    // SAFETY: with `IPC_INFO` the kernel fills a `struct msginfo`, which `info` has room for.
    cvt(unsafe { libc::msgctl(0, libc::IPC_INFO, info.as_mut_ptr().cast()) })?;
    // SAFETY: zero-initialised, then filled by the kernel; every bit pattern is valid.
    let info = unsafe { info.assume_init() };
    usize::try_from(info.msgmax).map_err(|_| Errno::EOVERFLOW)
    // END SOLUTION
}

/// `msgctl(id, IPC_RMID)`—Removes queue `id`; blocked readers and writers fail with
/// `EIDRM`. Async-signal-safe.
pub fn remove_id(id: c_int) -> Result<(), Errno> {
    let _ = &id;
    // BEGIN SOLUTION todo!("specs/msgq.md §2.1: msgctl(id, IPC_RMID)")
    // SAFETY: `IPC_RMID` takes no buffer.
    cvt(unsafe { libc::msgctl(id, libc::IPC_RMID, std::ptr::null_mut()) })?;
    Ok(())
    // END SOLUTION
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
        // BEGIN SOLUTION todo!("specs/msgq.md §2.1: create the queue or open the existing one")
        loop {
            // SAFETY: plain system call on integers.
            match cvt(unsafe { libc::msgget(key, libc::IPC_CREAT | libc::IPC_EXCL | 0o600) }) {
                Ok(id) => return Ok((Queue { id }, true)),
                Err(Errno::EEXIST) => {}
                Err(e) => return Err(e),
            }
            // SAFETY: plain system call on integers.
            match cvt(unsafe { libc::msgget(key, 0) }) {
                Ok(id) => return Ok((Queue { id }, false)),
                // Removed between the two calls: try again.
                Err(Errno::ENOENT) => {}
                Err(e) => return Err(e),
            }
        }
        // END SOLUTION
    }

    /// `msgsnd(id, msg, msg.len() - MTYPE_LEN, flags)`—Sends one message whose first
    /// [`MTYPE_LEN`] bytes are its type. One attempt: `EINTR` and `EAGAIN` are returned.
    pub fn send(&self, msg: &[u8], flags: c_int) -> Result<(), Errno> {
        let _ = (&msg, &flags);
        // BEGIN SOLUTION todo!("specs/msgq.md §2.2: msgsnd")
        assert!(msg.len() >= MTYPE_LEN, "a message starts with its type");
        // SAFETY: `msg` holds the type followed by `msg.len() - MTYPE_LEN` bytes of text.
        cvt(unsafe { libc::msgsnd(self.id, msg.as_ptr().cast(), msg.len() - MTYPE_LEN, flags) })?;
        Ok(())
        // END SOLUTION
    }

    /// `msgrcv(id, buf, buf.len() - MTYPE_LEN, msgtyp, flags | MSG_NOERROR)`—Receives one
    /// message into `buf` (type first) and returns the length of its text. `MSG_NOERROR`
    /// truncates an oversized message instead of failing with `E2BIG` and leaving it at the
    /// head of the queue. One attempt: `EINTR` and `ENOMSG` are returned.
    pub fn recv(&self, buf: &mut [u8], msgtyp: c_long, flags: c_int) -> Result<usize, Errno> {
        let _ = (&buf, &msgtyp, &flags);
        // BEGIN SOLUTION todo!("specs/msgq.md §2.2: msgrcv")
        cvt(self.raw_recv(buf, msgtyp, flags)).map(|n| n as usize)
        // END SOLUTION
    }

    /// [`Queue::recv`] with `EINTR` retried: waits without bound.
    pub fn recv_r(&self, buf: &mut [u8], msgtyp: c_long) -> Result<usize, Errno> {
        let _ = (&buf, &msgtyp);
        // BEGIN SOLUTION todo!("specs/msgq.md §2.2: msgrcv, retried on EINTR")
        cvt_r(|| self.raw_recv(buf, msgtyp, 0)).map(|n| n as usize)
        // END SOLUTION
    }
    // BEGIN SOLUTION

    /// `msgrcv(id, buf, buf.len() - MTYPE_LEN, msgtyp, flags | MSG_NOERROR)`, unconverted.
    fn raw_recv(&self, buf: &mut [u8], msgtyp: c_long, flags: c_int) -> isize {
        assert!(buf.len() >= MTYPE_LEN, "a message starts with its type");
        // SAFETY: `buf` has room for the type and `buf.len() - MTYPE_LEN` bytes of text.
        unsafe {
            libc::msgrcv(
                self.id,
                buf.as_mut_ptr().cast(),
                buf.len() - MTYPE_LEN,
                msgtyp,
                flags | libc::MSG_NOERROR,
            )
        }
    }
    // END SOLUTION

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
