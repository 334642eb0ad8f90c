//! `pipeline CMD [ARG...] ['|' CMD [ARG...]]...` — see `specs/pipes.md` §2.
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    pipes::pipeline::main(&args)
}
