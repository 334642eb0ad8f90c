//! How an assignment declares its checks, and what a check sees while it runs.
//!
//! An assignment is a name, the package that builds it, its binaries and a list of checks.
//! A check is a name, points, a time limit, the lesson paragraphs it exercises, a one-line
//! summary, hints, and a function that runs processes through its [`Ctx`] and returns `Ok(())`
//! or a [`Failure`]. The runner ([`crate::grade`]) turns that result, the runs' facts and the
//! leaked objects into a verdict; checks never decide "timed out", "not implemented" or
//! "leaked" themselves.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::confine::Sandbox;
use crate::reproduce::{Process, Whose};
use crate::run::{self, Finished, Running, Spec};

/// One assignment: what to build and what to check.
pub struct Assignment {
    /// The name on the command line and in reports (`pipes`).
    pub name: &'static str,
    /// A title for the report.
    pub title: &'static str,
    /// The Cargo package that builds its binaries.
    pub package: &'static str,
    /// The binaries the checks run.
    pub binaries: &'static [&'static str],
    /// Its checks, in the order they run and are reported.
    pub checks: Vec<Check>,
    /// Helper programs of its checks, run as `grader tool NAME ARGS…` inside the check's
    /// processes (an independent client or server of a wire format, a probe's peer).
    pub tools: Vec<Tool>,
}

/// A helper program that a check runs as a process of its own: `grader tool NAME ARGS…`.
pub struct Tool {
    /// Unique across all assignments; prefix it with the assignment's name.
    pub name: &'static str,
    /// Its `main`, given the arguments after its name.
    pub run: fn(&[String]) -> std::process::ExitCode,
}

/// The function that carries out a check.
pub type CheckFn = Box<dyn Fn(&Ctx) -> Result<(), Failure> + Send + Sync>;

/// One check.
pub struct Check {
    /// Kebab-case, unique within the assignment.
    pub name: &'static str,
    /// Points for passing it.
    pub points: u32,
    /// Points lost when it leaves an IPC object behind (at most `points`).
    pub cleanup_points: u32,
    /// Time limit for everything the check runs, before the time scale.
    pub limit: Duration,
    /// The lesson paragraphs it exercises ("§5").
    pub lesson: &'static str,
    /// What it verifies, in one line.
    pub about: &'static str,
    /// What to look at when it times out.
    pub timeout_hint: &'static str,
    /// Who sees its result, and when (Gradescope's test visibility).
    pub visibility: Visibility,
    /// Checks of the same assignment it needs (see [`Check::after`]): declared earlier, and
    /// when one of them did not pass, this one is skipped.
    pub after: Vec<&'static str>,
    /// The check itself.
    pub run: CheckFn,
}

/// Who sees a check's result, and when: Gradescope's three test visibilities.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Visibility {
    /// Students see it at once (the default).
    #[default]
    Visible,
    /// Only instructors see it. Hidden checks are declared in an assignment's `hidden.rs`,
    /// compiled only with the grader's `instructor` feature, and never ship in the student
    /// release (README, "For instructors and TAs").
    Hidden,
    /// Students see it once the due date has passed.
    AfterDueDate,
}

impl Visibility {
    /// Whether students see the result at once.
    pub fn is_visible(&self) -> bool {
        *self == Visibility::Visible
    }

    /// The mark reports put beside a check students do not see at once (empty if they do).
    pub fn mark(&self) -> &'static str {
        match self {
            Visibility::Visible => "",
            Visibility::Hidden => "[hidden]",
            Visibility::AfterDueDate => "[after due date]",
        }
    }
}

impl Check {
    /// A check with one cleanup point and no timeout hint; refine with the builder methods.
    pub fn new(
        name: &'static str,
        points: u32,
        about: &'static str,
        run: impl Fn(&Ctx) -> Result<(), Failure> + Send + Sync + 'static,
    ) -> Check {
        Check {
            name,
            points,
            cleanup_points: 1.min(points),
            limit: Duration::from_secs(10),
            lesson: "",
            about,
            timeout_hint: "",
            visibility: Visibility::Visible,
            after: Vec::new(),
            run: Box::new(run),
        }
    }

    /// Sets the time limit.
    pub fn limit(mut self, limit: Duration) -> Check {
        self.limit = limit;
        self
    }

    /// Sets the lesson paragraphs.
    pub fn lesson(mut self, lesson: &'static str) -> Check {
        self.lesson = lesson;
        self
    }

    /// Sets the hint shown when the check times out.
    pub fn on_timeout(mut self, hint: &'static str) -> Check {
        self.timeout_hint = hint;
        self
    }

    /// Sets who sees the check's result, and when.
    pub fn visibility(mut self, visibility: Visibility) -> Check {
        self.visibility = visibility;
        self
    }

    /// Declares `prerequisite`, a check of the same assignment declared before this one: when
    /// it failed (any status but `PASS` and `LEAK`; not `ERROR`, the grader's own failure, nor
    /// `TODO` or `NO BUILD`, which this check then reports itself at once: see
    /// [`crate::grade::failed_prerequisite`]), this check is not run and is reported
    /// `SKIPPED`, with 0 points and a reason that names the prerequisite (`grader grade
    /// --no-skip` runs it all the same; `grader validate` always does).
    ///
    /// The fairness rule: a check may name a prerequisite only if it cannot pass when the
    /// prerequisite fails, because it runs the prerequisite's own scenario first, whole: the
    /// same runs, the same inputs, the same expectations (`stream-256mib` begins with exactly
    /// what `stream-one-byte` does). Then skipping it costs the student no point that running
    /// it could have earned. Running a part of the prerequisite's scenario is not enough: the
    /// prerequisite may fail in another part, and the dependent pass. (sysv-shm's
    /// `transfer-throughput` first moves 4 KiB through a 4 KiB ring, one of `transfer-sizes`'
    /// 36 transfers: its mutant `ring-position-masked`, right only for rings of a power of two,
    /// fails `transfer-sizes` at a 5000-byte ring and passes `transfer-throughput`, so that one
    /// names no prerequisite.)
    pub fn after(mut self, prerequisite: &'static str) -> Check {
        self.after.push(prerequisite);
        self
    }
}

impl Assignment {
    /// What is wrong with its checks' prerequisites ([`Check::after`]): each must name a
    /// check of this assignment declared before the one that names it (prerequisites run
    /// first). Empty when all is well; `grader grade` refuses to start otherwise.
    pub fn prerequisite_problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        for (at, check) in self.checks.iter().enumerate() {
            for &needed in &check.after {
                match self.checks.iter().position(|c| c.name == needed) {
                    Some(p) if p < at => {}
                    Some(_) => problems.push(format!(
                        "{}: `{}` needs `{needed}`, which is declared after it (a prerequisite \
                         runs first: declare it earlier)",
                        self.name, check.name
                    )),
                    None => problems.push(format!(
                        "{}: `{}` needs `{needed}`, which is no check of {}",
                        self.name, check.name, self.name
                    )),
                }
            }
        }
        problems
    }
}

/// Why a check failed: a one-line reason, and details (expected and actual, the command).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// One line, lowercase, stating the mismatch.
    pub reason: String,
    /// Longer text: EXPECTED / ACTUAL blocks, a hint.
    pub details: String,
    /// The command lines of the runs that failed, in order ([`Failure::command`]). The report
    /// shows them as the student can type them again, before the hint ([`crate::reproduce`]):
    /// a check writes no command text of its own.
    pub failed: Vec<String>,
    /// The grader's own part of the check failed (its probe, its peer), not the program: the
    /// verdict is `ERROR` and costs nothing ([`crate::outcome::decide`]).
    pub by_grader: bool,
}

impl Failure {
    /// A failure with a reason only.
    pub fn new(reason: impl Into<String>) -> Failure {
        Failure {
            reason: reason.into(),
            details: String::new(),
            failed: Vec::new(),
            by_grader: false,
        }
    }

    /// A failure of the grader's own part of the check (a probe that did not finish, a peer of
    /// the grader's that broke): reported as `ERROR`, retried once, and never the program's
    /// fault. Only for what the program cannot cause.
    pub fn grader(reason: impl Into<String>) -> Failure {
        Failure {
            by_grader: true,
            ..Failure::new(reason)
        }
    }

    /// Adds a paragraph of details (an empty one adds nothing).
    pub fn detail(mut self, text: impl AsRef<str>) -> Failure {
        if text.as_ref().trim().is_empty() {
            return self;
        }
        if !self.details.is_empty() {
            self.details.push('\n');
        }
        self.details.push_str(text.as_ref().trim_end());
        self.details.push('\n');
        self
    }

    /// Names `run` as one that failed: the report shows how to run it again.
    pub fn command(self, run: &Finished) -> Failure {
        self.ran(&run.command)
    }

    /// Names the runs with these command lines as failed ([`Failure::command`]), when they
    /// failed together.
    pub fn commands<S: AsRef<str>>(self, lines: impl IntoIterator<Item = S>) -> Failure {
        lines.into_iter().fold(self, |f, l| f.ran(l.as_ref()))
    }

    /// Names the run with this command line as failed (one that may not have started).
    pub fn ran(mut self, line: &str) -> Failure {
        if !self.failed.iter().any(|l| l == line) {
            self.failed.push(line.to_string());
        }
        self
    }
}

/// What a check sees: the binaries, a directory of its own, the grader's helper tool, its
/// deadline, and a record of every run it made.
pub struct Ctx {
    bins: BTreeMap<String, PathBuf>,
    dir: PathBuf,
    tool: PathBuf,
    deadline: Instant,
    limit: Duration,
    scale: f64,
    seed: u64,
    runs: RefCell<Vec<Finished>>,
    /// Every process started, in the order it started: the recipe to reproduce the check.
    processes: RefCell<Vec<Process>>,
    /// Started runs not yet waited for: their groups are ended when the check ends.
    unwaited: RefCell<Vec<i32>>,
    /// What the check saw that a passing report should say ([`Ctx::note`]).
    notes: RefCell<Vec<String>>,
    sandbox: Option<Sandbox>,
}

impl Ctx {
    /// A context for one check.
    pub fn new(
        bins: BTreeMap<String, PathBuf>,
        dir: PathBuf,
        tool: PathBuf,
        limit: Duration,
        scale: f64,
        seed: u64,
    ) -> Ctx {
        Ctx {
            bins,
            dir,
            tool,
            deadline: Instant::now() + limit,
            limit,
            scale,
            seed,
            runs: RefCell::new(Vec::new()),
            processes: RefCell::new(Vec::new()),
            unwaited: RefCell::new(Vec::new()),
            notes: RefCell::new(Vec::new()),
            sandbox: None,
        }
    }

    /// Runs every process of the check under `sandbox` (limits, and a user).
    pub fn sandboxed(mut self, sandbox: Sandbox) -> Ctx {
        self.sandbox = Some(sandbox);
        self
    }

    /// The user and group the check's programs run as, if not the grader's: what the grader
    /// makes for them to use (a pre-existing object) must be theirs.
    pub fn user(&self) -> Option<(u32, u32)> {
        self.sandbox.and_then(|s| s.user)
    }

    /// The path of the implementation's binary `name`.
    pub fn bin(&self, name: &str) -> PathBuf {
        self.bins
            .get(name)
            .cloned()
            .unwrap_or_else(|| PathBuf::from(name))
    }

    /// A run of the implementation's binary `name` with `args`, in the check's directory.
    pub fn cmd<I, S>(&self, name: &str, args: I) -> Spec
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        Spec::new(self.bin(name), &self.dir).args(args)
    }

    /// A run of the helper tool `name` with `args`, in the check's directory.
    pub fn tool<I, S>(&self, name: &str, args: I) -> Spec
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        Spec::new(&self.tool, &self.dir)
            .args(["tool", name])
            .args(args)
    }

    /// A run of any program (a system tool such as `sh`), in the check's directory.
    pub fn program<I, S>(&self, program: &str, args: I) -> Spec
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        Spec::new(program, &self.dir).args(args)
    }

    /// The words that run the helper tool `name` (an assignment's [`Tool`]), for a command
    /// line of its own or inside a student's.
    pub fn tool_words(&self, name: &str) -> Vec<String> {
        vec![
            self.tool.to_string_lossy().into_owned(),
            "tool".into(),
            name.into(),
        ]
    }

    /// The check's own directory, removed after the check.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A seed for generated streams; the same for every run of the same grading.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The instructor's time scale (1.0 by default). Checks do not use it directly: every
    /// bound goes through [`Ctx::loosen`], [`Ctx::at_most`] or [`Ctx::at_least`].
    pub fn scale(&self) -> f64 {
        self.scale
    }

    /// A time allowed to a program, stretched by the instructor's time scale.
    pub fn loosen(&self, allowed: Duration) -> Duration {
        allowed.mul_f64(self.scale)
    }

    /// An upper bound on a measured ratio (a program's time over a probe's), stretched by the
    /// time scale: a slower machine allows a larger ratio.
    pub fn at_most(&self, ratio: f64) -> f64 {
        ratio * self.scale
    }

    /// A lower bound on a measured ratio (a program's rate over a probe's), stretched by the
    /// time scale: a slower machine allows a smaller ratio.
    pub fn at_least(&self, ratio: f64) -> f64 {
        ratio / self.scale
    }

    /// When the check's time is up: runs still going then are ended.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// The check's time limit, scaled.
    pub fn limit(&self) -> Duration {
        self.limit
    }

    /// Starts a run; a program that cannot be started is a failure of the check.
    pub fn spawn(&self, mut spec: Spec) -> Result<Running, Failure> {
        let line = spec.command_line();
        if spec.sandbox.is_none() {
            spec.sandbox = self.sandbox;
        }
        let shown = spec.shown();
        let whose = if self.bins.values().any(|b| *b == spec.program) {
            Whose::Student
        } else if spec.program == self.tool {
            let name = spec.args.get(1).map(|a| a.to_string_lossy().into_owned());
            Whose::Grader(name.unwrap_or_default())
        } else {
            Whose::Other
        };
        let started = Instant::now();
        let running = run::spawn(spec)
            .map_err(|e| Failure::new(format!("could not start the program: {e}")).ran(&line))?;
        self.unwaited.borrow_mut().push(running.pid());
        self.processes.borrow_mut().push(Process {
            pid: running.pid(),
            shown,
            raw: line,
            whose,
            started,
            ended: None,
            ended_by_grader: false,
            signals: Vec::new(),
        });
        Ok(running)
    }

    /// A step of the check's scenario: sends `signal` to the run's group (a kill while others go
    /// on, a SIGSTOP), and the recipe that reproduces the check sends it at the same point.
    /// Ending a run the check is done with, or gives up on, is [`Running::signal_group`].
    pub fn signal(&self, running: &mut Running, signal: nix::sys::signal::Signal) {
        running.signal_group(signal);
        self.with_process(running.pid(), |p| {
            p.signals.push((Instant::now(), signal as i32))
        });
    }

    /// Applies `f` to the record of the running process `pid` (the last started with that pid).
    fn with_process(&self, pid: i32, f: impl FnOnce(&mut Process)) {
        let mut processes = self.processes.borrow_mut();
        if let Some(p) = processes
            .iter_mut()
            .rev()
            .find(|p| p.pid == pid && p.ended.is_none())
        {
            f(p);
        }
    }

    /// Waits for a started run until the check's deadline, and records it.
    pub fn wait(&self, running: Running) -> Finished {
        self.finish(running, None)
    }

    /// Waits for a started run until the check's deadline (or until it has been stuck for
    /// `quiet`, [`crate::stuck`]), and records it.
    fn finish(&self, running: Running, quiet: Option<Duration>) -> Finished {
        let pid = running.pid();
        self.unwaited.borrow_mut().retain(|&p| p != pid);
        let finished = running.wait_unless_stuck(self.deadline, quiet);
        self.with_process(pid, |p| {
            p.ended = Some(Instant::now());
            p.ended_by_grader = matches!(
                finished.end,
                run::End::Signaled {
                    by_grader: true,
                    ..
                }
            );
        });
        self.runs.borrow_mut().push(finished.clone());
        finished
    }

    /// Starts a run and waits for it. A run that nothing but the grader's feeder and drains
    /// can reach (its stdin not held by the check, no other run of the check alive) is ended
    /// as soon as it is stuck ([`crate::stuck`]): a deadlock costs the check seconds, not its
    /// whole limit.
    pub fn run(&self, spec: Spec) -> Result<Finished, Failure> {
        let held = matches!(spec.stdin, run::Input::Held);
        let running = self.spawn(spec)?;
        let alone = !held && self.unwaited.borrow().as_slice() == [running.pid()];
        let quiet = alone.then(|| self.loosen(crate::stuck::QUIET));
        Ok(self.finish(running, quiet))
    }

    /// Records what the check saw, for the report of a check that passes: the first note is
    /// its line in the table, every note its details ("the queue carried 40 messages…").
    pub fn note(&self, text: impl Into<String>) {
        self.notes.borrow_mut().push(text.into());
    }

    /// The notes recorded so far.
    pub fn notes(&self) -> Vec<String> {
        self.notes.borrow().clone()
    }

    /// Every process started so far, in the order it started.
    pub fn processes(&self) -> Vec<Process> {
        self.processes.borrow().clone()
    }

    /// How a recipe shows this check's paths: the student's programs as their build's
    /// (`./target/release/NAME`, run from their implementation's folder), the grader and its
    /// fault library as the kit's, and the check's folder as `/tmp/ipclab-CHECK`.
    pub fn display(&self, check: &str) -> run::Display {
        let kit = |name: &str| format!("../target/release/{name}");
        let mut display = run::Display {
            grader: crate::reproduce::GRADER.into(),
            ..Default::default()
        };
        let text = |p: &Path| p.to_string_lossy().into_owned();
        for folder in self.bins.values().filter_map(|b| b.parent()) {
            let folder = text(folder);
            if !display.rewrites.iter().any(|(f, _)| *f == folder) {
                // The fault library's IPCLAB_FAULTS_ONLY: an absolute prefix.
                display
                    .exact
                    .push((folder.clone(), "\"$PWD\"/target/release".into()));
                display.rewrites.push((folder, "./target/release".into()));
            }
        }
        display
            .exact
            .push((text(&self.tool), crate::reproduce::GRADER.into()));
        // LD_PRELOAD: the fault library, as the kit builds it beside the grader.
        let library = format!("\"$PWD\"/{}", kit(crate::faults::LIBRARY));
        display
            .exact
            .push((crate::faults::LIBRARY.into(), library.clone()));
        if let Some(programs) = self.tool.parent() {
            let copy = programs.join(crate::faults::LIBRARY);
            display.exact.push((text(&copy), library));
        }
        display
            .rewrites
            .push((text(&self.dir), format!("/tmp/ipclab-{check}")));
        display
    }

    /// Every run made so far.
    pub fn runs(&self) -> Vec<Finished> {
        self.runs.borrow().clone()
    }

    /// Ends the check: kills the process group of every run it started and never waited for
    /// (a check that returned early), and takes the record of runs.
    pub fn into_runs(self) -> Vec<Finished> {
        for pid in self.unwaited.take() {
            // Never reaped, so the pid is still this run's: ending its group is safe.
            run::end_group(pid);
            let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None);
        }
        self.runs.into_inner()
    }
}

/// Fails unless `ok`; a convenience for checks.
pub fn ensure(ok: bool, failure: impl FnOnce() -> Failure) -> Result<(), Failure> {
    if ok { Ok(()) } else { Err(failure()) }
}
