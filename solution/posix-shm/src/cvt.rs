//! Return codes converted in one place: `-1` + `errno`, and the same with an `EINTR` retry.

use std::io;

/// The C return types that report failure as `-1`.
pub trait IsMinusOne: Copy {
    /// Whether the value is the C failure marker `-1`.
    fn is_minus_one(self) -> bool;
}

impl IsMinusOne for i32 {
    fn is_minus_one(self) -> bool {
        self == -1
    }
}

impl IsMinusOne for isize {
    fn is_minus_one(self) -> bool {
        self == -1
    }
}

/// Turns a `-1` return into the current `errno` as an [`io::Error`].
pub fn cvt<T: IsMinusOne>(ret: T) -> io::Result<T> {
    if ret.is_minus_one() {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// Calls `f` until it does not fail with `EINTR`, then converts as [`cvt`].
pub fn cvt_r<T: IsMinusOne>(mut f: impl FnMut() -> T) -> io::Result<T> {
    loop {
        match cvt(f()) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}
