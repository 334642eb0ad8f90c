//! `svshm-consumer`: see `specs/sysv-shm.md` §5.

use std::process::ExitCode;

use sysv_shm::transfer::{self, Role};

fn main() -> ExitCode {
    sysv_shm::main_with("svshm-consumer", transfer::SYNOPSIS, |args| {
        transfer::run(Role::Consumer, args)
    })
}
