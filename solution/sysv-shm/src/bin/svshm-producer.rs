//! `svshm-producer`: see `specs/sysv-shm.md` §5.

use std::process::ExitCode;

use sysv_shm::transfer::{self, Role};

fn main() -> ExitCode {
    sysv_shm::main_with("svshm-producer", transfer::SYNOPSIS, |args| {
        transfer::run(Role::Producer, args)
    })
}
