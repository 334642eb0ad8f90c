//! `<sys/ipc.h>`: the key shared by the SysV objects of one run.

use std::ffi::CStr;

use nix::errno::Errno;

// BEGIN SOLUTION
use crate::cvt::cvt;
// END SOLUTION

/// `ftok(path, proj_id)`—Makes a SysV IPC key from an existing file and a project byte. The
/// same file and byte give the same key in every process (lesson §11).
pub fn ftok(path: &CStr, proj_id: u8) -> Result<libc::key_t, Errno> {
    let _ = (path, proj_id);
    // BEGIN SOLUTION todo!("specs/semaphores.md §3.2: call ftok(3); -1 means failure, see errno")
    // SAFETY: `path` is a valid NUL-terminated string for the duration of the call.
    let key = unsafe { libc::ftok(path.as_ptr(), libc::c_int::from(proj_id)) };
    cvt(key)
    // END SOLUTION
}
