//! `pshm-recv [--ring BYTES] [--timeout MS] (NAME | --file PATH)`: the channel to stdout.
//! See `specs/posix-shm.md` §2.

use std::process::ExitCode;

use posix_shm::cli::{self, Role};

fn main() -> ExitCode {
    posix_shm::main_with("pshm-recv", cli::SYNOPSIS, |args| {
        cli::run(Role::Receiver, args)
    })
}
