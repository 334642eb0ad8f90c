//! `grader starter`: generates `starter/` from `solution/`, or (`--check`) lists the drift.

use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// Only compare: exit 1 and list the files where the starter differs.
    #[arg(long)]
    check: bool,
    /// The solution workspace.
    #[arg(long, default_value = "solution")]
    solution: PathBuf,
    /// The starter workspace.
    #[arg(long, default_value = "starter")]
    starter: PathBuf,
}

pub fn run(
    Args {
        check,
        solution,
        starter,
    }: Args,
) -> ExitCode {
    if !check {
        return match grader::starter::write(&solution, &starter) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("grader: {e:#}");
                ExitCode::from(2)
            }
        };
    }
    match grader::starter::drift(&solution, &starter) {
        Ok(problems) if problems.is_empty() => ExitCode::SUCCESS,
        Ok(problems) => {
            eprintln!(
                "grader: {} differs from what {} generates (run `make starter`):",
                starter.display(),
                solution.display()
            );
            for p in problems {
                eprintln!("  {p}");
            }
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("grader: {e:#}");
            ExitCode::from(2)
        }
    }
}
