//! `grader sandbox SPEC` (hidden): runs a build in the build sandbox; the grader runs itself so.

use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// What to run and how (`grader::sandbox::Spec`).
    spec: String,
}

pub fn run(args: &Args) -> ExitCode {
    let code = grader::sandbox::launch(&args.spec);
    ExitCode::from(u8::try_from(code).unwrap_or(255))
}
