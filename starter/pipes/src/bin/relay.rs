//! `relay CMD [ARG...]` — see `specs/pipes.md` §3.
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    pipes::relay::main(&args)
}
