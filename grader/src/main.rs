//! The `grader` command: see `grader --help`. One module of `cli/` per subcommand, each with
//! its own arguments; this file only parses and dispatches.

use std::process::ExitCode;

use clap::Parser;

mod cli;

fn main() -> ExitCode {
    cli::main(cli::Cli::parse())
}
