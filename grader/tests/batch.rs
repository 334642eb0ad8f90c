//! Batch grading: `grader batch` on a folder of submissions (the reference, the starter and
//! mutants of `pipes`) writes a CSV with each one's expected score.
//!
//! `the_batch_of_50` (ignored by default) is the measurement in the README: 50 submissions,
//! `-a pipes`, `--jobs 2`, timed. Run it with
//! `cargo test --release -p grader --test batch -- --ignored --nocapture`.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use grader::{assignments, mutants};
use serial_test::serial;

/// The points of `pipes` checks, by name, and their total.
fn pipes_points() -> (BTreeMap<String, u32>, u32) {
    let all = assignments::all();
    let pipes = all.iter().find(|a| a.name == "pipes").unwrap();
    let points: BTreeMap<String, u32> = pipes
        .checks
        .iter()
        .map(|c| (c.name.to_string(), c.points))
        .collect();
    let total = points.values().sum();
    (points, total)
}

/// What a submission is, and so which score it must get.
#[derive(Clone)]
enum Kind {
    Reference,
    Starter,
    Mutant(mutants::Mutant),
}

/// Lays out `kinds` as submission folders `NNN-what` under `dir`.
fn lay_out(dir: &Path, kinds: &[Kind]) -> BTreeMap<String, Kind> {
    let kit = common::kit();
    let mut named = BTreeMap::new();
    for (i, kind) in kinds.iter().enumerate() {
        let what = match kind {
            Kind::Reference => "reference".to_string(),
            Kind::Starter => "starter".to_string(),
            Kind::Mutant(m) => m.name.clone(),
        };
        let name = format!("{i:03}-{what}");
        let to = dir.join(&name);
        match kind {
            Kind::Reference => mutants::materialise(&kit.join("solution"), &to, &no_edit()),
            Kind::Starter => mutants::materialise(&kit.join("starter"), &to, &no_edit()),
            Kind::Mutant(m) => mutants::materialise(&kit.join("solution"), &to, m),
        }
        .unwrap();
        named.insert(name, kind.clone());
    }
    named
}

/// A "mutant" that changes nothing: a plain copy of a workspace.
fn no_edit() -> mutants::Mutant {
    mutants::Mutant {
        name: "copy".into(),
        about: "no change".into(),
        file: "Cargo.toml".into(),
        find: "[workspace]".into(),
        replace: "[workspace]".into(),
        fails: vec![],
    }
}

/// Runs `grader batch` on `dir` with the time scale `scale` and returns the CSV's `pipes` and
/// `total` columns by submission, with the wall time.
fn batch(dir: &Path, out: &Path, jobs: usize, scale: &str) -> (BTreeMap<String, (f64, f64)>, f64) {
    let csv = out.join("grades.csv");
    let started = Instant::now();
    common::grader()
        .arg("batch")
        .arg(dir)
        .args(["-a", "pipes", "--jobs", &jobs.to_string(), "--out"])
        .arg(&csv)
        .arg("--results")
        .arg(out.join("results"))
        .args(["--time-scale", scale])
        .assert()
        .success();
    let wall = started.elapsed().as_secs_f64();
    let mut reader = csv::Reader::from_path(&csv).unwrap();
    let headers = reader.headers().unwrap().clone();
    let column = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let (pipes, total, error) = (column("pipes"), column("total"), column("error"));
    let mut rows = BTreeMap::new();
    for record in reader.records() {
        let record = record.unwrap();
        assert_eq!(&record[error], "", "{} could not be graded", &record[0]);
        rows.insert(
            record[0].to_string(),
            (
                record[pipes].parse().unwrap(),
                record[total].parse().unwrap(),
            ),
        );
    }
    (rows, wall)
}

/// Checks every row against its kind: the reference earns every point, the starter none, a
/// mutant at most the points of the checks it does not name.
fn check_scores(rows: &BTreeMap<String, (f64, f64)>, kinds: &BTreeMap<String, Kind>, out: &Path) {
    let (points, max) = pipes_points();
    assert_eq!(rows.len(), kinds.len());
    let mut wrong = Vec::new();
    for (name, kind) in kinds {
        let (pipes, total) = rows[name];
        assert_eq!(pipes, total, "{name}: only pipes was graded");
        let ok = match kind {
            Kind::Reference => pipes == max as f64,
            Kind::Starter => pipes == 0.0,
            Kind::Mutant(m) => {
                let lost: u32 = m.fails.iter().map(|c| points[c]).sum();
                pipes <= (max - lost) as f64
            }
        };
        if !ok {
            // Which checks took the points, as its results.json tells.
            let json = out.join("results").join(format!("{name}.json"));
            let results = serde_json::from_slice(&std::fs::read(json).unwrap()).unwrap();
            let lost: Vec<String> = common::statuses(&results)
                .into_iter()
                .filter(|(_, status)| status != "pass")
                .map(|(check, status)| format!("{check} {status}"))
                .collect();
            wrong.push(format!("{name}: {pipes}/{max} ({})", lost.join(", ")));
        }
    }
    assert!(wrong.is_empty(), "unexpected scores: {}", wrong.join(", "));
}

#[test]
#[serial(grading)]
fn a_batch_scores_reference_starter_and_mutants() {
    let all = mutants::load("pipes").unwrap();
    let pick = |name: &str| Kind::Mutant(all.iter().find(|m| m.name == name).unwrap().clone());
    let kinds = [
        Kind::Reference,
        Kind::Starter,
        pick("usage-exits-1"),
        pick("four-stages-at-most"),
    ];
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("submissions");
    let named = lay_out(&dir, &kinds);
    // Other engineers' tests share this machine's two cores: loosen the timing bounds, which
    // this test is not about.
    let (rows, _) = batch(&dir, tmp.path(), 2, "3");
    check_scores(&rows, &named, tmp.path());
    // These two mutants lose exactly the points of the checks they name.
    let (points, max) = pipes_points();
    assert_eq!(
        rows["002-usage-exits-1"].0,
        (max - points["usage-errors"]) as f64
    );
    assert_eq!(
        rows["003-four-stages-at-most"].0,
        (max - points["many-stages"]) as f64
    );
}

#[test]
#[ignore = "a measurement: several minutes of both cores"]
#[serial(grading)]
fn the_batch_of_50() {
    let all: Vec<Kind> = mutants::load("pipes")
        .unwrap()
        .into_iter()
        .map(Kind::Mutant)
        .collect();
    // 10 references, 10 starters, 30 mutants (each of pipes' mutants about twice).
    let kinds: Vec<Kind> = (0..50)
        .map(|i| match i % 5 {
            0 => Kind::Reference,
            1 => Kind::Starter,
            _ => all[(i - 2 - i / 5 * 2) % all.len()].clone(),
        })
        .collect();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("submissions");
    let named = lay_out(&dir, &kinds);
    // As an instructor should run it with as many jobs as cores: the timing bounds loosened
    // by 2, for the graders compete with each other (at 1, one reference in ten lost a
    // timing check's points on this shared machine). IPCLAB_BATCH_SCALE overrides it.
    let scale = std::env::var("IPCLAB_BATCH_SCALE").unwrap_or_else(|_| "2".into());
    let (rows, wall) = batch(&dir, tmp.path(), 2, &scale);
    println!(
        "batch of {}: {wall:.0} s wall ({:.1} s per submission), -a pipes --jobs 2 --time-scale {scale}",
        rows.len(),
        wall / rows.len() as f64
    );
    let mut by_kind: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for (name, (pipes, _)) in &rows {
        let kind = name.split_once('-').map_or(name.as_str(), |(_, k)| k);
        by_kind.entry(kind.to_string()).or_default().push(*pipes);
    }
    for (kind, scores) in &by_kind {
        println!("  {kind}: {scores:?}");
    }
    check_scores(&rows, &named, tmp.path());
}

/// Runs `grader batch DIR` from inside DIR (so that the default results folder lands among
/// the submissions) on the `usage-errors` check of `pipes`; returns stderr.
fn quick_batch(dir: &Path, work: &Path, extra: &[&str]) -> String {
    let out = common::grader()
        .current_dir(dir)
        .arg("batch")
        .arg(dir)
        .args(["-a", "pipes", "--only", "usage-errors", "--jobs", "2"])
        .args(["--time-scale", "3", "--work-dir"])
        .arg(work)
        .args(extra)
        .assert()
        .success();
    String::from_utf8_lossy(&out.get_output().stderr).into_owned()
}

/// The CSV at `path` as rows of strings, the header first.
fn read_csv(path: &Path) -> Vec<Vec<String>> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_path(path)
        .unwrap();
    reader
        .records()
        .map(|r| r.unwrap().iter().map(str::to_string).collect())
        .collect()
}

#[test]
#[serial(grading)]
fn repositories_build_failures_results_folders_and_resumes() {
    let kit = common::kit();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("subs");
    let work = tmp.path().join("work");
    // A whole student repository, as GitHub Classroom clones it: starter/ inside.
    mutants::materialise(&kit.join("solution"), &dir.join("repo/starter"), &no_edit()).unwrap();
    std::fs::write(dir.join("repo/Makefile"), "grade:\n").unwrap();
    std::fs::write(dir.join("repo/Cargo.toml"), "[workspace]\nmembers = []\n").unwrap();
    // The starter workspace alone.
    mutants::materialise(&kit.join("solution"), &dir.join("workspace"), &no_edit()).unwrap();
    // One that does not compile.
    mutants::materialise(&kit.join("solution"), &dir.join("broken"), &no_edit()).unwrap();
    let lib = dir.join("broken/pipes/src/lib.rs");
    let mut text = std::fs::read_to_string(&lib).unwrap();
    text.push_str("\npub fn broken() -> u32 {\n    \"not a number\"\n}\n");
    std::fs::write(&lib, text).unwrap();
    // No submission.
    std::fs::create_dir_all(dir.join("notes")).unwrap();
    std::fs::write(dir.join("notes/todo.txt"), "grade them\n").unwrap();

    let stderr = quick_batch(&dir, &work, &[]);
    assert!(
        stderr.contains("skipped notes: not a submission"),
        "{stderr}"
    );
    assert!(stderr.contains("3 submissions: graded 3 now"), "{stderr}");
    // No terminal: a line per submission.
    assert_eq!(stderr.matches("/3] ").count(), 3, "{stderr}");
    let rows = read_csv(&dir.join("grades.csv"));
    let header = &rows[0];
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let by_name: BTreeMap<&str, &Vec<String>> =
        rows[1..].iter().map(|r| (r[0].as_str(), r)).collect();
    assert_eq!(
        by_name.keys().copied().collect::<Vec<_>>(),
        ["broken", "repo", "workspace"]
    );
    let (points, _) = pipes_points();
    let full = points["usage-errors"].to_string();
    let results =
        |name: &str| std::fs::read_to_string(dir.join(format!("subs-results/{name}.json")));
    assert_eq!(
        by_name["repo"][col("pipes")],
        full,
        "{stderr}\n{:?}",
        results("repo")
    );
    assert_eq!(
        by_name["workspace"][col("pipes")],
        full,
        "{:?}",
        results("workspace")
    );
    assert_eq!(by_name["repo"][col("error")], "");
    assert_eq!(by_name["broken"][col("pipes")], "0");
    let error = &by_name["broken"][col("error")];
    assert!(error.starts_with("pipes: did not build: "), "{error}");
    // Every check, long format.
    let checks = read_csv(&dir.join("grades-checks.csv"));
    assert_eq!(
        checks[0],
        [
            "submission",
            "assignment",
            "check",
            "status",
            "score",
            "max"
        ]
    );
    assert!(checks.contains(&vec![
        "broken".into(),
        "pipes".into(),
        "usage-errors".into(),
        "build_failed".into(),
        "0".into(),
        full.clone()
    ]));
    // No build folder kept.
    let builds: Vec<_> = std::fs::read_dir(work.join("builds"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(builds.is_empty(), "kept: {builds:?}");

    // The results folder landed among the submissions: skipped, never graded. A resume keeps
    // what an earlier run graded.
    assert!(dir.join("subs-results/repo.json").is_file());
    std::fs::remove_file(dir.join("subs-results/workspace.json")).unwrap();
    let stderr = quick_batch(&dir, &work, &["--keep-builds"]);
    assert!(
        stderr.contains("skipped subs-results: this batch's results folder"),
        "{stderr}"
    );
    assert!(
        stderr.contains("3 submissions: graded 1 now, kept 2 from an earlier run"),
        "{stderr}"
    );
    let builds = std::fs::read_dir(work.join("builds")).unwrap().count();
    assert!(builds > 0, "--keep-builds kept nothing");
}
