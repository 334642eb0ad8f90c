//! Grading: build each chosen assignment, run its checks one at a time, and decide each
//! verdict from the check's result, its runs and the IPC objects it left.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::build::{BuildError, Programs, Staged};
use crate::check::{Assignment, Ctx};
use crate::confine::{Limits, Sandbox};
use crate::isolation::{self, Isolation};
use crate::leaks::Snapshot;
use crate::outcome::{self, Facts, Status, Verdict};
use crate::run;

/// How to grade.
#[derive(Debug, Clone)]
pub struct Options {
    /// Multiplies every time limit and timing bound (an instructor's setting for slow machines).
    pub time_scale: f64,
    /// Seeds the generated streams.
    pub seed: u64,
    /// Only the checks whose names contain one of these (all when empty).
    pub only: Vec<String>,
    /// The grader's own executable, for helper tools inside student command lines.
    pub tool: PathBuf,
    /// How checks are isolated (namespaces, user); see [`crate::isolation`].
    pub isolation: Isolation,
    /// How many times to run each check (`--repeat`); a check whose status changes between
    /// runs is reported as "failed k of n runs".
    pub repeat: u32,
    /// Skip a check when a check it needs ([`crate::check::Check::after`]) did not pass: the
    /// default of `grader grade`; `--no-skip` (and `grader validate`, always) runs every check.
    pub skip: bool,
}

/// One graded check.
#[derive(Debug, Clone)]
pub struct CheckResult {
    /// The check's name.
    pub name: String,
    /// Its points.
    pub max_score: u32,
    /// The lesson paragraphs.
    pub lesson: String,
    /// What it verifies.
    pub about: String,
    /// Its (scaled) time limit.
    pub limit: Duration,
    /// How long it took.
    pub elapsed: Duration,
    /// The verdict.
    pub verdict: Verdict,
    /// Whether it ran: false for a check left out because the grading was interrupted, or
    /// skipped because a check it needs did not pass (its status is then `Skipped`).
    pub ran: bool,
    /// Who sees it (its assignment declares it).
    pub visibility: crate::check::Visibility,
}

impl CheckResult {
    /// The result of `check` with `verdict`, its time limit `limit` (scaled), no time taken.
    pub fn new(check: &crate::check::Check, limit: Duration, verdict: Verdict) -> CheckResult {
        CheckResult {
            name: check.name.into(),
            max_score: check.points,
            lesson: check.lesson.into(),
            about: check.about.into(),
            limit,
            elapsed: Duration::ZERO,
            verdict,
            ran: true,
            visibility: check.visibility,
        }
    }
}

/// One graded assignment.
#[derive(Debug, Clone)]
pub struct AssignmentResult {
    /// Its name.
    pub name: String,
    /// Its title.
    pub title: String,
    /// Its Cargo package (how to build it alone).
    pub package: String,
    /// Why it did not build, if it did not.
    pub build_error: Option<BuildError>,
    /// Its checks.
    pub checks: Vec<CheckResult>,
}

impl AssignmentResult {
    /// Points earned.
    pub fn score(&self) -> u32 {
        self.checks.iter().map(|c| c.verdict.score).sum()
    }

    /// Points available.
    pub fn max_score(&self) -> u32 {
        self.checks.iter().map(|c| c.max_score).sum()
    }
}

/// Set when the grading is to stop (SIGINT, SIGTERM): no further check starts.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Asks the grading to stop: the check running is abandoned, and no further check starts;
/// each is reported "not run: interrupted".
pub fn interrupt() {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// Catches SIGINT and SIGTERM (see [`termination`]); a second one ends the grader at once.
pub fn catch_termination() -> std::io::Result<()> {
    crate::sys::catch_termination()
}

/// The first SIGINT or SIGTERM caught since [`catch_termination`], if one came.
pub fn termination() -> Option<i32> {
    crate::sys::termination()
}

/// Whether [`interrupt`] was called.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// The reason of a check left out by an interruption.
pub const NOT_RUN: &str = "not run: interrupted";

/// The reason of a check skipped because `prerequisite`, a check it needs, did not pass.
pub fn skipped_reason(prerequisite: &str) -> String {
    format!("not run: needs `{prerequisite}`, which did not pass; fix that first")
}

/// The prerequisite of `check` ([`crate::check::Check::after`]) that did not pass in `done`
/// (the results so far of its assignment), if one did not: then `check` is skipped. A
/// prerequisite that did not run in this grading (left out by `--only`), whose grader failed
/// (`ERROR`: not the program's fault), or that is not written yet (`TODO`, or no build: the
/// check then says so itself, at once, as every check of an untouched starter does) skips
/// nothing.
pub fn failed_prerequisite<'a>(
    check: &crate::check::Check,
    done: &'a [CheckResult],
) -> Option<&'a CheckResult> {
    check.after.iter().find_map(|&needed| {
        done.iter().find(|r| {
            r.name == needed
                && !r.verdict.status.passed()
                && !matches!(
                    r.verdict.status,
                    Status::GraderError | Status::NotImplemented | Status::BuildFailed
                )
                && (r.ran || r.verdict.status == Status::Skipped)
        })
    })
}

/// The result of `check`, not run because its prerequisite `prerequisite` did not pass.
fn skipped(
    assignment: &str,
    check: &crate::check::Check,
    prerequisite: &str,
    options: &Options,
) -> CheckResult {
    unrun(
        check,
        options,
        Verdict {
            status: Status::Skipped,
            score: 0,
            reason: skipped_reason(prerequisite),
            details: format!(
                "It begins with what `{prerequisite}` checks, so it cannot pass until \
                 `{prerequisite}` does.\nTo run it anyway: make grade A={assignment} ONLY={} \
                 (or grader grade --no-skip)\n",
                check.name
            ),
        },
    )
}

/// The result of `check`, which did not run, with `verdict`.
fn unrun(check: &crate::check::Check, options: &Options, verdict: Verdict) -> CheckResult {
    CheckResult {
        ran: false,
        ..CheckResult::new(check, scaled(check.limit, options.time_scale), verdict)
    }
}

/// What [`grade_live`] reports while it grades, as it happens.
#[derive(Debug)]
pub enum Event<'a> {
    /// The build of the assignment starts.
    Building,
    /// The build ended (`None`: it succeeded) after `elapsed`.
    Built {
        /// How long it took.
        elapsed: Duration,
        /// Why it failed, if it did.
        error: Option<&'a BuildError>,
    },
    /// The assignment's section begins (its build error, if any, is known).
    Section(&'a AssignmentResult),
    /// A check finished (or was left out).
    Check(&'a AssignmentResult, &'a CheckResult),
}

/// The checks of `assignment` that `options` selects.
pub fn selected<'a>(assignment: &'a Assignment, options: &Options) -> Vec<&'a crate::check::Check> {
    assignment
        .checks
        .iter()
        .filter(|c| options.only.is_empty() || options.only.iter().any(|o| c.name.contains(o)))
        .collect()
}

/// The result of a check left out by an interruption.
fn not_run(check: &crate::check::Check, options: &Options) -> CheckResult {
    unrun(
        check,
        options,
        Verdict {
            status: Status::Fail,
            score: 0,
            reason: NOT_RUN.into(),
            details: String::new(),
        },
    )
}

/// An assignment none of whose checks ran (the grading was interrupted before it).
pub fn not_graded(
    assignment: &Assignment,
    options: &Options,
    on: &mut dyn FnMut(Event),
) -> AssignmentResult {
    let mut result = AssignmentResult {
        name: assignment.name.into(),
        title: assignment.title.into(),
        package: assignment.package.into(),
        build_error: None,
        checks: Vec::new(),
    };
    on(Event::Section(&result));
    for check in selected(assignment, options) {
        result.checks.push(not_run(check, options));
        on(Event::Check(
            &result,
            result.checks.last().expect("just pushed"),
        ));
    }
    result
}

/// Grades one assignment of a staged implementation.
pub fn grade(
    staged: &Staged,
    programs: &Programs,
    work: &Path,
    assignment: &Assignment,
    options: &Options,
) -> AssignmentResult {
    grade_live(staged, programs, work, assignment, options, &mut |_| {})
}

/// [`grade`], reporting each step to `on` as it happens (the build, then each check).
pub fn grade_live(
    staged: &Staged,
    programs: &Programs,
    work: &Path,
    assignment: &Assignment,
    options: &Options,
    on: &mut dyn FnMut(Event),
) -> AssignmentResult {
    if interrupted() {
        return not_graded(assignment, options, on);
    }
    let (result, streamed) = grade_steps(staged, programs, work, assignment, options, on);
    if !streamed {
        // Every row at once (the build failed, or the grader could not begin).
        on(Event::Section(&result));
        for c in &result.checks {
            on(Event::Check(&result, c));
        }
    }
    result
}

fn grade_steps(
    staged: &Staged,
    programs: &Programs,
    work: &Path,
    assignment: &Assignment,
    options: &Options,
    on: &mut dyn FnMut(Event),
) -> (AssignmentResult, bool) {
    let selected = selected(assignment, options);
    let mut result = AssignmentResult {
        name: assignment.name.into(),
        title: assignment.title.into(),
        package: assignment.package.into(),
        build_error: None,
        checks: Vec::new(),
    };
    // The binaries go into the programs' folder, which is read-only while checks run.
    let namespaces = options.isolation.namespaces;
    let opened = programs.seal(false, namespaces);
    on(Event::Building);
    let started = Instant::now();
    let built = staged.build(assignment, programs, work);
    on(Event::Built {
        elapsed: started.elapsed(),
        error: built.as_ref().err(),
    });
    if interrupted() {
        let _ = programs.seal(true, namespaces);
        return (not_graded(assignment, options, on), true);
    }
    let sealed = programs.seal(true, namespaces);
    if let Err(e) = opened.and(sealed) {
        result.checks = all_grader_errors(
            &selected,
            options,
            &format!("cannot protect the programs' folder: {e}"),
        );
        return (result, false);
    }
    let bins = match built {
        Ok(bins) => bins,
        Err(error) if error.grader_side => {
            result.checks = all_grader_errors(
                &selected,
                options,
                &format!("the grader could not build: {}", error.reason),
            );
            result.build_error = Some(error);
            return (result, false);
        }
        Err(error) => {
            result.checks = selected
                .iter()
                .map(|c| {
                    let verdict = Verdict {
                        status: Status::BuildFailed,
                        score: 0,
                        reason: format!("did not build: {}", error.reason),
                        details: String::new(),
                    };
                    CheckResult::new(c, scaled(c.limit, options.time_scale), verdict)
                })
                .collect();
            result.build_error = Some(error);
            return (result, false);
        }
    };
    // The checks' folders live in one folder of the grader's own (mode 0711: programs reach
    // their check's folder but cannot list or write beside it), so that the sweep of /tmp after
    // each check, which removes what the programs' user left there, never takes the folders of
    // another grading running beside this one.
    let scratch = match tempfile::Builder::new().prefix("ipclab-grading-").tempdir() {
        Ok(dir) => dir,
        Err(e) => {
            result.checks =
                all_grader_errors(&selected, options, &format!("no temporary folder: {e}"));
            return (result, false);
        }
    };
    let _ = std::fs::set_permissions(scratch.path(), std::fs::Permissions::from_mode(0o711));
    on(Event::Section(&result));
    for check in selected {
        if options.skip
            && let Some(prerequisite) = failed_prerequisite(check, &result.checks)
        {
            let prerequisite = prerequisite.name.clone();
            result
                .checks
                .push(skipped(assignment.name, check, &prerequisite, options));
            on(Event::Check(
                &result,
                result.checks.last().expect("just pushed"),
            ));
            continue;
        }
        let mut runs = Vec::new();
        for _ in 0..options.repeat.max(1) {
            if interrupted() {
                break;
            }
            runs.push(run_check_retrying(check, &bins, options, scratch.path()));
        }
        // A check an interruption cut short, or never started, did not run.
        let checked = if interrupted() {
            not_run(check, options)
        } else {
            combine(runs)
        };
        result.checks.push(checked);
        on(Event::Check(
            &result,
            result.checks.last().expect("just pushed"),
        ));
    }
    (result, true)
}

/// Runs one check once: its folder, its isolation scope, its processes, its verdict.
fn run_check(
    check: &crate::check::Check,
    bins: &std::collections::BTreeMap<String, PathBuf>,
    options: &Options,
    scratch: &Path,
) -> CheckResult {
    let limit = scaled(check.limit, options.time_scale);
    let started = Instant::now();
    let dir = match tempfile::Builder::new()
        .prefix("check-")
        .tempdir_in(scratch)
    {
        Ok(dir) => dir,
        Err(e) => {
            return grader_error(check, limit, format!("no temporary folder: {e}"));
        }
    };
    let scope = match isolation::begin_check(&options.isolation, dir.path()) {
        Ok(scope) => scope,
        Err(e) => {
            return grader_error(check, limit, format!("cannot isolate the check: {e}"));
        }
    };
    let before = Snapshot::take();
    let ctx = Ctx::new(
        bins.clone(),
        dir.path().to_path_buf(),
        options.tool.clone(),
        limit,
        options.time_scale,
        options.seed,
    )
    .sandboxed(Sandbox {
        limits: Limits::for_check(limit),
        user: options.isolation.user,
        own_proc: options.isolation.pid_namespaces && options.isolation.user.is_some(),
    });
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (check.run)(&ctx)));
    let notes = ctx.notes();
    let processes = ctx.processes();
    let display = ctx.display(check.name);
    let runs = ctx.into_runs();
    let strays = isolation::end_check(scope);
    run::reap_orphans();
    let leaked = Snapshot::take().added_since(&before);
    let kept: Vec<(crate::leaks::Object, String)> = leaked
        .iter()
        .filter_map(|o| o.remove().err().map(|e| (o.clone(), e.to_string())))
        .collect();
    drop(dir);
    let mut verdict = match outcome {
        Ok(returned) => outcome::decide(&Facts {
            result: &returned,
            runs: &runs,
            leaked: &leaked,
            kept: &kept,
            points: check.points,
            cleanup_points: check.cleanup_points,
            limit,
            timeout_hint: check.timeout_hint,
            // Every process of the check, as the student can type them again.
            reproduce: &|failed| crate::reproduce::block(failed, &processes, &display),
        }),
        Err(panic) => {
            let what = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            grader_error(check, limit, format!("the grader failed: {what}")).verdict
        }
    };
    if verdict.status.passed() && verdict.reason.is_empty() && !notes.is_empty() {
        // What a passing check saw (the kernel's accounting of a mechanism, for instance).
        verdict.reason = notes[0].clone();
        verdict.details = notes[1..].join("\n");
    }
    if !strays.is_empty() {
        verdict.details.push_str(&crate::message::strays(&strays));
    }
    CheckResult {
        elapsed: started.elapsed(),
        ..CheckResult::new(check, limit, verdict)
    }
}

/// Runs one check; a check whose grader's own part failed (`ERROR`) runs once more, and only a
/// second `ERROR` is reported (it says so).
fn run_check_retrying(
    check: &crate::check::Check,
    bins: &std::collections::BTreeMap<String, PathBuf>,
    options: &Options,
    scratch: &Path,
) -> CheckResult {
    let first = run_check(check, bins, options, scratch);
    if first.verdict.status != Status::GraderError || interrupted() {
        return first;
    }
    let mut again = run_check(check, bins, options, scratch);
    if again.verdict.status == Status::GraderError {
        again.verdict.reason = format!(
            "{} — and again when the check was retried",
            again.verdict.reason
        );
    }
    again.elapsed += first.elapsed;
    again
}

/// One result from the runs of a check (`--repeat`): the first run's if every run got the same
/// status; else the first run that did not pass, its reason prefixed with "failed k of n runs".
fn combine(mut runs: Vec<CheckResult>) -> CheckResult {
    let n = runs.len();
    let failed = runs.iter().filter(|r| !r.verdict.status.passed()).count();
    let same = runs
        .iter()
        .all(|r| r.verdict.status == runs[0].verdict.status);
    let at = runs
        .iter()
        .position(|r| !r.verdict.status.passed())
        .unwrap_or(0);
    let mut chosen = runs.swap_remove(at);
    if !same {
        chosen.verdict.reason = format!(
            "{} {}",
            crate::message::flaky(failed, n),
            chosen.verdict.reason
        );
    }
    chosen
}

/// Every check of `selected` as the grader's error `reason` (it could not run any of them).
fn all_grader_errors(
    selected: &[&crate::check::Check],
    options: &Options,
    reason: &str,
) -> Vec<CheckResult> {
    selected
        .iter()
        .map(|c| grader_error(c, scaled(c.limit, options.time_scale), reason.to_string()))
        .collect()
}

fn grader_error(check: &crate::check::Check, limit: Duration, reason: String) -> CheckResult {
    CheckResult::new(
        check,
        limit,
        Verdict {
            status: Status::GraderError,
            score: 0,
            reason,
            details: String::new(),
        },
    )
}

/// `d` multiplied by the time scale.
pub fn scaled(d: Duration, scale: f64) -> Duration {
    d.mul_f64(scale.max(0.01))
}

/// The default work folder: `target/ipc-lab` of the kit's own workspace.
pub fn default_work_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap_or(Path::new("."))
        .join("target")
        .join("ipc-lab")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(status: Status, reason: &str) -> CheckResult {
        CheckResult {
            name: "c".into(),
            max_score: 2,
            lesson: String::new(),
            about: String::new(),
            limit: Duration::from_secs(5),
            elapsed: Duration::ZERO,
            visibility: Default::default(),
            verdict: Verdict {
                status,
                score: if status.passed() { 2 } else { 0 },
                reason: reason.into(),
                details: String::new(),
            },
            ran: true,
        }
    }

    fn named(name: &str, status: Status) -> CheckResult {
        CheckResult {
            name: name.into(),
            ..result(status, "")
        }
    }

    /// A check is skipped when a prerequisite failed (a skipped one too), never for one that
    /// passed, leaked, failed by the grader's fault, is not written yet, or was not graded.
    #[test]
    fn a_check_is_skipped_only_for_a_prerequisite_that_did_not_pass() {
        let check = crate::check::Check::new("big", 3, "", |_| Ok(())).after("small");
        let skips = |status| failed_prerequisite(&check, &[named("small", status)]).is_some();
        for status in [
            Status::Fail,
            Status::Timeout,
            Status::Crash,
            Status::FailLeak,
        ] {
            assert!(skips(status), "{status:?}");
        }
        let mut skipped = named("small", Status::Skipped);
        skipped.ran = false;
        assert!(failed_prerequisite(&check, &[skipped]).is_some());
        for status in [
            Status::Pass,
            Status::Leak,
            Status::GraderError,
            Status::NotImplemented,
            Status::BuildFailed,
        ] {
            assert!(!skips(status), "{status:?}");
        }
        assert!(failed_prerequisite(&check, &[]).is_none());
        assert!(failed_prerequisite(&check, &[named("other", Status::Fail)]).is_none());
        // Left out by an interruption: it did not fail.
        let mut interrupted = named("small", Status::Fail);
        interrupted.ran = false;
        assert!(failed_prerequisite(&check, &[interrupted]).is_none());
    }

    /// A skipped check earns nothing, did not run, and says what to fix and how to run it.
    #[test]
    fn a_skipped_check_names_its_prerequisite() {
        let check = crate::check::Check::new("big", 3, "", |_| Ok(())).after("small");
        let options = Options {
            time_scale: 1.0,
            seed: 0,
            only: Vec::new(),
            tool: PathBuf::new(),
            isolation: Isolation {
                namespaces: false,
                pid_namespaces: false,
                user: None,
            },
            repeat: 1,
            skip: true,
        };
        let r = skipped("pipes", &check, "small", &options);
        assert!(!r.ran);
        assert_eq!((r.verdict.status, r.verdict.score), (Status::Skipped, 0));
        assert_eq!(
            r.verdict.reason,
            "not run: needs `small`, which did not pass; fix that first"
        );
        assert!(r.verdict.details.contains("make grade A=pipes ONLY=big"));
    }

    #[test]
    fn a_verdict_that_changes_between_runs_says_how_often_it_failed() {
        let runs = vec![
            result(Status::Pass, ""),
            result(Status::Fail, "output differs"),
            result(Status::Pass, ""),
        ];
        let v = combine(runs).verdict;
        assert_eq!((v.status, v.score), (Status::Fail, 0));
        assert_eq!(v.reason, "failed 1 of 3 runs: output differs");
        let steady = combine(vec![result(Status::Pass, ""), result(Status::Pass, "")]);
        assert_eq!(steady.verdict.status, Status::Pass);
        assert_eq!(steady.verdict.reason, "");
    }
}
