//! The SysV message-queue calls the `seg-pool` checks make themselves, which `nix` does not
//! wrap: create a queue (`msgget`), take and put back messages of the free list (`msgrcv`,
//! `msgsnd`), remove a queue (`msgctl(IPC_RMID)`). Each `unsafe` block is one call long.
#![allow(unsafe_code)]

use std::io;

/// Size of `mtype`, a C `long`.
pub const MTYPE_LEN: usize = std::mem::size_of::<libc::c_long>();

use crate::sys::cvt;

/// `msgget(key, IPC_CREAT | IPC_EXCL | 0600)`: a new queue; its id.
pub fn create_queue(key: i32) -> io::Result<i32> {
    // SAFETY: a system call on integers.
    let id = unsafe { libc::msgget(key, libc::IPC_CREAT | libc::IPC_EXCL | 0o600) };
    cvt(id)
}

/// `msgctl(id, IPC_RMID, NULL)`.
pub fn remove_queue(id: i32) -> io::Result<()> {
    // SAFETY: IPC_RMID takes no buffer.
    let ret = unsafe { libc::msgctl(id, libc::IPC_RMID, std::ptr::null_mut()) };
    cvt(ret).map(drop)
}

/// `msgrcv(id, buf, 64, msgtyp, IPC_NOWAIT | MSG_NOERROR)`: the whole message (type first),
/// or `None` when there is none of that type now.
pub fn take(id: i32, msgtyp: libc::c_long) -> io::Result<Option<Vec<u8>>> {
    let mut buf = vec![0u8; MTYPE_LEN + 64];
    // SAFETY: `buf` has room for the type and 64 bytes of text, and outlives the call.
    let ret = unsafe {
        libc::msgrcv(
            id,
            buf.as_mut_ptr().cast(),
            64,
            msgtyp,
            libc::IPC_NOWAIT | libc::MSG_NOERROR,
        )
    };
    match cvt(ret) {
        Ok(n) => {
            buf.truncate(MTYPE_LEN + n as usize);
            Ok(Some(buf))
        }
        Err(e) if e.raw_os_error() == Some(libc::ENOMSG) => Ok(None),
        Err(e) => Err(e),
    }
}

/// `msgsnd(id, msg, msg.len() - MTYPE_LEN, IPC_NOWAIT)`: `msg` starts with its type.
pub fn put(id: i32, msg: &[u8]) -> io::Result<()> {
    assert!(msg.len() >= MTYPE_LEN);
    // SAFETY: `msg` holds the type and `msg.len() - MTYPE_LEN` bytes of text, and outlives
    // the call.
    let ret = unsafe {
        libc::msgsnd(
            id,
            msg.as_ptr().cast(),
            msg.len() - MTYPE_LEN,
            libc::IPC_NOWAIT,
        )
    };
    cvt(ret).map(drop)
}
