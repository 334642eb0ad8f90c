//! Gradescope's `results.json`.

use super::*;

impl Report {
    /// Gradescope's `results.json`.
    pub fn gradescope(&self) -> Gradescope {
        let tests = self
            .assignments
            .iter()
            .flat_map(|a| {
                a.checks.iter().map(move |c| {
                    let v = &c.verdict;
                    let mut output = message::escape(&v.reason);
                    if !v.details.is_empty() {
                        output.push_str("\n\n");
                        output.push_str(&message::escape_lines(&v.details));
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
                        visibility: c.visibility,
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
            output: {
                // Gradescope shows this line to students: hidden checks are not in it.
                let (score, max) = self.visible_score();
                let hidden = if max < self.max_score() {
                    " in the visible checks; hidden checks are graded too"
                } else {
                    ""
                };
                format!(
                    "IPC Lab: {score}/{max}{hidden} (isolation: {})",
                    self.setting()
                )
            },
            tests,
        }
    }
}

pub(super) fn round3(x: f64) -> f64 {
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
    /// Gradescope's `visibility`, written only when not `visible` (Gradescope's default).
    #[serde(skip_serializing_if = "Visibility::is_visible")]
    pub visibility: Visibility,
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
