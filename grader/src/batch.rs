//! Batch grading: every submission folder under a directory, each by a grader process of its
//! own (its own namespaces where permitted, so submissions cannot see each other's IPC), a few
//! at a time, with a progress bar on a terminal (a line per submission without one), one
//! `results.json` per submission, a CSV of scores and a CSV of every check's result.
//! A submission folder is either the starter workspace itself or a whole student repository
//! with `starter/` inside (what GitHub Classroom clones), as Gradescope's `run_autograder`
//! accepts; a folder that is neither (the results folder, notes, `.git`) is skipped and
//! listed. A batch that stops resumes where it stopped: submissions that already have their
//! `results.json` are kept, not graded again, unless forced.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

/// What to grade and where to write.
pub struct Batch {
    /// The folder holding one folder per submission.
    pub submissions: PathBuf,
    /// Where each submission's `NAME.json` goes.
    pub results: PathBuf,
    /// The CSV of scores; the CSV of checks goes beside it (see [`checks_csv`]).
    pub csv: PathBuf,
    /// Graders running at once.
    pub jobs: usize,
    /// Grade again submissions that already have results.
    pub force: bool,
    /// Extra arguments for each `grader grade` (assignments, time scale…).
    pub grade_args: Vec<String>,
}

/// One submission's scores, read back from its `results.json`.
#[derive(Debug, Clone, Default)]
pub struct Row {
    /// Points per assignment.
    pub by_assignment: BTreeMap<String, f64>,
    /// Points in all.
    pub total: f64,
    /// Points available.
    pub max: f64,
    /// Every check's result.
    pub checks: Vec<CheckRow>,
    /// Why there is no score, or why an assignment earned nothing (it did not build).
    pub error: Option<String>,
    /// Its results come from an earlier run (kept, not graded again).
    pub kept: bool,
}

/// One check's result in a submission's `results.json`.
#[derive(Debug, Clone, Default)]
pub struct CheckRow {
    pub assignment: String,
    pub check: String,
    /// The precise status (`pass`, `fail`, `build_failed`…).
    pub status: String,
    pub score: f64,
    pub max: f64,
}

/// What a batch found under its submissions folder.
#[derive(Debug, Default)]
pub struct Found {
    /// By name: the workspace to grade (the folder itself, or its `starter/`).
    pub submissions: Vec<(String, PathBuf)>,
    /// By name: why a folder is not graded.
    pub skipped: Vec<(String, String)>,
}

/// The workspace to grade in a submission folder: its `starter/` when that holds a
/// `Cargo.toml` (a whole student repository), else the folder itself when it holds one (the
/// starter workspace submitted alone), else whichever of the two holds a `Makefile`. `None`
/// when neither does: the folder is no submission.
pub fn workspace(folder: &Path) -> Option<PathBuf> {
    let starter = folder.join("starter");
    [&starter, folder]
        .into_iter()
        .find(|d| d.join("Cargo.toml").is_file())
        .or_else(|| {
            [&starter, folder]
                .into_iter()
                .find(|d| d.join("Makefile").is_file())
        })
        .map(Path::to_path_buf)
}

/// The submission folders under `dir`, sorted by name, and the folders skipped with why.
/// `results` (this batch's results folder) is never a submission, wherever it is.
pub fn scan(dir: &Path, results: &Path) -> Result<Found> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read the submissions folder {}", dir.display()))?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    entries.sort();
    let results = results.canonicalize().ok();
    let mut found = Found::default();
    for path in entries {
        let name = name_of(&path);
        if results.is_some() && path.canonicalize().ok() == results {
            found
                .skipped
                .push((name, "this batch's results folder".into()));
        } else if let Some(ws) = workspace(&path) {
            found.submissions.push((name, ws));
        } else if holds_results(&path) {
            found.skipped.push((
                name,
                "a results folder (results .json files, no Cargo.toml or Makefile)".into(),
            ));
        } else {
            found.skipped.push((
                name,
                "not a submission: no Cargo.toml or Makefile in it or in its starter/".into(),
            ));
        }
    }
    Ok(found)
}

/// Whether a folder holds `.json` files and no folders: an earlier batch's results.
fn holds_results(dir: &Path) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    let mut json = false;
    for e in entries.filter_map(|e| e.ok()) {
        let path = e.path();
        if path.is_dir() {
            return false;
        }
        json |= path.extension().is_some_and(|x| x == "json");
    }
    json
}

/// The CSV of every check's result beside the CSV of scores: `grades.csv` gives
/// `grades-checks.csv`.
pub fn checks_csv(csv: &Path) -> PathBuf {
    let stem = csv
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "grades".into());
    csv.with_file_name(format!("{stem}-checks.csv"))
}

/// One grading to run in a grader process of its own.
#[derive(Debug, Clone)]
pub struct Job {
    /// The name it is reported under.
    pub name: String,
    /// The implementation to grade.
    pub dir: PathBuf,
    /// Where its `results.json` goes.
    pub json: PathBuf,
    /// Extra arguments for `grader grade` (assignments, time scale…).
    pub args: Vec<String>,
}

/// What became of one job.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Graded now; its `results.json` is written.
    Graded,
    /// Its `results.json` was there from an earlier run and is kept.
    Kept,
    /// No results: why (the grader's last `grader:` line).
    Failed(String),
}

/// Runs `grader grade` (the executable `exe`) for every job, `workers` at a time, with a
/// progress bar on a terminal; a job whose `results.json` exists is skipped unless `force`.
/// Returns, by job name, why a grading produced no results (the grader's last `grader:` line);
/// its partial `results.json` is removed so that a resumed run grades it again.
pub fn grade_all(
    exe: &Path,
    jobs: &[Job],
    workers: usize,
    force: bool,
) -> BTreeMap<String, String> {
    grade_each(exe, jobs, workers, force, false)
        .into_iter()
        .filter_map(|(name, outcome)| match outcome {
            Outcome::Failed(why) => Some((name, why)),
            _ => None,
        })
        .collect()
}

/// As [`grade_all`], but returns every job's outcome; with `lines`, and without a terminal,
/// prints to stderr a line per finished job: its score and how long it took.
pub fn grade_each(
    exe: &Path,
    jobs: &[Job],
    workers: usize,
    force: bool,
    lines: bool,
) -> BTreeMap<String, Outcome> {
    let terminal = std::io::stderr().is_terminal();
    let bar = if terminal {
        indicatif::ProgressBar::new(jobs.len() as u64)
    } else {
        indicatif::ProgressBar::hidden()
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template("{elapsed_precise} [{bar:40}] {pos}/{len} {msg}")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    let lines = lines && !terminal;
    let total = jobs.len();
    let done = Mutex::new(0usize);
    let outcomes: Mutex<BTreeMap<String, Outcome>> = Mutex::default();
    let handle = |job: &Job| {
        let started = Instant::now();
        let outcome = if force || !job.json.is_file() {
            bar.set_message(job.name.clone());
            match grade_one(exe, job) {
                Some(why) => {
                    let _ = std::fs::remove_file(&job.json);
                    Outcome::Failed(why)
                }
                None => Outcome::Graded,
            }
        } else {
            Outcome::Kept
        };
        if lines {
            let mut done = done.lock().expect("count lock");
            *done += 1;
            eprintln!(
                "grader: [{done}/{total}] {}: {}",
                job.name,
                progress_line(job, &outcome, started.elapsed())
            );
        }
        outcomes
            .lock()
            .expect("outcomes lock")
            .insert(job.name.clone(), outcome);
        bar.inc(1);
    };
    // The first grading alone: it makes what every grading shares in the work folder (the
    // vendored crates), which two graders starting together would both make at once.
    let mut rest: Vec<&Job> = jobs.iter().collect();
    if workers > 1
        && let Some(first) = rest.iter().position(|j| force || !j.json.is_file())
    {
        handle(rest.remove(first));
    }
    let queue = Mutex::new(rest.into_iter().rev().collect::<Vec<_>>());
    std::thread::scope(|scope| {
        for _ in 0..workers.max(1) {
            scope.spawn(|| {
                loop {
                    let Some(job) = queue.lock().expect("queue lock").pop() else {
                        break;
                    };
                    handle(job);
                }
            });
        }
    });
    bar.finish_and_clear();
    outcomes.into_inner().expect("outcomes lock")
}

/// What a progress line says of a finished job.
fn progress_line(job: &Job, outcome: &Outcome, took: Duration) -> String {
    let score = || {
        let row = read_row(&job.json);
        format!("{}/{} points", row.total, row.max)
    };
    match outcome {
        Outcome::Graded => format!("{} in {:.1} s", score(), took.as_secs_f64()),
        Outcome::Kept => format!("{} kept from an earlier run", score()),
        Outcome::Failed(why) => {
            format!("could not be graded ({why}) in {:.1} s", took.as_secs_f64())
        }
    }
}

/// Runs one grading; returns why it failed, if it did.
fn grade_one(exe: &Path, job: &Job) -> Option<String> {
    let out = Command::new(exe)
        .arg("grade")
        .arg(&job.dir)
        .arg("--json")
        .arg(&job.json)
        .args(&job.args)
        .output();
    match out {
        Ok(o) if o.status.success() => None,
        Ok(o) => Some(
            String::from_utf8_lossy(&o.stderr)
                .lines()
                .rfind(|l| l.starts_with("grader:"))
                .unwrap_or("the grader failed")
                .to_string(),
        ),
        Err(e) => Some(format!("cannot run the grader: {e}")),
    }
}

/// What a batch did.
#[derive(Debug, Default)]
pub struct Summary {
    /// By submission name.
    pub rows: BTreeMap<String, Row>,
    /// Folders under the submissions folder not graded, with why.
    pub skipped: Vec<(String, String)>,
    /// The CSV of every check's result.
    pub checks_csv: PathBuf,
}

impl Summary {
    /// Submissions graded by this run.
    pub fn graded(&self) -> usize {
        self.rows
            .values()
            .filter(|r| !r.kept && !self.failed_row(r))
            .count()
    }

    /// Submissions whose results an earlier run left, kept.
    pub fn kept(&self) -> usize {
        self.rows.values().filter(|r| r.kept).count()
    }

    /// Submissions that could not be graded (no results at all).
    pub fn failed(&self) -> usize {
        self.rows.values().filter(|r| self.failed_row(r)).count()
    }

    fn failed_row(&self, row: &Row) -> bool {
        row.error.is_some() && row.checks.is_empty() && !row.kept
    }

    /// The final line: how many were graded now, kept, could not be graded, skipped.
    pub fn describe(&self) -> String {
        let mut parts = vec![format!("graded {} now", self.graded())];
        if self.kept() > 0 {
            parts.push(format!(
                "kept {} from an earlier run (--force grades them again)",
                self.kept()
            ));
        }
        if self.failed() > 0 {
            parts.push(format!("{} could not be graded", self.failed()));
        }
        let mut line = format!("{} submissions: {}", self.rows.len(), parts.join(", "));
        if !self.skipped.is_empty() {
            line.push_str(&format!(
                "; folders skipped (not submissions): {}",
                self.skipped.len()
            ));
        }
        line
    }
}

/// Grades every submission and writes the CSVs.
pub fn run(batch: &Batch) -> Result<Summary> {
    std::fs::create_dir_all(&batch.results)
        .with_context(|| format!("cannot create {}", batch.results.display()))?;
    let found = scan(&batch.submissions, &batch.results)?;
    for (name, why) in &found.skipped {
        eprintln!("grader: skipped {name}: {why}");
    }
    let exe = std::env::current_exe().context("cannot find the grader's own executable")?;
    let jobs: Vec<Job> = found
        .submissions
        .iter()
        .map(|(name, workspace)| Job {
            json: batch.results.join(format!("{name}.json")),
            name: name.clone(),
            dir: workspace.clone(),
            args: batch.grade_args.clone(),
        })
        .collect();
    let outcomes = grade_each(&exe, &jobs, batch.jobs, batch.force, true);
    let mut rows = BTreeMap::new();
    for job in &jobs {
        let row = match outcomes.get(&job.name) {
            Some(Outcome::Failed(why)) => Row {
                error: Some(why.clone()),
                ..Row::default()
            },
            outcome => Row {
                kept: outcome == Some(&Outcome::Kept),
                ..read_row(&job.json)
            },
        };
        rows.insert(job.name.clone(), row);
    }
    write_csv(&batch.csv, &rows)?;
    let checks = checks_csv(&batch.csv);
    write_checks_csv(&checks, &rows)?;
    Ok(Summary {
        rows,
        skipped: found.skipped,
        checks_csv: checks,
    })
}

fn name_of(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Reads a submission's scores from its `results.json`. An assignment that did not build
/// names itself in the error: "pipes: did not build: error[E0425]: …".
pub fn read_row(json: &Path) -> Row {
    let parsed = std::fs::read(json)
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok());
    let Some(v) = parsed else {
        return Row {
            error: Some(format!("no readable {}", json.display())),
            ..Row::default()
        };
    };
    let mut row = Row {
        total: v["score"].as_f64().unwrap_or(0.0),
        max: v["max_score"].as_f64().unwrap_or(0.0),
        ..Row::default()
    };
    let mut errors: Vec<String> = Vec::new();
    for test in v["tests"].as_array().into_iter().flatten() {
        let extra = &test["extra_data"];
        let assignment = extra["assignment"].as_str().unwrap_or("?").to_string();
        let score = test["score"].as_f64().unwrap_or(0.0);
        *row.by_assignment.entry(assignment.clone()).or_default() += score;
        let status = extra["status"].as_str().unwrap_or("?").to_string();
        if matches!(status.as_str(), "build_failed" | "grader_error") {
            let output = test["output"].as_str().unwrap_or("");
            let why = output
                .lines()
                .find(|l| l.contains("did not build"))
                .map(|l| l[l.find("did not build").unwrap_or(0)..].trim().to_string())
                .unwrap_or_else(|| status.replace('_', " "));
            let error = format!("{assignment}: {why}");
            if !errors.contains(&error) {
                errors.push(error);
            }
        }
        row.checks.push(CheckRow {
            assignment,
            check: extra["check"].as_str().unwrap_or("?").to_string(),
            status,
            score,
            max: test["max_score"].as_f64().unwrap_or(0.0),
        });
    }
    if !errors.is_empty() {
        row.error = Some(errors.join("; "));
    }
    row
}

/// Writes one row per submission, a column per assignment, the total, the maximum, and an
/// error column.
fn write_csv(path: &Path, rows: &BTreeMap<String, Row>) -> Result<()> {
    // In the order the grader reports them (its results list checks assignment by
    // assignment), then any other.
    let assignments: Vec<String> = {
        let mut names: Vec<String> = Vec::new();
        let reported = rows
            .values()
            .flat_map(|r| r.checks.iter().map(|c| &c.assignment));
        let scored = rows.values().flat_map(|r| r.by_assignment.keys());
        for name in reported.chain(scored) {
            if !names.contains(name) {
                names.push(name.clone());
            }
        }
        names
    };
    let mut w =
        csv::Writer::from_path(path).with_context(|| format!("cannot write {}", path.display()))?;
    let mut header = vec!["submission".to_string()];
    header.extend(assignments.iter().cloned());
    header.extend(["total".into(), "max".into(), "error".into()]);
    w.write_record(&header)?;
    for (name, row) in rows {
        let mut record = vec![name.clone()];
        for a in &assignments {
            record.push(
                row.by_assignment
                    .get(a)
                    .map(|p| p.to_string())
                    .unwrap_or_default(),
            );
        }
        record.push(row.total.to_string());
        record.push(row.max.to_string());
        record.push(row.error.clone().unwrap_or_default());
        w.write_record(&record)?;
    }
    w.flush()?;
    Ok(())
}

/// Writes the long-format CSV: a row per submission and check (submission, assignment,
/// check, status, score, max). A submission that could not be graded has no rows.
fn write_checks_csv(path: &Path, rows: &BTreeMap<String, Row>) -> Result<()> {
    let mut w =
        csv::Writer::from_path(path).with_context(|| format!("cannot write {}", path.display()))?;
    w.write_record([
        "submission",
        "assignment",
        "check",
        "status",
        "score",
        "max",
    ])?;
    for (name, row) in rows {
        for c in &row.checks {
            w.write_record([
                name.as_str(),
                &c.assignment,
                &c.check,
                &c.status,
                &c.score.to_string(),
                &c.max.to_string(),
            ])?;
        }
    }
    w.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(path: &Path) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, "").unwrap();
    }

    #[test]
    fn both_layouts_are_submissions_and_the_rest_is_skipped() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("subs");
        touch(&dir.join("alice/Cargo.toml"));
        touch(&dir.join("bob/Makefile"));
        touch(&dir.join("bob/Cargo.toml"));
        touch(&dir.join("bob/starter/Cargo.toml"));
        touch(&dir.join("carol/notes.txt"));
        touch(&dir.join("old-results/alice.json"));
        touch(&dir.join("subs-results/alice.json"));
        let found = scan(&dir, &dir.join("subs-results")).unwrap();
        assert_eq!(
            found.submissions,
            vec![
                ("alice".to_string(), dir.join("alice")),
                ("bob".to_string(), dir.join("bob/starter")),
            ]
        );
        let skipped: Vec<&str> = found.skipped.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(skipped, ["carol", "old-results", "subs-results"]);
        assert!(found.skipped[1].1.contains("results folder"));
        assert!(found.skipped[2].1.contains("this batch's results"));
    }

    #[test]
    fn a_build_failure_fills_the_error_and_every_check_is_a_row() {
        let tmp = tempfile::tempdir().unwrap();
        let json = tmp.path().join("x.json");
        let results = serde_json::json!({
            "score": 5.0, "max_score": 15.0,
            "tests": [
                {"score": 5.0, "max_score": 5.0, "output": "",
                 "extra_data": {"assignment": "pipes", "check": "a", "status": "pass"}},
                {"score": 0.0, "max_score": 10.0,
                 "output": "About it.\n\nbuild failed: did not build: error[E0425]: nope",
                 "extra_data": {"assignment": "sysv-shm", "check": "b", "status": "build_failed"}},
            ]
        });
        std::fs::write(&json, results.to_string()).unwrap();
        let row = read_row(&json);
        assert_eq!(
            row.error.as_deref(),
            Some("sysv-shm: did not build: error[E0425]: nope")
        );
        assert_eq!(row.checks.len(), 2);
        assert_eq!(row.checks[1].status, "build_failed");
        assert_eq!(row.checks[1].max, 10.0);
        let rows = BTreeMap::from([("s".to_string(), row)]);
        let csv = tmp.path().join("grades.csv");
        write_checks_csv(&checks_csv(&csv), &rows).unwrap();
        let text = std::fs::read_to_string(tmp.path().join("grades-checks.csv")).unwrap();
        assert_eq!(
            text,
            "submission,assignment,check,status,score,max\n\
             s,pipes,a,pass,5,5\n\
             s,sysv-shm,b,build_failed,0,10\n"
        );
    }

    #[test]
    fn the_summary_tells_graded_now_from_kept() {
        let graded = Row {
            checks: vec![CheckRow::default()],
            ..Row::default()
        };
        let summary = Summary {
            rows: BTreeMap::from([
                ("a".into(), graded.clone()),
                ("b".into(), graded.clone()),
                (
                    "c".into(),
                    Row {
                        kept: true,
                        ..graded
                    },
                ),
                (
                    "d".into(),
                    Row {
                        error: Some("x".into()),
                        ..Row::default()
                    },
                ),
            ]),
            skipped: vec![("r".into(), "results".into())],
            checks_csv: PathBuf::new(),
        };
        assert_eq!(
            summary.describe(),
            "4 submissions: graded 2 now, kept 1 from an earlier run (--force grades them \
             again), 1 could not be graded; folders skipped (not submissions): 1"
        );
    }
}
