//! `grader validate`: the grader checked by its mutants. Every mutant of every chosen
//! assignment is built and graded with all of the assignment's checks, each by a grader process
//! of its own (as `grader batch` grades submissions, a few at a time), and a table shows, for
//! each, the checks it was expected to fail and those it did fail. The run fails if a mutant
//! passes a check it names, or a check it names cannot judge it (not implemented, no build, a
//! grader error), if a mutant passes everything, if a timed-out check overran its limit by far
//! (the grader failed to stop it), or if some check fails no mutant.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use anyhow::{Context, Result};
use serde_json::Value;

use crate::batch::{self, Job};
use crate::check::Assignment;
use crate::mutants;

/// One check's outcome for one mutant, as its `results.json` tells it.
#[derive(Debug, Clone, PartialEq)]
pub struct Graded {
    /// The status (`pass`, `fail`, `timeout`…).
    pub status: String,
    /// Seconds the check took.
    pub elapsed_s: f64,
    /// The check's limit in seconds.
    pub limit_s: f64,
}

impl Graded {
    /// Whether the check gave the mutant its points.
    pub fn passed(&self) -> bool {
        self.status == "pass" || self.status == "leak"
    }

    /// Whether the check failed the mutant itself: it ran and did not pass. A check skipped
    /// for a prerequisite judged nothing (validate grades with `--no-skip`; this is the
    /// safeguard).
    pub fn failed(&self) -> bool {
        !self.passed() && self.status != "skipped"
    }

    /// Whether the check could not judge the mutant at all.
    fn undecided(&self) -> bool {
        matches!(
            self.status.as_str(),
            "not_implemented" | "build_failed" | "grader_error" | "skipped"
        )
    }
}

/// One mutant's row.
#[derive(Debug, Clone)]
pub struct Row {
    /// The assignment.
    pub assignment: String,
    /// The mutant.
    pub mutant: String,
    /// The checks it names.
    pub expected: BTreeSet<String>,
    /// Every check's outcome, by check name (empty if the grading itself failed).
    pub checks: BTreeMap<String, Graded>,
    /// Why the grading produced no results, if it did not.
    pub error: Option<String>,
}

impl Row {
    /// The checks that failed it (a check skipped for a prerequisite is not one).
    pub fn failed(&self) -> BTreeSet<String> {
        self.checks
            .iter()
            .filter(|(_, g)| g.failed())
            .map(|(name, _)| name.clone())
            .collect()
    }

    /// The checks it names that passed it.
    pub fn missed(&self) -> Vec<String> {
        self.expected.difference(&self.failed()).cloned().collect()
    }
}

/// A check whose run was killed at its limit ends well before its limit has passed twice (TERM,
/// the grace, KILL, the reaping, whatever the check still does): a check that overruns that
/// far is one the grader failed to stop. Generous, so that a loaded machine never trips it.
fn overran(graded: &Graded) -> bool {
    graded.elapsed_s > 2.0 * graded.limit_s + 2.0
}

/// What to validate with.
pub struct Options<'a> {
    /// The kit's root folder (its `solution/` is what the mutants edit).
    pub kit: &'a Path,
    /// The grader's work folder; mutants go under `mutants/`, results under `validate/`.
    pub work: &'a Path,
    /// The grader executable that grades each mutant.
    pub grader: &'a Path,
    /// Graders running at once.
    pub jobs: usize,
    /// Extra arguments for each `grader grade` (the time scale).
    pub grade_args: Vec<String>,
}

/// Grades every mutant of each of `assignments` with all of its checks.
pub fn run(assignments: &[Assignment], options: &Options) -> Result<Vec<Row>> {
    let mut jobs = Vec::new();
    let mut named = Vec::new();
    for a in assignments.iter().filter(|a| !a.checks.is_empty()) {
        let results = options.work.join("validate").join(a.name);
        std::fs::create_dir_all(&results)
            .with_context(|| format!("cannot create {}", results.display()))?;
        for mutant in mutants::load(a.name)? {
            let dir = options.work.join("mutants").join(a.name).join(&mutant.name);
            mutants::materialise(&options.kit.join("solution"), &dir, &mutant)?;
            // Skipping off: each check proves on its own that it catches its mutants.
            let mut args = vec!["-a".to_string(), a.name.to_string(), "--no-skip".into()];
            args.extend(options.grade_args.iter().cloned());
            jobs.push(Job {
                name: format!("{}/{}", a.name, mutant.name),
                dir,
                json: results.join(format!("{}.json", mutant.name)),
                args,
            });
            named.push((a.name, mutant));
        }
    }
    let errors = batch::grade_all(options.grader, &jobs, options.jobs, true);
    let rows = jobs
        .iter()
        .zip(named)
        .map(|(job, (assignment, mutant))| Row {
            assignment: assignment.into(),
            mutant: mutant.name.clone(),
            expected: mutant.fails.iter().cloned().collect(),
            checks: std::fs::read(&job.json)
                .ok()
                .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
                .map(|v| outcomes(&v))
                .unwrap_or_default(),
            error: errors.get(&job.name).cloned(),
        })
        .collect();
    Ok(rows)
}

/// Every check's outcome in a `results.json`, by check name.
pub fn outcomes(results: &Value) -> BTreeMap<String, Graded> {
    results["tests"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| {
            let extra = &t["extra_data"];
            (
                extra["check"].as_str().unwrap_or("?").to_string(),
                Graded {
                    status: extra["status"].as_str().unwrap_or("?").to_string(),
                    elapsed_s: extra["elapsed_s"].as_f64().unwrap_or(0.0),
                    limit_s: extra["limit_s"].as_f64().unwrap_or(0.0),
                },
            )
        })
        .collect()
}

/// The table, and the problems that fail the run (none when the grader is sound).
pub fn table(rows: &[Row], assignments: &[Assignment]) -> (String, Vec<String>) {
    let mut out =
        String::from("assignment  mutant                          expected to fail → failed\n");
    let mut problems = Vec::new();
    let list = |set: &BTreeSet<String>| set.iter().cloned().collect::<Vec<_>>().join(", ");
    for row in rows {
        let failed = row.failed();
        out.push_str(&format!(
            "{:<11} {:<31} {} → {}\n",
            row.assignment,
            row.mutant,
            list(&row.expected),
            if failed.is_empty() {
                "(nothing)".into()
            } else {
                list(&failed)
            }
        ));
        let who = format!("{}: mutant `{}`", row.assignment, row.mutant);
        if let Some(why) = &row.error {
            problems.push(format!("{who} could not be graded: {why}"));
            continue;
        }
        if failed.is_empty() {
            problems.push(format!("{who} passes every check"));
        }
        for check in row.missed() {
            problems.push(format!("{who} passes `{check}`, which it names"));
        }
        for (check, graded) in &row.checks {
            if row.expected.contains(check) && graded.undecided() {
                problems.push(format!("{who}: `{check}` says {}", graded.status));
            }
            if graded.status == "timeout" && overran(graded) {
                problems.push(format!(
                    "{who}: `{check}` timed out after {} s, limit {} s",
                    graded.elapsed_s, graded.limit_s
                ));
            }
        }
    }
    for a in assignments {
        let graded: Vec<&Row> = rows.iter().filter(|r| r.assignment == a.name).collect();
        for check in &a.checks {
            if !graded.iter().any(|r| r.failed().contains(check.name)) {
                problems.push(format!("{}: no mutant fails `{}`", a.name, check.name));
            }
        }
    }
    (out, problems)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A row whose checks `x` and `y` ended with the given statuses.
    fn row(mutant: &str, expected: &[&str], x: &str, y: &str) -> Row {
        let graded = |status: &str| Graded {
            status: status.into(),
            elapsed_s: if status == "timeout" { 13.0 } else { 0.1 },
            limit_s: 5.0,
        };
        Row {
            assignment: "pipes".into(),
            mutant: mutant.into(),
            expected: expected.iter().map(|s| s.to_string()).collect(),
            checks: [("x".to_string(), graded(x)), ("y".to_string(), graded(y))].into(),
            error: None,
        }
    }

    #[test]
    fn a_mutant_that_passes_everything_or_a_named_check_fails_the_run() {
        let rows = [
            row("a", &["x"], "fail", "crash"),
            row("b", &["y"], "pass", "leak"),
            row("c", &["x"], "pass", "fail_leak"),
        ];
        let (text, problems) = table(&rows, &[]);
        assert!(text.contains("b") && text.contains("(nothing)"));
        assert!(text.contains("pipes       a                               x → x, y"));
        assert_eq!(
            problems,
            [
                "pipes: mutant `b` passes every check",
                "pipes: mutant `b` passes `y`, which it names",
                "pipes: mutant `c` passes `x`, which it names",
            ]
        );
    }

    #[test]
    fn a_check_that_cannot_judge_or_a_run_past_its_limit_fails_the_run() {
        let mut broken = row("d", &["x"], "build_failed", "timeout");
        let (_, problems) = table(std::slice::from_ref(&broken), &[]);
        assert_eq!(
            problems,
            [
                "pipes: mutant `d`: `x` says build_failed",
                "pipes: mutant `d`: `y` timed out after 13 s, limit 5 s",
            ]
        );
        broken.error = Some("grader: cannot read".into());
        broken.checks.clear();
        let (_, problems) = table(&[broken], &[]);
        assert_eq!(
            problems,
            ["pipes: mutant `d` could not be graded: grader: cannot read"]
        );
    }

    /// A skipped check fails no mutant: it can neither catch the mutant that names it nor
    /// count as the check some mutant fails.
    #[test]
    fn a_skipped_check_catches_nothing() {
        let rows = [row("e", &["y"], "fail", "skipped")];
        let y = crate::check::Check::new("y", 1, "", |_| Ok(()));
        let x = crate::check::Check::new("x", 1, "", |_| Ok(()));
        let assignment = Assignment {
            name: "pipes",
            title: "",
            package: "",
            binaries: &[],
            checks: vec![x, y.after("x")],
            tools: vec![],
        };
        let (_, problems) = table(&rows, &[assignment]);
        assert_eq!(
            problems,
            [
                "pipes: mutant `e` passes `y`, which it names",
                "pipes: mutant `e`: `y` says skipped",
                "pipes: no mutant fails `y`",
            ]
        );
    }

    #[test]
    fn outcomes_are_read_from_results_json() {
        let json = serde_json::json!({"tests": [
            {"extra_data": {"check": "x", "status": "timeout", "elapsed_s": 5.3, "limit_s": 5.0}},
        ]});
        let found = outcomes(&json);
        assert_eq!(found["x"].status, "timeout");
        assert_eq!((found["x"].elapsed_s, found["x"].limit_s), (5.3, 5.0));
        assert!(!found["x"].passed());
    }
}
