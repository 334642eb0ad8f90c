//! `sem-pingpong ping|pong NAME ROUNDS [--timeout-ms MS]`: see `specs/semaphores.md` §2.

use std::process::ExitCode;

use semaphores::pingpong;

fn main() -> ExitCode {
    semaphores::main_with("sem-pingpong", pingpong::SYNOPSIS, pingpong::run)
}
