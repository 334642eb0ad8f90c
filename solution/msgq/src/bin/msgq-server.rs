//! `msgq-server [--id N] [--timeout MS] PATH`: see specs/msgq.md §5.

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    msgq::server::run(&args)
}
