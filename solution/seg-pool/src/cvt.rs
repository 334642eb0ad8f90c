//! C return conventions converted in one place: `-1` plus `errno`, and the same with a retry
//! on `EINTR`.

use nix::errno::Errno;

/// A C return value whose failure is signalled by `-1`.
pub trait MinusOne: Copy + PartialEq {
    /// The failure value, `-1`.
    const MINUS_ONE: Self;
}

impl MinusOne for i32 {
    const MINUS_ONE: Self = -1;
}

impl MinusOne for isize {
    const MINUS_ONE: Self = -1;
}

/// Converts `-1` into the current `errno`; any other value is a success.
pub fn cvt<T: MinusOne>(ret: T) -> Result<T, Errno> {
    if ret == T::MINUS_ONE {
        Err(Errno::last())
    } else {
        Ok(ret)
    }
}

/// Calls `f` until it returns something other than `-1` with `errno == EINTR`: a signal that
/// interrupts a blocked call neither loses nor repeats the call's effect, so calling it again
/// is always right.
pub fn cvt_r<T: MinusOne>(mut f: impl FnMut() -> T) -> Result<T, Errno> {
    loop {
        match cvt(f()) {
            Err(Errno::EINTR) => continue,
            other => return other,
        }
    }
}
