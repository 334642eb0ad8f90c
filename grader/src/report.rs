//! Reports: a table for people, and Gradescope's `results.json` for CI and other tools.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::check::Visibility;
use crate::grade::{AssignmentResult, CheckResult};
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
            self.assignments
                .iter()
                .flat_map(|a| a.checks.iter().filter(|c| c.visibility.is_visible()))
        };
        (
            visible().map(|c| c.verdict.score).sum(),
            visible().map(|c| c.max_score).sum(),
        )
    }

    /// The table for people: one line per check, details under failures, totals.
    pub fn human(&self, verbose: bool) -> String {
        self.human_styled(&Style {
            verbose,
            ..Style::default()
        })
    }

    /// [`Report::human`] drawn in `style`: the same text, made of the same pieces
    /// [`Report::header`], [`section_start`], [`row`], [`section_end`] and [`Report::footer`]
    /// that the grader prints as it grades.
    pub fn human_styled(&self, style: &Style) -> String {
        let mut out = self.header();
        let width = width(
            self.assignments
                .iter()
                .flat_map(|a| a.checks.iter().map(|c| c.name.as_str())),
        );
        for a in &self.assignments {
            out.push_str(&section_start(a, &self.implementation, style));
            for c in &a.checks {
                out.push_str(&row(&a.name, c, width, style));
            }
            out.push_str(&section_end(a));
        }
        out.push_str(&self.footer());
        out
    }

    /// The report's first line.
    pub fn header(&self) -> String {
        format!(
            "IPC Lab grader — implementation: {} — isolation: {}\n",
            self.implementation,
            self.setting()
        )
    }

    /// The report's last lines: the grand total when more than one assignment was graded.
    pub fn footer(&self) -> String {
        if self.assignments.len() > 1 {
            format!("\nTOTAL {}/{}\n", self.score(), self.max_score())
        } else {
            String::new()
        }
    }

    /// One line saying where to begin: the first check that lost points (a build that failed
    /// first), with the part of its spec to read. `None` when nothing lost points.
    pub fn start_here(&self) -> Option<String> {
        for a in &self.assignments {
            let spec = format!("specs/{}.md", a.name);
            if let Some(error) = a.build_error.as_ref().filter(|e| !e.grader_side) {
                return Some(format!(
                    "Start here: {} did not build: {} (the compiler's output is above its checks)",
                    a.name,
                    message::escape(&error.reason)
                ));
            }
            let first = a.checks.iter().find(|c| {
                c.ran && c.verdict.score < c.max_score && c.verdict.status != Status::GraderError
            });
            if let Some(c) = first {
                let reason = message::escape(&c.verdict.reason);
                // A `todo!()` names its spec section: "not implemented (specs/x.md §2.1: …)".
                let section = reason
                    .find(&spec)
                    .map(|at| reason[at..].trim_end_matches(')').to_string())
                    .unwrap_or_else(|| {
                        format!("{spec}, the row of `{}` in its table of checks", c.name)
                    });
                let lesson = if c.lesson.is_empty() {
                    String::new()
                } else {
                    format!(" (lesson {})", c.lesson)
                };
                return Some(format!(
                    "Start here: {} / {} ({}) — read {section}{lesson}; then `make grade A={} ONLY={}`",
                    a.name,
                    c.name,
                    c.verdict.status.word(),
                    a.name,
                    c.name
                ));
            }
        }
        None
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

/// How the table for people is drawn.
#[derive(Debug, Clone, Default)]
pub struct Style {
    /// Details under passing checks too.
    pub verbose: bool,
    /// Status words in colour (ANSI escapes): for a terminal only.
    pub colour: bool,
    /// The statuses of the previous run (see [`LastRun`]): rows whose check passes now and did
    /// not then, or the other way round, say so.
    pub previous: Option<LastRun>,
}

/// The width of the check-name column for these names.
pub fn width<'a>(names: impl Iterator<Item = &'a str>) -> usize {
    names.map(str::len).max().unwrap_or(10)
}

/// Lines of a failed build's output shown in the report.
pub const BUILD_LOG_LINES: usize = 100;

/// An assignment's title line, and under it why it did not build: the compiler's output (the
/// first [`BUILD_LOG_LINES`] lines) and the command that shows it again.
pub fn section_start(a: &AssignmentResult, implementation: &str, style: &Style) -> String {
    let mut out = format!("\n{} — {}\n", a.name, a.title);
    let Some(error) = &a.build_error else {
        return out;
    };
    out.push_str(&format!(
        "  {}: {}\n",
        paint("BUILD FAILED", Status::BuildFailed, style),
        message::escape(&error.reason)
    ));
    if error.grader_side || error.log.trim().is_empty() {
        return out;
    }
    // Cargo's progress ("Compiling nix v0.32.0") says nothing about the error.
    let progress = |l: &&str| {
        let l = l.trim_start();
        l.starts_with("Compiling ") || l.starts_with("Blocking waiting")
    };
    let lines: Vec<&str> = error.log.lines().filter(|l| !progress(l)).collect();
    if lines.len() > BUILD_LOG_LINES {
        out.push_str(&format!(
            "  The build's output (the first {BUILD_LOG_LINES} of {} lines):\n",
            lines.len()
        ));
    } else {
        out.push_str("  The build's output:\n");
    }
    for line in lines.iter().take(BUILD_LOG_LINES) {
        out.push_str(&format!("    | {}\n", message::escape(line)));
    }
    out.push_str(&format!(
        "  To see it again: {}\n",
        reproduce(implementation, &a.name, &a.package)
    ));
    out
}

/// The command that builds one assignment of `implementation` as the grader does.
fn reproduce(implementation: &str, assignment: &str, package: &str) -> String {
    let dir = crate::run::shell_quote(implementation);
    let dir_has = |name: &str| std::path::Path::new(implementation).join(name).exists();
    let cargo = dir_has("Cargo.toml") || !dir_has("Makefile");
    if cargo {
        format!("cd {dir} && cargo build --release -p {package}")
    } else {
        format!("cd {dir} && make {assignment}")
    }
}

/// A check's line, and under it its details (a failure's, or any with `verbose`).
pub fn row(assignment: &str, c: &CheckResult, width: usize, style: &Style) -> String {
    let mut out = String::new();
    let v = &c.verdict;
    let time = if c.elapsed.as_secs_f64() >= 1.0 {
        format!(" ({} s)", message::fmt_secs(c.elapsed))
    } else {
        String::new()
    };
    let mut why = if v.status.passed() && v.reason.is_empty() {
        String::new()
    } else if v.status == Status::BuildFailed {
        "  did not build (see above)".to_string()
    } else {
        format!("  {}", message::escape(&v.reason))
    };
    let mark = c.visibility.mark();
    if !mark.is_empty() {
        why = format!("  {mark}{why}");
    }
    if let Some(change) = style
        .previous
        .as_ref()
        .and_then(|p| p.change(assignment, c))
    {
        why = format!("  {}{why}", paint_code(change, "1", style));
    }
    let word = if c.ran { v.status.word() } else { "NOT RUN" };
    let pad = " ".repeat(9usize.saturating_sub(word.len()));
    out.push_str(&format!(
        "  {}{pad} {:>2}/{:<2} {:<width$}{why}{time}\n",
        paint(word, v.status, style),
        v.score,
        c.max_score,
        c.name,
    ));
    let show = style.verbose || !matches!(v.status, Status::Pass | Status::NotImplemented);
    if show && !v.details.is_empty() {
        for line in v.details.lines() {
            out.push_str(&format!("            {}\n", message::escape(line)));
        }
    }
    out
}

/// An assignment's total line.
pub fn section_end(a: &AssignmentResult) -> String {
    format!(
        "  {:<9} {:>2}/{:<2} {}\n",
        "TOTAL",
        a.score(),
        a.max_score(),
        a.name
    )
}

/// `text` in the colour of `status` when `style` has colours: PASS green, TODO yellow, ERROR
/// magenta, every other failure red.
fn paint(text: &str, status: Status, style: &Style) -> String {
    let code = match status {
        Status::Pass => "32",
        Status::NotImplemented => "33",
        Status::GraderError => "35",
        _ => "31",
    };
    paint_code(text, code, style)
}

fn paint_code(text: &str, code: &str, style: &Style) -> String {
    if style.colour {
        format!("\x1b[{code}m{text}\x1b[0m")
    } else {
        text.to_string()
    }
}

/// The statuses of a run, by assignment and check, kept in the work folder
/// (`last-run-<slug>.json`) to tell the next run what changed.
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize)]
pub struct LastRun {
    /// "PASS", "FAIL"… by check, by assignment.
    pub statuses: BTreeMap<String, BTreeMap<String, String>>,
}

impl LastRun {
    /// The file of `implementation`'s last run in `work`.
    pub fn path(work: &std::path::Path, implementation: &std::path::Path) -> std::path::PathBuf {
        let canonical = implementation
            .canonicalize()
            .unwrap_or_else(|_| implementation.to_path_buf());
        work.join(format!("last-run-{}.json", crate::build::slug(&canonical)))
    }

    /// The last run kept at `path`, if any.
    pub fn load(path: &std::path::Path) -> Option<LastRun> {
        serde_json::from_slice(&std::fs::read(path).ok()?).ok()
    }

    /// This one with the checks of `report` that ran put in (the others kept).
    pub fn updated(&self, report: &Report) -> LastRun {
        let mut next = self.clone();
        for a in &report.assignments {
            let checks = next.statuses.entry(a.name.clone()).or_default();
            for c in a.checks.iter().filter(|c| c.ran) {
                checks.insert(c.name.clone(), c.verdict.status.word().to_string());
            }
        }
        next
    }

    /// Writes it to `path` (whole or not at all).
    pub fn save(&self, path: &std::path::Path) -> std::io::Result<()> {
        let text = serde_json::to_string_pretty(self).expect("statuses serialise");
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, text + "\n")?;
        std::fs::rename(&tmp, path)
    }

    /// "NEW PASS" for a check that passes now and did not last time, "NEW FAIL" for the other
    /// way round; `None` when it did not change, did not run, or was not graded last time.
    pub fn change(&self, assignment: &str, c: &CheckResult) -> Option<&'static str> {
        let before = self.statuses.get(assignment)?.get(&c.name)?;
        let passed = before == "PASS" || before == "LEAK";
        match (c.ran, passed, c.verdict.status.passed()) {
            (true, false, true) => Some("NEW PASS"),
            (true, true, false) => Some("NEW FAIL"),
            _ => None,
        }
    }

    /// One line: what passes now that did not last time, and what no longer passes.
    pub fn summary(&self, report: &Report) -> String {
        let (mut newly_passing, mut newly_failing) = (Vec::new(), Vec::new());
        for a in &report.assignments {
            for c in &a.checks {
                match self.change(&a.name, c) {
                    Some("NEW PASS") => newly_passing.push(format!("{}/{}", a.name, c.name)),
                    Some(_) => newly_failing.push(format!("{}/{}", a.name, c.name)),
                    None => {}
                }
            }
        }
        if newly_passing.is_empty() && newly_failing.is_empty() {
            return "Since the last run: no check changed between passing and failing.".into();
        }
        let list = |v: &[String]| {
            if v.len() > 5 {
                format!("{}, …", v[..5].join(", "))
            } else {
                v.join(", ")
            }
        };
        let mut parts = Vec::new();
        if !newly_passing.is_empty() {
            parts.push(format!(
                "{} newly passing ({})",
                newly_passing.len(),
                list(&newly_passing)
            ));
        }
        if !newly_failing.is_empty() {
            parts.push(format!(
                "{} newly failing ({})",
                newly_failing.len(),
                list(&newly_failing)
            ));
        }
        format!("Since the last run: {}.", parts.join(", "))
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

#[cfg(test)]
mod tests {
    use super::*;
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
                ran: true,
                visibility: Visibility::Visible,
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
                package: "pipes".into(),
                build_error: None,
                checks,
            }],
        }
    }

    /// A hidden check is marked in the table and hidden in results.json, and the summary line
    /// students see counts only the visible checks.
    #[test]
    fn hidden_checks_are_marked() {
        let mut report = sample();
        report.assignments[0].checks[0].name = "many-stages".into();
        report.assignments[0].checks[0].visibility = Visibility::Hidden;
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

    /// The pieces the grader prints as it grades add up to the report, and colours change
    /// nothing but the status words.
    #[test]
    fn the_live_pieces_make_the_report_and_colours_only_paint_words() {
        let report = sample();
        let style = Style::default();
        let a = &report.assignments[0];
        let w = width(a.checks.iter().map(|c| c.name.as_str()));
        let mut live = report.header() + &section_start(a, &report.implementation, &style);
        for c in &a.checks {
            live.push_str(&row(&a.name, c, w, &style));
        }
        live.push_str(&section_end(a));
        live.push_str(&report.footer());
        assert_eq!(live, report.human(false));
        let coloured = report.human_styled(&Style {
            colour: true,
            ..Style::default()
        });
        assert!(
            coloured.contains("\x1b[32mPASS\x1b[0m       2/2"),
            "{coloured}"
        );
        assert!(coloured.contains("\x1b[31mFAIL\x1b[0m"), "{coloured}");
        assert!(coloured.contains("\x1b[33mTODO\x1b[0m"), "{coloured}");
        let plain = coloured
            .replace("\x1b[0m", "")
            .replace("\x1b[31m", "")
            .replace("\x1b[32m", "")
            .replace("\x1b[33m", "");
        assert_eq!(plain, report.human(false));
    }

    /// A failed build: its output once, at the top of its section, with the command that shows
    /// it again; each row only points there.
    #[test]
    fn a_failed_build_shows_its_output_once() {
        let mut report = sample();
        let a = &mut report.assignments[0];
        a.checks.truncate(2);
        let mut log = vec!["   Compiling nix v0.32.0".to_string()];
        log.extend(
            (1..=120).map(|i| format!("src/pipe.rs:{i}:5: error[E0425]: cannot find value `x{i}`")),
        );
        a.build_error = Some(crate::build::BuildError {
            reason: "src/pipe.rs:1:5: error[E0425]: cannot find value `x1`".into(),
            log: log.join("\n"),
            grader_side: false,
        });
        for c in &mut a.checks {
            c.verdict = Verdict {
                status: Status::BuildFailed,
                score: 0,
                reason: "did not build: src/pipe.rs:1:5: error[E0425]".into(),
                details: String::new(),
            };
            c.elapsed = Duration::ZERO;
        }
        let human = report.human(false);
        assert!(human.contains("the first 100 of 120 lines"), "{human}");
        assert!(!human.contains("Compiling"), "{human}");
        assert!(human.contains("    | src/pipe.rs:100:5:"), "{human}");
        assert!(!human.contains("src/pipe.rs:101:5:"), "{human}");
        assert!(
            human.contains(
                "  To see it again: cd submissions/alice && cargo build --release -p pipes\n"
            ),
            "{human}"
        );
        assert_eq!(
            human.matches("did not build (see above)").count(),
            2,
            "{human}"
        );
        assert_eq!(
            human.matches("cannot find value `x1`").count(),
            2,
            "{human}"
        );
        let start = report.start_here().unwrap();
        assert!(
            start.starts_with("Start here: pipes did not build"),
            "{start}"
        );
    }

    /// Where to start: the first check that lost points, with the spec section a `todo!()`
    /// names; a check an interruption left out is not it.
    #[test]
    fn start_here_names_the_first_check_that_lost_points() {
        let mut report = sample();
        report.assignments[0].checks[1].ran = false;
        report.assignments[0].checks[1].verdict.reason = crate::grade::NOT_RUN.into();
        assert_eq!(
            report.start_here().unwrap(),
            "Start here: pipes / todo (TODO) — read specs/pipes.md §2.1 (lesson §5); then \
             `make grade A=pipes ONLY=todo`"
        );
    }

    /// The last run's statuses mark what changed, and say it in one line.
    #[test]
    fn changes_since_the_last_run_are_marked() {
        let report = sample();
        let mut last = LastRun::default().updated(&report);
        let checks = last.statuses.get_mut("pipes").unwrap();
        checks.insert("passes".into(), "FAIL".into());
        checks.insert("fails".into(), "PASS".into());
        checks.remove("todo");
        let human = report.human_styled(&Style {
            previous: Some(last.clone()),
            ..Style::default()
        });
        assert!(human.contains("passes   NEW PASS"), "{human}");
        assert!(
            human.contains("fails    NEW FAIL  expected exit status 2"),
            "{human}"
        );
        assert_eq!(human.matches("NEW ").count(), 2, "{human}");
        assert_eq!(
            last.summary(&report),
            "Since the last run: 1 newly passing (pipes/passes), 1 newly failing (pipes/fails)."
        );
        let dir = tempfile::tempdir().unwrap();
        let path = LastRun::path(dir.path(), dir.path());
        last.save(&path).unwrap();
        assert_eq!(LastRun::load(&path).unwrap().statuses, last.statuses);
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
