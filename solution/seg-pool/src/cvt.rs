//! Return codes converted in one place, one function per C convention: [`cvt`] for `-1` +
//! `errno`, [`cvt_r`] for the same with an `EINTR` retry, [`cvt_nz`] for `pthread_*` calls,
//! which return the error number itself. Given complete.
//!
//! Every crate of the kit that makes raw system calls has this same file, byte for byte.

use nix::errno::Errno;

/// A C return type whose failure value is `-1` (`int`, `ssize_t`, or a pointer cast to `isize`).
pub trait MinusOne: Copy + PartialEq {
    /// The failure value.
    const MINUS_ONE: Self;
}

impl MinusOne for i32 {
    const MINUS_ONE: Self = -1;
}

impl MinusOne for isize {
    const MINUS_ONE: Self = -1;
}

/// Converts the `-1` + `errno` convention: `-1` becomes the current `errno`, any other value
/// is a success.
pub fn cvt<T: MinusOne>(ret: T) -> Result<T, Errno> {
    if ret == T::MINUS_ONE {
        Err(Errno::last())
    } else {
        Ok(ret)
    }
}

/// Like [`cvt`], but calls `f` again while it fails with `EINTR`: a signal that interrupts a
/// blocked call neither loses nor repeats the call's effect, so calling it again is always
/// right.
pub fn cvt_r<T: MinusOne>(mut f: impl FnMut() -> T) -> Result<T, Errno> {
    loop {
        match cvt(f()) {
            Err(Errno::EINTR) => continue,
            other => return other,
        }
    }
}

/// Converts the `pthread_*` convention: `0` on success, otherwise the error number itself.
pub fn cvt_nz(ret: libc::c_int) -> Result<(), Errno> {
    if ret == 0 {
        Ok(())
    } else {
        Err(Errno::from_raw(ret))
    }
}
