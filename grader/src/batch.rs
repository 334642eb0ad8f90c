//! Batch grading: every submission folder under a directory, each by a grader process of its
//! own (its own namespaces where permitted, so submissions cannot see each other's IPC), a few
//! at a time, with a progress bar, one `results.json` per submission and a CSV of scores.
//! A batch that stops resumes where it stopped: submissions that already have their
//! `results.json` are not graded again unless forced.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};

/// What to grade and where to write.
pub struct Batch {
    /// The folder holding one folder per submission.
    pub submissions: PathBuf,
    /// Where each submission's `NAME.json` goes.
    pub results: PathBuf,
    /// The CSV of scores.
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
    /// Why there is no score, if there is none.
    pub error: Option<String>,
}

/// The submission folders under `dir`, sorted by name.
pub fn submissions(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read the submissions folder {}", dir.display()))?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    found.sort();
    Ok(found)
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

/// Runs `grader grade` (the executable `exe`) for every job, `workers` at a time, with a
/// progress bar; a job whose `results.json` exists is skipped unless `force`. Returns, by job
/// name, why a grading produced no results (the grader's last `grader:` line); its partial
/// `results.json` is removed so that a resumed run grades it again.
pub fn grade_all(
    exe: &Path,
    jobs: &[Job],
    workers: usize,
    force: bool,
) -> BTreeMap<String, String> {
    let bar = indicatif::ProgressBar::new(jobs.len() as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{elapsed_precise} [{bar:40}] {pos}/{len} {msg}")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    let queue = Arc::new(Mutex::new(jobs.iter().rev().collect::<Vec<_>>()));
    let errors: Arc<Mutex<BTreeMap<String, String>>> = Arc::default();
    std::thread::scope(|scope| {
        for _ in 0..workers.max(1) {
            let (queue, errors, bar) = (queue.clone(), errors.clone(), bar.clone());
            scope.spawn(move || {
                loop {
                    let Some(job) = queue.lock().expect("queue lock").pop() else {
                        break;
                    };
                    if force || !job.json.is_file() {
                        bar.set_message(job.name.clone());
                        if let Some(why) = grade_one(exe, job) {
                            let _ = std::fs::remove_file(&job.json);
                            errors
                                .lock()
                                .expect("errors lock")
                                .insert(job.name.clone(), why);
                        }
                    }
                    bar.inc(1);
                }
            });
        }
    });
    bar.finish_and_clear();
    errors.lock().expect("errors lock").clone()
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

/// Grades every submission and writes the CSV; returns the rows by submission name.
pub fn run(batch: &Batch) -> Result<BTreeMap<String, Row>> {
    let all = submissions(&batch.submissions)?;
    std::fs::create_dir_all(&batch.results)
        .with_context(|| format!("cannot create {}", batch.results.display()))?;
    let exe = std::env::current_exe().context("cannot find the grader's own executable")?;
    let jobs: Vec<Job> = all
        .iter()
        .map(|sub| {
            let name = name_of(sub);
            Job {
                json: batch.results.join(format!("{name}.json")),
                name,
                dir: sub.clone(),
                args: batch.grade_args.clone(),
            }
        })
        .collect();
    let errors = grade_all(&exe, &jobs, batch.jobs, batch.force);
    let mut rows = BTreeMap::new();
    for job in &jobs {
        let row = match errors.get(&job.name) {
            Some(why) => Row {
                error: Some(why.clone()),
                ..Row::default()
            },
            None => read_row(&job.json),
        };
        rows.insert(job.name.clone(), row);
    }
    write_csv(&batch.csv, &rows)?;
    Ok(rows)
}

fn name_of(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Reads a submission's scores from its `results.json`.
fn read_row(json: &Path) -> Row {
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
    for test in v["tests"].as_array().into_iter().flatten() {
        let assignment = test["extra_data"]["assignment"].as_str().unwrap_or("?");
        *row.by_assignment.entry(assignment.to_string()).or_default() +=
            test["score"].as_f64().unwrap_or(0.0);
    }
    row
}

/// Writes one row per submission, a column per assignment, the total, the maximum, and an
/// error column.
fn write_csv(path: &Path, rows: &BTreeMap<String, Row>) -> Result<()> {
    let assignments: Vec<String> = {
        let mut names: Vec<String> = rows
            .values()
            .flat_map(|r| r.by_assignment.keys().cloned())
            .collect();
        names.sort_by_key(|n| {
            crate::assignments::names()
                .iter()
                .position(|a| a == n)
                .unwrap_or(usize::MAX)
        });
        names.dedup();
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
