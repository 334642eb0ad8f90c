//! Reports: a table for people, and Gradescope's `results.json` for CI and other tools.

use serde::Serialize;

use crate::check::Visibility;
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
    /// How the submission was built (see [`crate::build::Staged::describe`]).
    pub build: String,
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

    /// How checks and builds were isolated, in the header's words.
    fn setting(&self) -> String {
        format!("{}; build: {}", self.isolation.describe(), self.build)
    }

    /// Points earned and available in the checks a student sees (hidden ones left out).
    fn visible_score(&self) -> (u32, u32) {
        let visible = || {
            self.assignments.iter().flat_map(|a| {
                a.checks
                    .iter()
                    .filter(|c| visibility(&a.name, &c.name).is_visible())
            })
        };
        (
            visible().map(|c| c.verdict.score).sum(),
            visible().map(|c| c.max_score).sum(),
        )
    }

    /// The table for people: one line per check, details under failures, totals.
    pub fn human(&self, verbose: bool) -> String {
        let mut out = String::new();
        out.push_str(&format!(
            "IPC Lab grader — implementation: {} — isolation: {}\n",
            self.implementation,
            self.setting()
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
                let mut why = if v.status.passed() && v.reason.is_empty() {
                    String::new()
                } else {
                    format!("  {}", message::escape(&v.reason))
                };
                let mark = visibility(&a.name, &c.name).mark();
                if !mark.is_empty() {
                    why = format!("  {mark}{why}");
                }
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
                        out.push_str(&format!("            {}\n", message::escape(line)));
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
                        visibility: visibility(&a.name, &c.name),
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

/// Who sees a check's result, as its assignment declares it (visible for a check this grader
/// does not know).
pub fn visibility(assignment: &str, check: &str) -> Visibility {
    use std::collections::BTreeMap;
    static ALL: std::sync::OnceLock<BTreeMap<(String, String), Visibility>> =
        std::sync::OnceLock::new();
    let all = ALL.get_or_init(|| {
        crate::assignments::all()
            .iter()
            .flat_map(|a| {
                a.checks
                    .iter()
                    .map(|c| ((a.name.to_string(), c.name.to_string()), c.visibility))
            })
            .collect()
    });
    all.get(&(assignment.to_string(), check.to_string()))
        .copied()
        .unwrap_or_default()
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

/// The JUnit type word of a status.
fn junit_type(status: Status) -> &'static str {
    match status {
        Status::Pass => "pass",
        Status::Fail => "failure",
        Status::NotImplemented => "not implemented",
        Status::Timeout => "timeout",
        Status::Crash => "crash",
        Status::Leak => "leak",
        Status::FailLeak => "failure and leak",
        Status::BuildFailed => "build failed",
        Status::GraderError => "grader error",
    }
}

impl Report {
    /// JUnit XML: a suite per assignment, a case per check; timeouts, crashes and leaks say so
    /// in the failure's type and message. A passing check that leaked is a failure here, so
    /// that CI test views show it.
    pub fn junit(&self) -> String {
        use quick_junit::{NonSuccessKind, TestCase, TestCaseStatus, TestSuite};
        let mut report = quick_junit::Report::new("ipc-lab");
        for a in &self.assignments {
            let mut suite = TestSuite::new(a.name.as_str());
            for c in &a.checks {
                let v = &c.verdict;
                let mut status = match v.status {
                    Status::Pass => TestCaseStatus::success(),
                    Status::BuildFailed | Status::GraderError => {
                        TestCaseStatus::non_success(NonSuccessKind::Error)
                    }
                    _ => TestCaseStatus::non_success(NonSuccessKind::Failure),
                };
                if v.status != Status::Pass {
                    status.set_type(junit_type(v.status));
                    status.set_message(format!(
                        "{} ({}/{} points)",
                        message::escape(&v.reason),
                        v.score,
                        c.max_score
                    ));
                    if !v.details.is_empty() {
                        status.set_description(message::escape_lines(&v.details));
                    }
                }
                let mut case = TestCase::new(c.name.as_str(), status);
                case.set_classname(format!("ipc-lab.{}", a.name));
                case.set_time(c.elapsed);
                suite.add_test_case(case);
            }
            report.add_test_suite(suite);
        }
        report.to_string().unwrap_or_default()
    }

    /// GitHub Classroom's runner result (what its grading reporter decodes from a step's
    /// `result` output, base64-encoded): every check a test with its score.
    pub fn classroom(&self) -> serde_json::Value {
        let tests: Vec<serde_json::Value> = self
            .assignments
            .iter()
            .flat_map(|a| {
                a.checks.iter().map(move |c| {
                    let v = &c.verdict;
                    serde_json::json!({
                        "name": format!("{}: {}", a.name, c.name),
                        "status": match v.status {
                            Status::Pass => "pass",
                            Status::BuildFailed | Status::GraderError => "error",
                            _ => "fail",
                        },
                        "score": v.score,
                        "message": format!("{} {}", message::status_word(v.status), message::escape(&v.reason)).trim().to_string(),
                        "test_code": format!("make grade A={} (check {})", a.name, c.name),
                        "execution_time": format!("{:.2}s", c.elapsed.as_secs_f64()),
                    })
                })
            })
            .collect();
        let status = if self.score() == self.max_score() {
            "pass"
        } else {
            "fail"
        };
        serde_json::json!({
            "version": 1,
            "status": status,
            "max_score": self.max_score(),
            "tests": tests,
        })
    }

    /// A Markdown summary (for `$GITHUB_STEP_SUMMARY`): a table per assignment.
    pub fn markdown(&self) -> String {
        let mut out = format!(
            "## IPC Lab: {}/{} points\n\nImplementation `{}`; isolation: {}.\n",
            self.score(),
            self.max_score(),
            self.implementation,
            self.setting()
        );
        for a in &self.assignments {
            out.push_str(&format!(
                "\n### {} — {}/{}\n\n| status | points | check | reason |\n|---|---:|---|---|\n",
                a.name,
                a.score(),
                a.max_score()
            ));
            for c in &a.checks {
                let v = &c.verdict;
                let reason = message::escape(&v.reason).replace('|', "\\|");
                out.push_str(&format!(
                    "| {} | {}/{} | `{}` | {} |\n",
                    message::status_word(v.status),
                    v.score,
                    c.max_score,
                    c.name,
                    reason
                ));
            }
        }
        out
    }

    /// GitHub Actions workflow commands: an error annotation per check that lost points.
    pub fn annotations(&self) -> Vec<String> {
        // Workflow commands end at a newline and treat % specially: encode both.
        let encode = |s: &str| {
            s.replace('%', "%25")
                .replace('\r', "%0D")
                .replace('\n', "%0A")
        };
        self.assignments
            .iter()
            .flat_map(|a| {
                a.checks
                    .iter()
                    .filter(|c| c.verdict.score < c.max_score)
                    .map(move |c| {
                        let v = &c.verdict;
                        format!(
                            "::error title={}/{} ({})::{}",
                            a.name,
                            c.name,
                            message::status_word(v.status),
                            encode(&message::escape(&v.reason))
                        )
                    })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grade::CheckResult;
    use crate::isolation::Isolation;
    use crate::outcome::Verdict;
    use std::time::Duration;

    /// A report with one check of every status, as the formats must show them.
    fn sample() -> Report {
        let check =
            |name: &str, max: u32, status, score, reason: &str, details: &str| CheckResult {
                name: name.into(),
                max_score: max,
                lesson: "§5".into(),
                about: format!("what {name} verifies"),
                limit: Duration::from_secs(5),
                elapsed: Duration::from_millis(1500),
                verdict: Verdict {
                    status,
                    score,
                    reason: reason.into(),
                    details: details.into(),
                },
            };
        let checks = vec![
            check("passes", 2, Status::Pass, 2, "", ""),
            check(
                "fails",
                2,
                Status::Fail,
                0,
                "expected exit status 2, got exit status 1",
                "COMMAND:\n    pipeline\n",
            ),
            check(
                "todo",
                1,
                Status::NotImplemented,
                0,
                "not implemented (specs/pipes.md §2.1)",
                "",
            ),
            check(
                "hangs",
                2,
                Status::Timeout,
                0,
                "timed out after 5 s",
                "HINT: close the write end\n",
            ),
            check(
                "crashes",
                1,
                Status::Crash,
                0,
                "killed by signal 11 (SIGSEGV) (pipeline)",
                "",
            ),
            check(
                "leaks",
                3,
                Status::Leak,
                2,
                "left 1 IPC object(s) behind",
                "LEFT BEHIND (the grader removed them):\n    SysV message queue id 3, key 0x00000001  [ipcrm -q 3]\n",
            ),
            check("escapes", 1, Status::Fail, 0, "output \x1b[31mred|bar", ""),
        ];
        Report {
            implementation: "submissions/alice".into(),
            isolation: Isolation {
                namespaces: true,
                pid_namespaces: true,
                user: Some((65534, 65534)),
            },
            build: "sandboxed (uid 65534)".into(),
            assignments: vec![crate::grade::AssignmentResult {
                name: "pipes".into(),
                title: "Pipes".into(),
                build_error: None,
                checks,
            }],
        }
    }

    /// A hidden check is marked in the table and hidden in results.json, and the summary line
    /// students see counts only the visible checks.
    #[cfg(feature = "instructor")]
    #[test]
    fn hidden_checks_are_marked() {
        let mut report = sample();
        report.assignments[0].checks[0].name = "many-stages".into();
        assert!(report.human(false).contains("many-stages  [hidden]"));
        let json = serde_json::to_value(report.gradescope()).unwrap();
        assert_eq!(json["tests"][0]["visibility"], "hidden");
        assert!(json["tests"][1].get("visibility").is_none());
        let hidden = &report.assignments[0].checks[0];
        let (score, max) = (
            report.score() - hidden.verdict.score,
            report.max_score() - hidden.max_score,
        );
        let output = json["output"].as_str().unwrap();
        assert!(
            output.starts_with(&format!(
                "IPC Lab: {score}/{max} in the visible checks; hidden checks are graded too"
            )),
            "{output}"
        );
    }

    /// Escape sequences in a reason or in details reach no format raw.
    #[test]
    fn escapes_reach_no_format_raw() {
        let mut report = sample();
        report.assignments[0].checks[1].verdict.details =
            "LEFT BEHIND:\n    pid 7 (\x1b[2Jx): still running\r\n".into();
        let json = serde_json::to_string(&report.gradescope()).unwrap();
        let texts = [
            report.human(true),
            report.markdown(),
            report.junit(),
            report.classroom().to_string(),
            report.annotations().join("\n"),
            serde_json::from_str::<serde_json::Value>(&json)
                .unwrap()
                .to_string(),
        ];
        for text in &texts {
            assert!(
                !text.contains('\x1b') && !text.contains("\\u001b"),
                "{text}"
            );
        }
        let parsed: serde_json::Value = serde_json::from_str(&json).unwrap();
        let output = parsed["tests"][1]["output"].as_str().unwrap();
        assert!(
            output.contains("pid 7 (\\x1b[2Jx): still running\\x0d"),
            "{output}"
        );
    }

    #[test]
    fn human() {
        insta::assert_snapshot!(sample().human(false));
    }

    #[test]
    fn gradescope() {
        insta::assert_json_snapshot!(sample().gradescope());
    }

    #[test]
    fn junit() {
        insta::assert_snapshot!(sample().junit());
    }

    #[test]
    fn classroom() {
        insta::assert_json_snapshot!(sample().classroom());
    }

    #[test]
    fn markdown_and_annotations() {
        insta::assert_snapshot!(format!(
            "{}\n{}",
            sample().markdown(),
            sample().annotations().join("\n")
        ));
    }
}
