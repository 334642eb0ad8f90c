//! `sem-mutex init|add|finish KEYPATH …`: see `specs/semaphores.md` §4.

use std::process::ExitCode;

use semaphores::mutex;

fn main() -> ExitCode {
    semaphores::main_with("sem-mutex", mutex::SYNOPSIS, mutex::run)
}
