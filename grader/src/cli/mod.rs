//! The grader's subcommands: one module each, with its own arguments (`clap`), and the
//! dispatcher that enters the isolation a subcommand needs before any thread starts.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use grader::{assignments, isolation, run};

mod batch;
mod build_cmd;
mod doctor_cmd;
mod grade;
mod list;
mod sandbox;
mod starter;
mod stream;
mod tool;
#[cfg(feature = "instructor")]
mod validate;

#[derive(Parser)]
#[command(name = "grader", version, about = "IPC Lab's grader")]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Builds an implementation and grades it.
    Grade(grade::Args),
    /// Grades every submission folder under DIR, a few at a time, and writes a CSV of scores.
    Batch(batch::Args),
    #[cfg(feature = "instructor")]
    /// Grades every mutant with all the checks of its assignment and prints a table; fails if
    /// a mutant passes everything or a check it names, or if a check fails no mutant.
    Validate(validate::Args),
    /// Lists the assignments and their checks.
    List,
    /// Checks this machine before grading: tools, the isolation `grade` will use, IPC limits
    /// against what the checks need, and your stale IPC objects (removed only with --clean).
    Doctor(doctor_cmd::Args),
    /// Runs a build in the build sandbox (used by the grader itself; SPEC is JSON).
    #[command(hide = true)]
    Sandbox(sandbox::Args),
    /// Builds an implementation as `grade` does and copies its binaries into a folder (for
    /// `make bench-programs`).
    #[command(hide = true)]
    Build(build_cmd::Args),
    /// Runs a check's helper tool (used by the checks themselves).
    #[command(hide = true)]
    Tool(tool::Args),
    /// Writes the generated stream a check fed to stdin (`--seed S --len N`), for the recipe
    /// that reproduces a failure.
    #[command(hide = true)]
    Stream(stream::Args),
    /// Generates `starter/` from `solution/` (its marked regions become `todo!()` stubs).
    Starter(starter::Args),
}

/// Runs the subcommand `cli` names and returns the grader's exit status.
pub fn main(cli: Cli) -> ExitCode {
    let isolate = match &cli.command {
        Command::Grade(args) => args.isolation_mode(),
        Command::Doctor(args) => args.isolation_mode(),
        Command::List
        | Command::Starter(_)
        | Command::Tool(_)
        | Command::Stream(_)
        | Command::Batch(_)
        | Command::Build(_)
        | Command::Sandbox(_) => isolation::Mode::None,
        // Each mutant is graded by a grader process of its own, which isolates itself.
        #[cfg(feature = "instructor")]
        Command::Validate(_) => isolation::Mode::None,
    };
    // Before any thread starts: entering a mount namespace needs a single-threaded process.
    let isolation = match isolation::enter(isolate) {
        Ok(isolation) => isolation,
        Err(e) => {
            eprintln!("grader: {e}");
            return ExitCode::from(2);
        }
    };
    if let Command::Sandbox(args) = &cli.command {
        // A fresh process of one thread, as the sandbox needs: nothing else runs first.
        return sandbox::run(args);
    }
    run::init();
    match cli.command {
        Command::Sandbox(_) => unreachable!("handled above"),
        #[cfg(feature = "instructor")]
        Command::Validate(args) => validate::run(args),
        Command::Doctor(args) => doctor_cmd::run(args, isolation),
        Command::List => list::run(),
        Command::Batch(args) => batch::run(args),
        Command::Build(args) => build_cmd::run(args),
        Command::Tool(args) => tool::run(args),
        Command::Stream(args) => stream::run(args),
        Command::Starter(args) => starter::run(args),
        Command::Grade(args) => grade::run(args, isolate, isolation),
    }
}

/// Refuses names that are no assignment, with the list of those that are.
fn known_assignments(wanted: &[String]) -> Result<(), ExitCode> {
    let known = assignments::names();
    match wanted.iter().find(|w| !known.contains(&w.as_str())) {
        Some(bad) => {
            eprintln!(
                "grader: unknown assignment `{bad}`; the assignments are: {}",
                known.join(", ")
            );
            Err(ExitCode::from(2))
        }
        None => Ok(()),
    }
}
