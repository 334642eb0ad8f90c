//! SysV message queues (`<sys/msg.h>`) and the key they are found by (`ftok`, `<sys/ipc.h>`).
//!
//! A message as the kernel sees it starts with its type, a C `long`, followed by `msgsz`
//! bytes of text; the wrappers take and fill whole messages as byte slices, type included, so
//! `msgsz` is always the slice length minus [`MTYPE_LEN`].

use std::path::Path;

use libc::{c_int, c_long, key_t};
use nix::errno::Errno;

// BEGIN SOLUTION
use crate::cvt::cvt;
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
// END SOLUTION

/// Size of the `mtype` field that starts every message: a C `long`.
pub const MTYPE_LEN: usize = std::mem::size_of::<c_long>();

/// `ftok(path, id)`—Derives the IPC key that every process naming the same existing file and
/// the same non-zero `id` obtains (lesson §11).
pub fn ftok(path: &Path, id: u8) -> Result<key_t, Errno> {
    let _ = (&path, &id);
    // BEGIN SOLUTION todo!("specs/seg-pool.md §2.4: ftok(path, id)")
    let path = CString::new(path.as_os_str().as_bytes()).map_err(|_| Errno::EINVAL)?;
    // SAFETY: `path` is a NUL-terminated string that outlives the call.
    let key = unsafe { libc::ftok(path.as_ptr(), c_int::from(id)) };
    cvt(key)
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
    /// `msgget(key, IPC_CREAT | IPC_EXCL | 0600)`—Creates the queue of `key`; `EEXIST` if
    /// there is one already.
    pub fn create(key: key_t) -> Result<Queue, Errno> {
        let _ = &key;
        // BEGIN SOLUTION todo!("specs/seg-pool.md §2.4: create the queue")
        // SAFETY: plain system call on integers.
        let id = cvt(unsafe { libc::msgget(key, libc::IPC_CREAT | libc::IPC_EXCL | 0o600) })?;
        Ok(Queue { id })
        // END SOLUTION
    }

    /// `msgget(key, 0)`—Opens the existing queue of `key`; `ENOENT` if there is none.
    pub fn open(key: key_t) -> Result<Queue, Errno> {
        let _ = &key;
        // BEGIN SOLUTION todo!("specs/seg-pool.md §2.4: open the queue")
        // SAFETY: plain system call on integers.
        let id = cvt(unsafe { libc::msgget(key, 0) })?;
        Ok(Queue { id })
        // END SOLUTION
    }

    /// `msgsnd(id, msg, msg.len() - MTYPE_LEN, 0)`—Sends one message whose first
    /// [`MTYPE_LEN`] bytes are its type. One attempt: `EINTR` is returned.
    pub fn send(&self, msg: &[u8]) -> Result<(), Errno> {
        let _ = &msg;
        // BEGIN SOLUTION todo!("specs/seg-pool.md §2.4: msgsnd")
        assert!(msg.len() >= MTYPE_LEN, "a message starts with its type");
        // SAFETY: `msg` holds the type followed by `msg.len() - MTYPE_LEN` bytes of text.
        cvt(unsafe { libc::msgsnd(self.id, msg.as_ptr().cast(), msg.len() - MTYPE_LEN, 0) })?;
        Ok(())
        // END SOLUTION
    }

    /// `msgrcv(id, buf, buf.len() - MTYPE_LEN, msgtyp, flags | MSG_NOERROR)`—Receives one
    /// message of `msgtyp` (lesson §5: a negative type takes the lowest type up to its
    /// absolute value) into `buf`, type first, and returns the length of its text. One
    /// attempt: `EINTR` (and `ENOMSG` with `IPC_NOWAIT`) is returned.
    pub fn recv(&self, buf: &mut [u8], msgtyp: c_long, flags: c_int) -> Result<usize, Errno> {
        let _ = (&buf, &msgtyp, &flags);
        // BEGIN SOLUTION todo!("specs/seg-pool.md §2.4: msgrcv")
        assert!(buf.len() >= MTYPE_LEN, "a message starts with its type");
        // SAFETY: `buf` has room for the type and `buf.len() - MTYPE_LEN` bytes of text.
        let n = cvt(unsafe {
            libc::msgrcv(
                self.id,
                buf.as_mut_ptr().cast(),
                buf.len() - MTYPE_LEN,
                msgtyp,
                flags | libc::MSG_NOERROR,
            )
        })?;
        Ok(n as usize)
        // END SOLUTION
    }

    /// `msgctl(id, IPC_RMID)`—Removes the queue; blocked readers and writers fail with
    /// `EIDRM`.
    pub fn remove(&self) -> Result<(), Errno> {
        // BEGIN SOLUTION todo!("specs/seg-pool.md §2.4: msgctl(id, IPC_RMID)")
        // SAFETY: `IPC_RMID` takes no buffer.
        cvt(unsafe { libc::msgctl(self.id, libc::IPC_RMID, std::ptr::null_mut()) })?;
        Ok(())
        // END SOLUTION
    }
}
