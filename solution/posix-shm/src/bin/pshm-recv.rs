//! `pshm-recv [--ring BYTES] [--timeout MS] (NAME | --file PATH)`: the channel to stdout.
//! See `specs/posix-shm.md` §2.

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    posix_shm::cli::run(posix_shm::cli::Role::Receiver, &args)
}
