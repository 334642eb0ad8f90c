//! The `semaphores` assignment: handing control from one process to another with semaphores
//! (lesson §13, §15). See `specs/semaphores.md`.
//!
//! Three programs, each a thin `main` over one module of this crate:
//!
//! | binary | module | what it shows |
//! |---|---|---|
//! | `sem-pingpong` | [`pingpong`] | two POSIX named semaphores hand a turn back and forth |
//! | `sem-ring` | [`ring`] | a SysV semaphore set passes a token round K processes |
//! | `sem-mutex` | [`mutex`] | a SysV binary semaphore with `SEM_UNDO` guards a shared counter |
//!
//! The system calls live in small wrappers, one module per facility: [`ipc`] (`ftok`),
//! [`sem`] (POSIX named and SysV semaphores) and [`sysv_shm`] (the counter's segment); their
//! return codes are converted in [`cvt`].
//!
//! **Where to start:** read `specs/semaphores.md` §1–2, then write Part 1, `sem-pingpong`:
//! [`pingpong`]'s command line (§2.1), then the POSIX semaphores of [`sem`] (§2.3). `make grade
//! A=semaphores` shows what passes so far.

pub mod cli;
pub mod cvt;
pub mod exit;
pub mod ipc;
pub mod mutex;
pub mod pingpong;
pub mod ring;
pub mod sem;
pub mod sysv_shm;

pub use exit::{Failure, main_with};

/// Writes one output line to standard output with a single `write(2)` (spec §1.2), so that
/// lines of processes sharing one output never mix. A short write (not expected for lines
/// this small) is finished with further calls.
pub fn write_line(line: &str) -> Result<(), Failure> {
    let mut rest = line.as_bytes();
    while !rest.is_empty() {
        match nix::unistd::write(std::io::stdout(), rest) {
            Ok(n) => rest = &rest[n..],
            Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(Failure::Runtime(format!("cannot write to stdout: {e}"))),
        }
    }
    Ok(())
}
