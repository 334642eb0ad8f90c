//! `segpool-client` (specs/seg-pool.md §4): takes a free segment, fills it with a chunk of
//! standard input, hands it to the server with the chunk's length, and again until end of
//! input; then tells the server it is done.

use std::process::ExitCode;

use crate::cli::{self, CLIENT_USAGE, ClientArgs};

const ME: &str = "segpool-client";

/// The client's `main`: parses the command line, sends its input, and returns the exit status.
pub fn run(args: &[String]) -> ExitCode {
    let args = match cli::parse_client(args) {
        Ok(args) => args,
        Err(message) => return cli::usage(ME, CLIENT_USAGE, message),
    };
    match send_input(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err((status, message)) => cli::fail(ME, status, message),
    }
}

/// Sends standard input as §4.2 says; an error is the exit status (1 or 3) and its message.
pub fn send_input(args: &ClientArgs) -> Result<(), (u8, String)> {
    let _ = &args;
    todo!("specs/seg-pool.md §4.2: take, fill and hand in segments")
}
