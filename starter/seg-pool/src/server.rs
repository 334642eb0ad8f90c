//! `segpool-server` (specs/seg-pool.md §3): creates the queue and the pool, puts every
//! segment on the free list, writes out each chunk a client hands in and frees its segment,
//! and once CLIENTS clients are done removes the queue and the segments.

use std::process::ExitCode;

use crate::cli::{self, SERVER_USAGE, ServerArgs};

const ME: &str = "segpool-server";

/// The server's `main`: parses the command line, serves, and returns the exit status.
pub fn run(args: &[String]) -> ExitCode {
    let args = match cli::parse_server(args) {
        Ok(args) => args,
        Err(message) => return cli::usage(ME, SERVER_USAGE, message),
    };
    match serve(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err((status, message)) => cli::fail(ME, status, message),
    }
}

/// Serves as §3.2–3.3 say; an error is the exit status (1 or 3) and its message. Whatever
/// this run created is removed on every path.
pub fn serve(args: &ServerArgs) -> Result<(), (u8, String)> {
    let _ = &args;
    todo!("specs/seg-pool.md §3.2: create the queue and the pool, serve, remove")
}
