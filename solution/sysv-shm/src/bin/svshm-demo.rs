//! `svshm-demo`: see `specs/sysv-shm.md` §3.

use std::process::ExitCode;

use sysv_shm::demo;

fn main() -> ExitCode {
    sysv_shm::main_with("svshm-demo", demo::SYNOPSIS, demo::run)
}
