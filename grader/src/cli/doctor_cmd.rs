//! `grader doctor`: the machine and the user's stale IPC objects, before grading.

use std::process::ExitCode;

use grader::isolation;

#[derive(clap::Args)]
pub struct Args {
    /// Remove the stale objects listed: yours, not attached, not mapped or open by a
    /// running process. Asks first.
    #[arg(long)]
    clean: bool,
    /// With --clean: remove without asking (needed without a terminal).
    #[arg(long, requires = "clean")]
    yes: bool,
    /// Print, as JSON, the limits seen from inside the isolation `grade` enters.
    #[arg(long, hide = true, conflicts_with = "clean")]
    probe: bool,
}

impl Args {
    /// The probe looks from inside the isolation `grade` enters; the doctor itself, from the
    /// machine's namespaces.
    pub fn isolation_mode(&self) -> isolation::Mode {
        if self.probe {
            isolation::Mode::Auto
        } else {
            isolation::Mode::None
        }
    }
}

pub fn run(args: Args, isolation: isolation::Isolation) -> ExitCode {
    if args.probe {
        return grader::doctor::print_probe(isolation);
    }
    grader::doctor::run(grader::doctor::Options {
        clean: args.clean,
        yes: args.yes,
    })
}
