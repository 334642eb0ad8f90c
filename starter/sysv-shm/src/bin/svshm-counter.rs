//! `svshm-counter`: see `specs/sysv-shm.md` §4.

use std::process::ExitCode;

use sysv_shm::counter;

fn main() -> ExitCode {
    sysv_shm::main_with("svshm-counter", counter::SYNOPSIS, counter::run)
}
