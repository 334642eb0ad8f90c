//! `relay`: a coprocess fed through one pipe and read back through another (spec §3,
//! lesson §4–5).
//!
//! A filter that reads everything before it writes (`sort`, `wc`) needs its input closed; one
//! that writes as it reads (`tr`, `cat`) fills its output pipe and blocks if nobody reads it.
//! So the relay never blocks on one pipe while the other could move: it waits in `poll` for
//! whichever end is ready, with the filter's ends non-blocking, and loops on partial writes.

use std::process::ExitCode;

use crate::pipe::Command;
// BEGIN SOLUTION
use crate::pipe;
use nix::errno::Errno;
use nix::fcntl::{FcntlArg, OFlag, fcntl};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use std::io::Write;
use std::os::fd::{AsFd, OwnedFd};
// END SOLUTION

/// The program's name in its messages.
const PROGRAM: &str = "relay";
/// What `relay` prints on stderr, with exit status 2, for a malformed command line.
pub const USAGE: &str = "usage: relay CMD [ARG...]";
/// Bytes read from stdin or from the filter in one call.
pub const CHUNK: usize = 128 * 1024;

/// Starts the filter with a pipe on each side, relays stdin to it and its output to stdout
/// until both streams end, then returns the filter's status (spec §3.2).
pub fn run(filter: &Command) -> nix::Result<u8> {
    // BEGIN SOLUTION let _ = filter; todo!("specs/pipes.md §3.2: start the filter, then move bytes both ways without deadlock")
    let (to_filter_read, to_filter) = pipe::pipe()?;
    let (from_filter, from_filter_write) = pipe::pipe()?;
    let child = pipe::spawn(
        PROGRAM,
        filter,
        Some(&to_filter_read),
        Some(&from_filter_write),
    )?;
    drop((to_filter_read, from_filter_write));
    set_nonblocking(&to_filter)?;
    set_nonblocking(&from_filter)?;
    pump(to_filter, from_filter)?;
    pipe::wait_status(child)
    // END SOLUTION
}

// BEGIN SOLUTION
/// `fcntl(fd, F_SETFL, O_NONBLOCK)`—Makes reads and writes on `fd` return `EAGAIN` instead of
/// blocking.
fn set_nonblocking(fd: &OwnedFd) -> nix::Result<()> {
    fcntl(fd, FcntlArg::F_SETFL(OFlag::O_NONBLOCK)).map(drop)
}

/// Moves stdin into `to_filter` and `from_filter` into stdout until the filter's output ends.
///
/// `to_filter` is closed (dropped) once stdin is exhausted and every byte was written, or as
/// soon as the filter closes its input (`EPIPE`): the rest of stdin is then left unread.
fn pump(to_filter: OwnedFd, from_filter: OwnedFd) -> nix::Result<()> {
    let stdin = std::io::stdin();
    let mut stdout = std::io::stdout().lock();
    let mut to_filter = Some(to_filter);
    let mut from_filter = Some(from_filter);
    let mut pending = vec![0u8; CHUNK];
    let (mut start, mut end) = (0, 0);
    let mut output = vec![0u8; CHUNK];
    while let Some(out_fd) = from_filter.as_ref() {
        let feeding = to_filter.as_ref();
        let mut fds = vec![PollFd::new(out_fd.as_fd(), PollFlags::POLLIN)];
        if let Some(in_fd) = feeding {
            let wanted = if start < end {
                (in_fd.as_fd(), PollFlags::POLLOUT)
            } else {
                (stdin.as_fd(), PollFlags::POLLIN)
            };
            fds.push(PollFd::new(wanted.0, wanted.1));
        }
        match poll(&mut fds, PollTimeout::NONE) {
            Err(Errno::EINTR) => continue,
            result => result?,
        };
        let ready = |fd: &PollFd| fd.revents().is_some_and(|r| !r.is_empty());
        let (output_ready, input_ready) = (ready(&fds[0]), fds.get(1).is_some_and(ready));
        drop(fds);
        if input_ready {
            let in_fd = to_filter.as_ref().expect("polled only while feeding");
            if start < end {
                match nix::unistd::write(in_fd, &pending[start..end]) {
                    Ok(n) => start += n,
                    Err(Errno::EAGAIN | Errno::EINTR) => {}
                    // The filter closed its input: it wants no more.
                    Err(Errno::EPIPE) => to_filter = None,
                    Err(err) => return Err(err),
                }
            } else {
                match nix::unistd::read(stdin.as_fd(), &mut pending) {
                    Ok(0) => to_filter = None,
                    Ok(n) => (start, end) = (0, n),
                    Err(Errno::EAGAIN | Errno::EINTR) => {}
                    Err(err) => return Err(err),
                }
            }
        }
        if output_ready {
            match nix::unistd::read(out_fd, &mut output) {
                Ok(0) => from_filter = None,
                Ok(n) => stdout
                    .write_all(&output[..n])
                    .map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)))?,
                Err(Errno::EAGAIN | Errno::EINTR) => {}
                Err(err) => return Err(err),
            }
        }
    }
    stdout
        .flush()
        .map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)))
}
// END SOLUTION

/// The program: check the command line, relay, and exit with the filter's status (spec §3).
pub fn main(args: &[String]) -> ExitCode {
    let Some(filter) = Command::new(args) else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    match run(&filter) {
        Ok(status) => ExitCode::from(status),
        Err(err) => {
            eprintln!("{PROGRAM}: {err}");
            ExitCode::FAILURE
        }
    }
}
