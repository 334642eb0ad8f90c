//! The grader's own ping-pong over POSIX named semaphores, the yardstick of the timing checks:
//! `grader tool semaphores-probe ping|pong NAME ROUNDS` plays one side of spec §2.2 (same
//! names, same values, one `write(2)` per line, pong unlinks after its first wait), written from
//! the spec alone. Every wait is bounded (5 s), so a probe never outlives a broken peer.
//!
//! `nix` does not wrap `<semaphore.h>`, hence the `unsafe` below: each block is one call long.
#![allow(unsafe_code)]

use std::ffi::CString;
use std::process::ExitCode;
use std::ptr::NonNull;
use crate::sys::cvt;

/// An open named semaphore, closed on drop.
struct Named(NonNull<libc::sem_t>);

impl Named {
    fn open(name: &CString, value: u32) -> Option<Named> {
        // SAFETY: `name` is NUL-terminated; with O_CREAT sem_open reads a mode and an unsigned
        // int, which is what is passed.
        let sem =
            unsafe { libc::sem_open(name.as_ptr(), libc::O_CREAT, 0o600 as libc::c_uint, value) };
        if sem == libc::SEM_FAILED {
            return None;
        }
        NonNull::new(sem).map(Named)
    }

    /// Waits at most five seconds; false when the wait failed.
    fn wait(&self) -> bool {
        let mut deadline = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `deadline` is a valid timespec for the kernel to fill.
        unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut deadline) };
        deadline.tv_sec += 5;
        loop {
            // SAFETY: the semaphore came from a successful sem_open and is open until drop.
            let rc = unsafe { libc::sem_timedwait(self.0.as_ptr(), &deadline) };
            if rc == 0 {
                return true;
            }
            if std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
                return false;
            }
        }
    }

    fn post(&self) -> bool {
        // SAFETY: the semaphore came from a successful sem_open and is open until drop.
        unsafe { libc::sem_post(self.0.as_ptr()) == 0 }
    }
}

impl Drop for Named {
    fn drop(&mut self) {
        // SAFETY: the semaphore came from a successful sem_open and is closed only here.
        unsafe { libc::sem_close(self.0.as_ptr()) };
    }
}

fn unlink(name: &CString) {
    // SAFETY: `name` is NUL-terminated and outlives the call.
    unsafe { libc::sem_unlink(name.as_ptr()) };
}

/// `semaphores-probe ping|pong NAME ROUNDS`.
pub fn main(args: &[String]) -> ExitCode {
    let [role, name, rounds] = args else {
        eprintln!("usage: grader tool semaphores-probe ping|pong NAME ROUNDS");
        return ExitCode::from(2);
    };
    let Ok(rounds) = rounds.parse::<u64>() else {
        return ExitCode::from(2);
    };
    let pong_side = role == "pong";
    let (Ok(ping_name), Ok(pong_name)) = (
        CString::new(format!("{name}-ping")),
        CString::new(format!("{name}-pong")),
    ) else {
        return ExitCode::from(2);
    };
    let (Some(ping), Some(pong)) = (Named::open(&ping_name, 1), Named::open(&pong_name, 0)) else {
        unlink(&ping_name);
        unlink(&pong_name);
        return ExitCode::from(1);
    };
    let (mine, theirs) = if pong_side {
        (&pong, &ping)
    } else {
        (&ping, &pong)
    };
    for round in 1..=rounds {
        if !mine.wait() {
            unlink(&ping_name);
            unlink(&pong_name);
            return ExitCode::from(3);
        }
        if pong_side && round == 1 {
            unlink(&ping_name);
            unlink(&pong_name);
        }
        let line = format!("{role} {round}\n");
        if nix::unistd::write(std::io::stdout(), line.as_bytes()).is_err() || !theirs.post() {
            return ExitCode::from(1);
        }
    }
    ExitCode::SUCCESS
}

/// `ftok(path, proj)`: the SysV key a program makes of its KEYPATH.
pub fn ftok(path: &str, proj: u8) -> std::io::Result<i32> {
    let path = CString::new(path)?;
    // SAFETY: `path` is NUL-terminated and outlives the call.
    let key = unsafe { libc::ftok(path.as_ptr(), i32::from(proj)) };
    cvt(key)?;
    Ok(key)
}

/// The value of semaphore `num` of the SysV set of `ftok(path, proj)`, as the kernel holds it
/// (`semctl(GETVAL)`): what the grader reads of a student's set between runs.
pub fn sysv_value(path: &str, proj: u8, num: i32) -> std::io::Result<i32> {
    let key = ftok(path, proj)?;
    // SAFETY: semget takes no pointers.
    let id = unsafe { libc::semget(key, 0, 0) };
    cvt(id)?;
    // SAFETY: GETVAL takes no fourth argument.
    let value = unsafe { libc::semctl(id, num, libc::GETVAL) };
    cvt(value)?;
    Ok(value)
}
