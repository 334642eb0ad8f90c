//! `msgq-client [--id N] [--timeout MS] [--urgent] PATH COMMAND`: see specs/msgq.md §4.

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    msgq::client::run(&args)
}
