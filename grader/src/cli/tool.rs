//! `grader tool NAME ARGS…` (hidden): a check's helper tool, run by the checks themselves.

use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// The tool's name.
    name: String,
    /// Its arguments.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    args: Vec<String>,
}

pub fn run(Args { name, args }: Args) -> ExitCode {
    // The grader's helpers are not the programs' to trace or read, even under the same user
    // (the copy they run from is execute-only, which also makes them so).
    let _ = nix::sys::prctl::set_dumpable(false);
    match grader::assignments::run_tool(&name, &args) {
        Some(code) => code,
        None => {
            eprintln!("grader: no tool `{name}`");
            ExitCode::from(2)
        }
    }
}
