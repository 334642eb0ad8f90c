//! `grader grade IMPL`: builds an implementation in the grader's copy of it and grades it,
//! printing the report as it goes and writing the results files asked for.

use std::path::PathBuf;
use std::process::ExitCode;

use grader::{assignments, build, grade, isolation, report::Report, run};

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum IsolationArg {
    Auto,
    Strict,
    None,
}

#[derive(clap::Args)]
pub struct Args {
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
    /// Also write JUnit XML here (for CI test views).
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
    /// Also write GitHub Classroom's runner result JSON here.
    #[arg(long, value_name = "FILE")]
    classroom: Option<PathBuf>,
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
    /// `auto`: full isolation where the machine permits it (private IPC and mount
    /// namespaces and /dev/shm, a PID namespace per check, programs run as `nobody` when
    /// the grader is root), else what it permits (snapshot and diff, process groups);
    /// `strict`: the same, but exit 2 where full isolation is not available; `none`: the
    /// machine's namespaces and the grader's user. The report's header says which ran.
    #[arg(long, value_enum, default_value_t = IsolationArg::Auto)]
    isolation: IsolationArg,
    /// Run each check N times; a check whose verdict changes says "failed k of n runs".
    #[arg(long, default_value_t = 1, value_name = "N")]
    repeat: u32,
    /// Run every check, even one whose prerequisite did not pass (by default such a check
    /// is reported SKIPPED with 0 points: it cannot pass before its prerequisite does).
    #[arg(long, alias = "run-all")]
    no_skip: bool,
    /// Where builds and binaries are kept [default: the kit's target/ipc-lab].
    #[arg(long, value_name = "DIR")]
    work_dir: Option<PathBuf>,
    /// A line put above the report and at the top of results.json's `output` (the
    /// Gradescope autograder's note of changed files).
    #[arg(long, value_name = "TEXT")]
    notice: Option<String>,
    /// Remove this submission's build folder (WORK/builds/<slug>) at the end (`batch`
    /// passes it unless --keep-builds).
    #[arg(long)]
    discard_build: bool,
}

impl Args {
    /// The isolation `--isolation` asks for.
    pub fn isolation_mode(&self) -> isolation::Mode {
        match self.isolation {
            IsolationArg::Auto => isolation::Mode::Auto,
            IsolationArg::Strict => isolation::Mode::Strict,
            IsolationArg::None => isolation::Mode::None,
        }
    }
}

/// Grades as `args` asks, in the isolation entered for it (`isolate`: the one asked).
pub fn run(args: Args, isolate: isolation::Mode, isolation: isolation::Isolation) -> ExitCode {
    let Args {
        implementation,
        assignments: wanted,
        only,
        json,
        junit,
        classroom,
        require_full,
        time_scale,
        seed,
        verbose,
        work_dir,
        repeat,
        no_skip,
        notice,
        discard_build,
        isolation: _,
    } = args;
    if let Err(code) = super::known_assignments(&wanted) {
        return code;
    }
    let problems: Vec<String> = assignments::all()
        .iter()
        .flat_map(|a| a.prerequisite_problems())
        .collect();
    if !problems.is_empty() {
        for p in &problems {
            eprintln!("grader: {p}");
        }
        return ExitCode::from(2);
    }
    if !(time_scale > 0.0 && time_scale.is_finite()) {
        eprintln!("grader: --time-scale must be a positive number, got {time_scale}");
        return ExitCode::from(2);
    }
    if let Some(missing) = not_an_implementation(&implementation) {
        eprintln!("grader: {missing}");
        return ExitCode::from(2);
    }
    let caught = match catch_interruptions() {
        Ok(caught) => caught,
        Err(e) => {
            eprintln!("grader: cannot catch SIGINT and SIGTERM: {e}");
            return ExitCode::from(2);
        }
    };
    let work = work_dir.unwrap_or_else(grade::default_work_dir);
    // As root, a user of this grading's own, held while it grades: the build runs as it
    // in every mode (a build as root could leave its sandbox), the programs too where
    // the isolation runs them as another user.
    let root = nix::unistd::geteuid().is_root();
    let user = match root.then(grader::users::take).transpose() {
        Ok(user) => user,
        Err(e) => {
            eprintln!("grader: cannot take a user for this grading: {e}");
            return ExitCode::from(2);
        }
    };
    let own = user.as_ref().map(|u| (u.uid, u.uid));
    let isolation = isolation::Isolation {
        user: isolation.user.and(own),
        ..isolation
    };
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(e) => {
            eprintln!("grader: cannot find the grader's own executable: {e}");
            return ExitCode::from(2);
        }
    };
    let programs = match build::Programs::new(&exe, grader::faults::library().as_deref()) {
        Ok(programs) => programs,
        Err(e) => {
            eprintln!("grader: {e:#}");
            return ExitCode::from(2);
        }
    };
    grader::faults::use_library(programs.library.clone());
    let setup = build::BuildSetup {
        user: own,
        require_sandbox: isolate == isolation::Mode::Strict,
        time_scale,
    };
    let staged = match build::stage(&implementation, &work, setup) {
        Ok(staged) => staged,
        Err(e) => {
            eprintln!("grader: {e:#}");
            return ExitCode::from(2);
        }
    };
    let library: Vec<&std::path::Path> = programs.library.as_deref().into_iter().collect();
    if let Err(why) = isolation.reaching(&[programs.path(), &programs.tool], &library) {
        eprintln!(
            "grader: {why}: the programs' user must reach the grading's folder {} \
             (is the temporary folder's mode 1777?); the grader never runs programs \
             as root in its place",
            programs.path().display()
        );
        return ExitCode::from(2);
    }
    let tool = programs.tool.clone();
    let options = grade::Options {
        time_scale,
        seed,
        only,
        tool,
        isolation,
        repeat,
        skip: !no_skip,
    };
    let mut report = Report {
        implementation: implementation.display().to_string(),
        isolation,
        build: String::new(),
        assignments: Vec::new(),
    };
    let chosen: Vec<_> = assignments::all()
        .into_iter()
        .filter(|a| wanted.is_empty() || wanted.iter().any(|w| w == a.name))
        .collect();
    let last_run_path = grader::report::LastRun::path(&work, &implementation);
    let previous = grader::report::LastRun::load(&last_run_path);
    let mut live = Live::new(
        verbose,
        previous.clone(),
        grader::report::width(chosen.iter().flat_map(|a| {
            grade::selected(a, &options)
                .into_iter()
                .map(|c| c.name)
                .collect::<Vec<_>>()
        })),
    );
    for a in &chosen {
        let mut on = |event: grade::Event| live.show(&event, &report, &staged, a.name);
        let result = grade::grade_live(&staged, &programs, &work, a, &options, &mut on);
        report.assignments.push(result);
        live.end_section(report.assignments.last().expect("just pushed"));
    }
    report.build = staged.describe();
    if discard_build && let Err(e) = staged.discard() {
        eprintln!("grader: {e:#}");
    }
    if let Some(notice) = &notice {
        println!("NOTICE: {notice}\n");
    }
    live.finish(&report);
    let now = previous.clone().unwrap_or_default().updated(&report);
    if let Err(e) = now.save(&last_run_path) {
        eprintln!(
            "grader: cannot keep this run's statuses in {}: {e}",
            last_run_path.display()
        );
    }
    let interruption = caught.load(std::sync::atomic::Ordering::SeqCst);
    if interruption != 0 {
        eprintln!(
            "grader: interrupted by {}: the checks above ran; no results file was written",
            run::signal_name(interruption)
        );
        return ExitCode::from(128 + interruption as u8);
    }
    let classroom_json = classroom
        .as_ref()
        .map(|_| report.classroom().to_string() + "\n");
    let gradescope = json.as_ref().map(|_| {
        let mut results = report.gradescope();
        if let Some(notice) = &notice {
            results.output = format!("{notice}\n\n{}", results.output);
        }
        serde_json::to_string_pretty(&results).expect("the report serialises") + "\n"
    });
    let outputs = [
        (json, gradescope),
        (junit.clone(), junit.as_ref().map(|_| report.junit())),
        (classroom, classroom_json),
    ];
    for (path, text) in outputs {
        if let (Some(path), Some(text)) = (path, text)
            && let Err(e) = std::fs::write(&path, text)
        {
            eprintln!("grader: cannot write {}: {e}", path.display());
            return ExitCode::from(2);
        }
    }
    if std::env::var_os("GITHUB_ACTIONS").is_some() {
        for line in report.annotations() {
            println!("{line}");
        }
        if let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY") {
            use std::io::Write;
            let appended = std::fs::OpenOptions::new()
                .append(true)
                .create(true)
                .open(&path)
                .and_then(|mut f| f.write_all(report.markdown().as_bytes()));
            if let Err(e) = appended {
                eprintln!("grader: cannot write the step summary: {e}");
            }
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

/// Why `implementation` cannot be an implementation folder: it exists but holds neither a
/// `Cargo.toml` nor a `Makefile` (what else is wrong, the staging says).
fn not_an_implementation(implementation: &std::path::Path) -> Option<String> {
    let has = |name: &str| implementation.join(name).exists();
    let build_files = ["Cargo.toml", "Makefile", "makefile", "GNUmakefile"];
    (implementation.is_dir() && !build_files.iter().any(|f| has(f))).then(|| {
        format!(
            "{} has no Cargo.toml and no Makefile: it is not an implementation folder (a Cargo \
             workspace shaped like starter/, with a package per assignment, or a folder whose \
             Makefile builds each assignment's programs into bin/); nothing was graded",
            implementation.display()
        )
    })
}

/// Catches SIGINT and SIGTERM for the rest of the grading: the first one stops it (the check
/// running is abandoned: every process the grader started is killed, again and again until the
/// grader exits; the checks not run are reported so); a second one exits at once. Returns where
/// the signal's number is kept (0 until one comes).
fn catch_interruptions() -> std::io::Result<std::sync::Arc<std::sync::atomic::AtomicI32>> {
    use std::sync::atomic::{AtomicI32, Ordering};
    use std::time::Duration;
    grade::catch_termination()?;
    let caught = std::sync::Arc::new(AtomicI32::new(0));
    let seen = caught.clone();
    std::thread::spawn(move || {
        let signal = loop {
            if let Some(signal) = grade::termination() {
                break signal;
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        seen.store(signal, Ordering::SeqCst);
        grade::interrupt();
        eprintln!(
            "\ngrader: {}: stopping; the report so far follows (again to quit at once)",
            run::signal_name(signal)
        );
        loop {
            let me = std::process::id() as i32;
            for pid in run::descendants(me) {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    });
    Ok(caught)
}

/// Prints the report as the grading goes: each row as its check finishes, on stdout when it
/// is a terminal, else on stderr when that is one (stdout then gets the report at the end,
/// exactly as it always has), else nowhere. The builds' progress goes to stderr.
struct Live {
    out: Option<LiveTo>,
    style: grader::report::Style,
    width: usize,
    /// What it printed of the report, to print only the rest at the end.
    printed: String,
    /// The statuses of the last run, to say what changed.
    previous: Option<grader::report::LastRun>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum LiveTo {
    Stdout,
    Stderr,
}

impl Live {
    fn new(verbose: bool, previous: Option<grader::report::LastRun>, width: usize) -> Live {
        use std::io::IsTerminal;
        let out = if std::io::stdout().is_terminal() {
            Some(LiveTo::Stdout)
        } else if std::io::stderr().is_terminal() {
            Some(LiveTo::Stderr)
        } else {
            None
        };
        let colour = out.is_some() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
        Live {
            out,
            style: grader::report::Style {
                verbose,
                colour,
                previous: if out.is_some() {
                    previous.clone()
                } else {
                    None
                },
            },
            width,
            printed: String::new(),
            previous,
        }
    }

    fn print(&mut self, text: &str) {
        use std::io::Write;
        match self.out {
            Some(LiveTo::Stdout) => {
                print!("{text}");
                let _ = std::io::stdout().flush();
            }
            Some(LiveTo::Stderr) => eprint!("{text}"),
            None => return,
        }
        self.printed.push_str(text);
    }

    fn show(&mut self, event: &grade::Event, report: &Report, staged: &build::Staged, name: &str) {
        match event {
            grade::Event::Building => {
                eprint!("grader: building {name} … ");
            }
            grade::Event::Built { elapsed, error } => {
                let secs = grader::message::fmt_secs(*elapsed);
                match error {
                    None => eprintln!("done in {secs} s"),
                    Some(_) => eprintln!("FAILED after {secs} s"),
                }
            }
            grade::Event::Section(a) => {
                if self.printed.is_empty() {
                    let header = Report {
                        build: staged.describe(),
                        assignments: Vec::new(),
                        ..report.clone()
                    }
                    .header();
                    self.print(&header);
                }
                let text = grader::report::section_start(a, &report.implementation, &self.style);
                self.print(&text);
            }
            grade::Event::Check(a, c) => {
                let text = grader::report::row(&a.name, c, self.width, &self.style);
                self.print(&text);
            }
        }
    }

    fn end_section(&mut self, a: &grader::grade::AssignmentResult) {
        self.print(&grader::report::section_end(a));
    }

    /// Prints the rest of the report (all of it on stdout when stdout is not a terminal), then
    /// where to start and what changed since the last run.
    fn finish(&mut self, report: &Report) {
        let full = report.human_styled(&self.style);
        let mut extra = Vec::new();
        if let Some(previous) = &self.previous {
            extra.push(previous.summary(report));
        }
        if let Some(start) = report.start_here() {
            extra.push(start);
        }
        match self.out {
            Some(LiveTo::Stdout) => {
                match full.strip_prefix(self.printed.as_str()) {
                    Some(rest) => print!("{rest}"),
                    None => print!("\n{full}"),
                }
                if !extra.is_empty() {
                    println!("\n{}", extra.join("\n"));
                }
            }
            _ => {
                if self.out == Some(LiveTo::Stderr)
                    && let Some(rest) = full.strip_prefix(self.printed.as_str())
                {
                    eprint!("{rest}");
                }
                print!("{}", report.human(self.style.verbose));
                if !extra.is_empty() {
                    eprintln!("\n{}", extra.join("\n"));
                }
            }
        }
    }
}
