//! Reports: a table for people, and Gradescope's `results.json` for CI and other tools.

use serde::Serialize;

use crate::grade::AssignmentResult;
use crate::message;
use crate::outcome::Status;

/// Everything graded in one run.
#[derive(Debug, Clone)]
pub struct Report {
    /// The implementation folder, as given.
    pub implementation: String,
    /// How IPC objects were attributed to checks.
    pub isolation: crate::isolation::Isolation,
    /// The graded assignments.
    pub assignments: Vec<AssignmentResult>,
}

impl Report {
    /// Points earned.
    pub fn score(&self) -> u32 {
        self.assignments.iter().map(|a| a.score()).sum()
    }

    /// Points available.
    pub fn max_score(&self) -> u32 {
        self.assignments.iter().map(|a| a.max_score()).sum()
    }

    /// The table for people: one line per check, details under failures, totals.
    pub fn human(&self, verbose: bool) -> String {
        let mut out = String::new();
        out.push_str(&format!(
            "IPC Lab grader — implementation: {} — isolation: {}\n",
            self.implementation,
            self.isolation.describe()
        ));
        let width = self
            .assignments
            .iter()
            .flat_map(|a| a.checks.iter().map(|c| c.name.len()))
            .max()
            .unwrap_or(10);
        for a in &self.assignments {
            out.push_str(&format!("\n{} — {}\n", a.name, a.title));
            if let Some(error) = &a.build_error {
                out.push_str(&format!(
                    "  BUILD FAILED: {}\n",
                    message::escape(&error.reason)
                ));
            }
            for c in &a.checks {
                let v = &c.verdict;
                let time = if c.elapsed.as_secs_f64() >= 1.0 {
                    format!(" ({} s)", message::fmt_secs(c.elapsed))
                } else {
                    String::new()
                };
                let why = if v.status.passed() && v.reason.is_empty() {
                    String::new()
                } else {
                    format!("  {}", message::escape(&v.reason))
                };
                out.push_str(&format!(
                    "  {:<9} {:>2}/{:<2} {:<width$}{why}{time}\n",
                    message::status_word(v.status),
                    v.score,
                    c.max_score,
                    c.name,
                ));
                let show = verbose || !matches!(v.status, Status::Pass | Status::NotImplemented);
                if show && !v.details.is_empty() {
                    for line in v.details.lines() {
                        out.push_str(&format!("            {line}\n"));
                    }
                }
            }
            out.push_str(&format!(
                "  {:<9} {:>2}/{:<2} {}\n",
                "TOTAL",
                a.score(),
                a.max_score(),
                a.name
            ));
        }
        if self.assignments.len() > 1 {
            out.push_str(&format!("\nTOTAL {}/{}\n", self.score(), self.max_score()));
        }
        out
    }

    /// Gradescope's `results.json`.
    pub fn gradescope(&self) -> Gradescope {
        let tests = self
            .assignments
            .iter()
            .flat_map(|a| {
                a.checks.iter().map(move |c| {
                    let v = &c.verdict;
                    let mut output = v.reason.clone();
                    if !v.details.is_empty() {
                        output.push_str("\n\n");
                        output.push_str(&v.details);
                    }
                    if !c.about.is_empty() {
                        output = format!("{}\n\n{output}", c.about);
                    }
                    GradescopeTest {
                        name: format!("{}: {}", a.name, c.name),
                        score: v.score,
                        max_score: c.max_score,
                        status: if v.status.passed() {
                            "passed"
                        } else {
                            "failed"
                        },
                        output: output.trim().to_string(),
                        tags: vec![a.name.clone()],
                        extra_data: ExtraData {
                            assignment: a.name.clone(),
                            check: c.name.clone(),
                            status: v.status,
                            lesson: c.lesson.clone(),
                            elapsed_s: round3(c.elapsed.as_secs_f64()),
                            limit_s: round3(c.limit.as_secs_f64()),
                        },
                    }
                })
            })
            .collect();
        Gradescope {
            score: self.score(),
            max_score: self.max_score(),
            output: format!(
                "IPC Lab: {}/{} (isolation: {})",
                self.score(),
                self.max_score(),
                self.isolation.describe()
            ),
            tests,
        }
    }
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// Gradescope's `results.json` (the fields IPC Lab fills).
#[derive(Debug, Serialize)]
pub struct Gradescope {
    /// Points earned in all.
    pub score: u32,
    /// Points available in all.
    pub max_score: u32,
    /// A line above the tests.
    pub output: String,
    /// One entry per check.
    pub tests: Vec<GradescopeTest>,
}

/// One check in `results.json`.
#[derive(Debug, Serialize)]
pub struct GradescopeTest {
    /// "assignment: check".
    pub name: String,
    /// Points earned.
    pub score: u32,
    /// Points available.
    pub max_score: u32,
    /// "passed" or "failed".
    pub status: &'static str,
    /// What it checks, the reason and the details.
    pub output: String,
    /// The assignment's name.
    pub tags: Vec<String>,
    /// IPC Lab's own fields: the precise status and timings.
    pub extra_data: ExtraData,
}

/// IPC Lab's fields in a `results.json` test.
#[derive(Debug, Serialize)]
pub struct ExtraData {
    /// The assignment.
    pub assignment: String,
    /// The check.
    pub check: String,
    /// The precise status (timeout, crash, leak… are statuses of their own).
    pub status: Status,
    /// The lesson paragraphs.
    pub lesson: String,
    /// Seconds the check took.
    pub elapsed_s: f64,
    /// Its time limit in seconds.
    pub limit_s: f64,
}
