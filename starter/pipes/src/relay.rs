//! `relay`: a coprocess fed through one pipe and read back through another (spec §3,
//! lesson §4–5).
//!
//! A filter that reads everything before it writes (`sort`, `wc`) needs its input closed; one
//! that writes as it reads (`tr`, `cat`) fills its output pipe and blocks if nobody reads it.
//! So the relay never blocks on one pipe while the other could move: it waits in `poll` for
//! whichever end is ready, with the filter's ends non-blocking, and loops on partial writes.

use std::process::ExitCode;

use crate::pipe::Command;

/// The program's name in its messages.
const PROGRAM: &str = "relay";
/// What `relay` prints on stderr, with exit status 2, for a malformed command line.
pub const USAGE: &str = "usage: relay CMD [ARG...]";
/// Bytes read from stdin or from the filter in one call.
pub const CHUNK: usize = 128 * 1024;

/// Starts the filter with a pipe on each side, relays stdin to it and its output to stdout
/// until both streams end, then returns the filter's status (spec §3.2).
pub fn run(filter: &Command) -> nix::Result<u8> {
    let _ = filter;
    todo!("specs/pipes.md §3.2: start the filter, then move bytes both ways without deadlock")
}

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
