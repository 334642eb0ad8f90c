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

/// A zeroed buffer of `len` bytes that starts on a page boundary, like the pipe's own pages.
/// On some CPUs (AMD Zen among them) copying runs several times slower when source and
/// destination sit a few bytes apart modulo 4 KiB, which a `Vec` from `malloc` (16 bytes past
/// a page for large sizes) and a pipe page always do.
struct PageBuf {
    bytes: Vec<u8>,
    start: usize,
}

impl PageBuf {
    const PAGE: usize = 4096;

    fn new(len: usize) -> PageBuf {
        let bytes = vec![0u8; len + Self::PAGE];
        let start = bytes.as_ptr().align_offset(Self::PAGE).min(Self::PAGE);
        PageBuf { bytes, start }
    }

    fn get(&mut self) -> &mut [u8] {
        let end = self.bytes.len() - Self::PAGE + self.start;
        &mut self.bytes[self.start..end]
    }
}

/// Writes all of `bytes` to stdout (fd 1) straight from the buffer, retrying short writes and
/// `EINTR`.
fn write_stdout(mut bytes: &[u8]) -> nix::Result<()> {
    let stdout = std::io::stdout();
    while !bytes.is_empty() {
        match nix::unistd::write(stdout.as_fd(), bytes) {
            Ok(n) => bytes = &bytes[n..],
            Err(Errno::EINTR) => {}
            Err(err) => return Err(err),
        }
    }
    Ok(())
}

/// Moves stdin into `to_filter` and `from_filter` into stdout until the filter's output ends.
///
/// `to_filter` is closed (dropped) once stdin is exhausted and every byte was written, or as
/// soon as the filter closes its input (`EPIPE`): the rest of stdin is then left unread.
/// After each `poll` both directions move until they would block, so one wake-up moves as
/// much as the pipes allow; the filter's output goes to stdout straight from the buffer it was
/// read into (no buffered writer, no second copy).
fn pump(to_filter: OwnedFd, from_filter: OwnedFd) -> nix::Result<()> {
    let stdin = std::io::stdin();
    let mut to_filter = Some(to_filter);
    let mut from_filter = Some(from_filter);
    let mut input_buf = PageBuf::new(CHUNK);
    let pending = input_buf.get();
    let (mut start, mut end) = (0, 0);
    let mut output_buf = PageBuf::new(CHUNK);
    let output = output_buf.get();
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
        // Stdin may block (a terminal, a pipe): it is read at most once per poll, and only
        // when poll said it was ready; what was read goes to the filter at once.
        let mut stdin_ready = input_ready && start == end;
        let mut feeding = input_ready;
        while feeding {
            let Some(in_fd) = to_filter.as_ref() else {
                break;
            };
            if start < end {
                match nix::unistd::write(in_fd, &pending[start..end]) {
                    Ok(n) => start += n,
                    Err(Errno::EAGAIN | Errno::EINTR) => feeding = false,
                    // The filter closed its input: it wants no more.
                    Err(Errno::EPIPE) => to_filter = None,
                    Err(err) => return Err(err),
                }
            } else if stdin_ready {
                stdin_ready = false;
                match nix::unistd::read(stdin.as_fd(), pending) {
                    Ok(0) => to_filter = None,
                    Ok(n) => (start, end) = (0, n),
                    Err(Errno::EAGAIN | Errno::EINTR) => {}
                    Err(err) => return Err(err),
                }
            } else {
                feeding = false;
            }
        }
        // The filter's output is non-blocking: drain it.
        if output_ready {
            loop {
                match nix::unistd::read(out_fd, output) {
                    Ok(0) => {
                        from_filter = None;
                        break;
                    }
                    Ok(n) => write_stdout(&output[..n])?,
                    Err(Errno::EAGAIN | Errno::EINTR) => break,
                    Err(err) => return Err(err),
                }
            }
        }
    }
    Ok(())
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
