//! What CI shows: JUnit XML, GitHub Classroom's runner result, and GitHub Actions' step
//! summary and annotations.

use super::*;

/// The JUnit type word of a status.
pub(super) fn junit_type(status: Status) -> &'static str {
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
        Status::Skipped => "skipped",
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
                    // Not run: JUnit's own word for it (it earned no points all the same).
                    Status::Skipped => TestCaseStatus::skipped(),
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
                        "message": format!("{} {}", v.status.word(), message::escape(&v.reason)).trim().to_string(),
                        "test_code": format!("make grade A={} ONLY={}", a.name, c.name),
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
                    v.status.word(),
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
                            v.status.word(),
                            encode(&message::escape(&v.reason))
                        )
                    })
            })
            .collect()
    }
}
