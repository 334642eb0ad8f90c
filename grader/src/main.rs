//! The `grader` command: see `grader --help`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use grader::{assignments, build, grade, isolation, report::Report, run};

#[derive(Parser)]
#[command(name = "grader", version, about = "IPC Lab's grader")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum IsolationArg {
    Auto,
    None,
}

#[derive(Subcommand)]
enum Command {
    /// Builds an implementation and grades it.
    Grade {
        /// The implementation folder (a workspace shaped like `starter/`).
        #[arg(default_value = "starter")]
        implementation: PathBuf,
        /// Grade only this assignment (repeatable); all when omitted.
        #[arg(short = 'a', long = "assignment", value_name = "NAME")]
        assignments: Vec<String>,
        /// Run only the checks whose names contain this text (repeatable).
        #[arg(long, value_name = "TEXT")]
        only: Vec<String>,
        /// Also write Gradescope's results.json here.
        #[arg(long, value_name = "FILE")]
        json: Option<PathBuf>,
        /// Exit 1 unless every check earned every point (for `make check-solution`).
        #[arg(long)]
        require_full: bool,
        /// Multiply every time limit and timing bound (for slow machines).
        #[arg(long, default_value_t = 1.0, value_name = "FACTOR")]
        time_scale: f64,
        /// Seed of the generated test data.
        #[arg(long, default_value_t = 0x1bc_1ab)]
        seed: u64,
        /// Show details under passing checks too.
        #[arg(short, long)]
        verbose: bool,
        /// `auto`: private IPC, mount and per-check PID namespaces and an unprivileged user
        /// where permitted; `none`: the machine's namespaces and the grader's user.
        #[arg(long, value_enum, default_value_t = IsolationArg::Auto)]
        isolation: IsolationArg,
        /// Run each check N times; a check whose verdict changes says "failed k of n runs".
        #[arg(long, default_value_t = 1, value_name = "N")]
        repeat: u32,
        /// Where builds and binaries are kept [default: the kit's target/ipc-lab].
        #[arg(long, value_name = "DIR")]
        work_dir: Option<PathBuf>,
    },
    /// Grades every mutant with all the checks of its assignment and prints a table; fails if
    /// a mutant passes everything or a check it names, or if a check fails no mutant.
    Validate {
        /// Only this assignment (repeatable); all when omitted.
        #[arg(short = 'a', long = "assignment", value_name = "NAME")]
        assignments: Vec<String>,
        /// Multiply every time limit and timing bound (for slow machines).
        #[arg(long, default_value_t = 1.0, value_name = "FACTOR")]
        time_scale: f64,
    },
    /// Lists the assignments and their checks.
    List,
    /// Runs a check's helper tool (used by the checks themselves).
    #[command(hide = true)]
    Tool {
        /// The tool's name.
        name: String,
        /// Its arguments.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Generates `starter/` from `solution/` (its marked regions become `todo!()` stubs).
    Starter {
        /// Only compare: exit 1 and list the files where the starter differs.
        #[arg(long)]
        check: bool,
        /// The solution workspace.
        #[arg(long, default_value = "solution")]
        solution: PathBuf,
        /// The starter workspace.
        #[arg(long, default_value = "starter")]
        starter: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let isolate = match &cli.command {
        Command::Grade { isolation, .. } => *isolation == IsolationArg::Auto,
        Command::Validate { .. } => true,
        Command::List | Command::Starter { .. } | Command::Tool { .. } => false,
    };
    // Before any thread starts: entering a mount namespace needs a single-threaded process.
    let isolation = isolation::enter(isolate);
    run::init();
    match cli.command {
        Command::Validate {
            assignments: wanted,
            time_scale,
        } => validate(&wanted, time_scale, isolation),
        Command::List => {
            for a in assignments::all() {
                let total: u32 = a.checks.iter().map(|c| c.points).sum();
                println!("{} — {} ({total} points)", a.name, a.title);
                for c in &a.checks {
                    println!("  {:>2}  {:<22} {}", c.points, c.name, c.about);
                }
            }
            ExitCode::SUCCESS
        }
        Command::Tool { name, args } => match assignments::run_tool(&name, &args) {
            Some(code) => code,
            None => {
                eprintln!("grader: no tool `{name}`");
                ExitCode::from(2)
            }
        },
        Command::Starter {
            check,
            solution,
            starter,
        } => {
            if check {
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
            } else if let Err(e) = grader::starter::write(&solution, &starter) {
                eprintln!("grader: {e:#}");
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            }
        }
        Command::Grade {
            implementation,
            assignments: wanted,
            only,
            json,
            require_full,
            time_scale,
            seed,
            verbose,
            work_dir,
            repeat,
            isolation: _,
        } => {
            let known = assignments::names();
            if let Some(bad) = wanted.iter().find(|w| !known.contains(&w.as_str())) {
                eprintln!(
                    "grader: unknown assignment `{bad}`; the assignments are: {}",
                    known.join(", ")
                );
                return ExitCode::from(2);
            }
            if !(time_scale > 0.0 && time_scale.is_finite()) {
                eprintln!("grader: --time-scale must be a positive number, got {time_scale}");
                return ExitCode::from(2);
            }
            let work = work_dir.unwrap_or_else(grade::default_work_dir);
            let staged = match build::stage(&implementation, &work) {
                Ok(staged) => staged,
                Err(e) => {
                    eprintln!("grader: {e:#}");
                    return ExitCode::from(2);
                }
            };
            let tool = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("grader"));
            let options = grade::Options {
                time_scale,
                seed,
                only,
                tool,
                isolation,
                repeat,
            };
            let mut report = Report {
                implementation: implementation.display().to_string(),
                isolation,
                assignments: Vec::new(),
            };
            for a in assignments::all() {
                if wanted.is_empty() || wanted.iter().any(|w| w == a.name) {
                    eprintln!("grader: building and grading {} …", a.name);
                    report.assignments.push(grade::grade(&staged, &a, &options));
                }
            }
            print!("{}", report.human(verbose));
            if let Some(path) = json {
                let text = serde_json::to_string_pretty(&report.gradescope())
                    .expect("the report serialises");
                if let Err(e) = std::fs::write(&path, text + "\n") {
                    eprintln!("grader: cannot write {}: {e}", path.display());
                    return ExitCode::from(2);
                }
            }
            if require_full && report.score() < report.max_score() {
                eprintln!(
                    "grader: {}/{} — not full marks",
                    report.score(),
                    report.max_score()
                );
                return ExitCode::FAILURE;
            }
            ExitCode::SUCCESS
        }
    }
}

/// `grader validate`: every mutant against every check of its assignment.
fn validate(wanted: &[String], time_scale: f64, isolation: isolation::Isolation) -> ExitCode {
    let kit = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap_or(std::path::Path::new("."))
        .to_path_buf();
    let work = grade::default_work_dir();
    let options = grade::Options {
        time_scale,
        seed: 0x1bc_1ab,
        only: Vec::new(),
        tool: std::env::current_exe().unwrap_or_else(|_| PathBuf::from("grader")),
        isolation,
        repeat: 1,
    };
    let chosen: Vec<_> = assignments::all()
        .into_iter()
        .filter(|a| wanted.is_empty() || wanted.iter().any(|w| w == a.name))
        .collect();
    let mut rows = Vec::new();
    let mut problems = Vec::new();
    for a in chosen.iter().filter(|a| !a.checks.is_empty()) {
        eprintln!("grader: grading the mutants of {} …", a.name);
        match grader::validate::assignment(&kit, &work, a, &options) {
            Ok(found) => rows.extend(found),
            Err(e) => problems.push(format!("{}: {e:#}", a.name)),
        }
    }
    let (table, found) = grader::validate::table(&rows, &chosen);
    problems.extend(found);
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
