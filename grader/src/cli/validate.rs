//! `grader validate`: every mutant against every check of its assignment, as a table.

use std::path::PathBuf;
use std::process::ExitCode;

use grader::{assignments, build, grade};

#[derive(clap::Args)]
pub struct Args {
    /// Only this assignment (repeatable); all when omitted.
    #[arg(short = 'a', long = "assignment", value_name = "NAME")]
    assignments: Vec<String>,
    /// Graders running at once (each mutant is graded by a grader process of its own).
    #[arg(long, default_value_t = 2)]
    jobs: usize,
    /// Multiply every time limit and timing bound (for slow machines).
    #[arg(long, default_value_t = 1.0, value_name = "FACTOR")]
    time_scale: f64,
}

pub fn run(
    Args {
        assignments: wanted,
        jobs,
        time_scale,
    }: Args,
) -> ExitCode {
    if let Err(code) = super::known_assignments(&wanted) {
        return code;
    }
    let Some(kit) = build::kit_root() else {
        eprintln!(
            "grader: cannot find the kit's folder (the one holding starter/Cargo.lock): run \
             the grader from it"
        );
        return ExitCode::FAILURE;
    };
    let work = grade::default_work_dir();
    let grader = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("grader"));
    let chosen: Vec<_> = assignments::all()
        .into_iter()
        .filter(|a| wanted.is_empty() || wanted.iter().any(|w| w == a.name))
        .collect();
    let options = grader::validate::Options {
        kit: &kit,
        work: &work,
        grader: &grader,
        jobs,
        grade_args: vec!["--time-scale".into(), time_scale.to_string()],
    };
    let rows = match grader::validate::run(&chosen, &options) {
        Ok(rows) => rows,
        Err(e) => {
            eprintln!("grader: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    let (table, problems) = grader::validate::table(&rows, &chosen);
    print!("{table}");
    for p in &problems {
        println!("PROBLEM: {p}");
    }
    if problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
