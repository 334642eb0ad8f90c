//! `sem-ring KEYPATH INDEX K ROUNDS [--timeout-ms MS]`: see `specs/semaphores.md` §3.

use std::process::ExitCode;

use semaphores::ring;

fn main() -> ExitCode {
    semaphores::main_with("sem-ring", ring::SYNOPSIS, ring::run)
}
