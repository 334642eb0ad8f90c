//! `grader batch DIR`: every submission under DIR, each graded by a `grader grade` of its own,
//! a few at a time, into a CSV of scores.

use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// The folder holding one folder per submission.
    dir: PathBuf,
    /// Graders running at once.
    #[arg(long, default_value_t = 1)]
    jobs: usize,
    /// The CSV of scores (a row per submission, a column per assignment).
    #[arg(long, default_value = "grades.csv")]
    out: PathBuf,
    /// Where each submission's results.json goes [default: DIR's name + "-results"].
    #[arg(long, value_name = "DIR")]
    results: Option<PathBuf>,
    /// Grade again the submissions that already have results.
    #[arg(long)]
    force: bool,
    /// Grade only this assignment (repeatable).
    #[arg(short = 'a', long = "assignment", value_name = "NAME")]
    assignments: Vec<String>,
    /// Multiply every time limit and timing bound.
    #[arg(long, default_value_t = 1.0, value_name = "FACTOR")]
    time_scale: f64,
    /// Run only the checks whose names contain this text (repeatable).
    #[arg(long, value_name = "TEXT")]
    only: Vec<String>,
    /// Keep each submission's build folder under the work folder (by default removed
    /// once it is graded: about 60 MB each).
    #[arg(long)]
    keep_builds: bool,
    /// Where builds are made [default: the kit's target/ipc-lab].
    #[arg(long, value_name = "DIR")]
    work_dir: Option<PathBuf>,
}

pub fn run(args: Args) -> ExitCode {
    let Args {
        dir,
        jobs,
        out,
        results,
        force,
        assignments: wanted,
        time_scale,
        only,
        keep_builds,
        work_dir,
    } = args;
    if let Err(code) = super::known_assignments(&wanted) {
        return code;
    }
    let results = results.unwrap_or_else(|| {
        // `.` and `subs/..` have a name too: the folder's own.
        let name = dir
            .canonicalize()
            .unwrap_or_else(|_| dir.clone())
            .file_name()
            .map(|n| n.to_string_lossy().into_owned());
        PathBuf::from(format!(
            "{}-results",
            name.unwrap_or_else(|| "batch".into())
        ))
    });
    let mut grade_args = vec!["--time-scale".to_string(), time_scale.to_string()];
    for a in wanted {
        grade_args.extend(["-a".to_string(), a]);
    }
    for text in only {
        grade_args.extend(["--only".to_string(), text]);
    }
    if !keep_builds {
        grade_args.push("--discard-build".into());
    }
    if let Some(work) = work_dir {
        grade_args.push("--work-dir".into());
        grade_args.push(work.display().to_string());
    }
    let batch = grader::batch::Batch {
        submissions: dir,
        results,
        csv: out.clone(),
        jobs,
        force,
        grade_args,
    };
    match grader::batch::run(&batch) {
        Ok(summary) => {
            eprintln!(
                "grader: {}; scores in {}, every check in {}",
                summary.describe(),
                out.display(),
                summary.checks_csv.display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("grader: {e:#}");
            ExitCode::from(2)
        }
    }
}
