//! `pshm-send [--ring BYTES] [--timeout MS] (NAME | --file PATH)`: stdin into the channel.
//! See `specs/posix-shm.md` §2.

use std::process::ExitCode;

use posix_shm::cli::{self, Role};

fn main() -> ExitCode {
    posix_shm::main_with("pshm-send", cli::SYNOPSIS, |args| {
        cli::run(Role::Sender, args)
    })
}
