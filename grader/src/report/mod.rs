//! Reports: a table for people (`text`), Gradescope's `results.json` (`gradescope`), what CI
//! shows (`ci`: JUnit, GitHub Classroom, GitHub Actions), and the last run's statuses
//! (`last_run`).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::check::Visibility;
use crate::grade::{AssignmentResult, CheckResult};
use crate::message;
use crate::outcome::Status;

mod ci;
mod gradescope;
mod last_run;
mod text;

pub use gradescope::{ExtraData, Gradescope, GradescopeTest};
pub use last_run::LastRun;
pub use text::{BUILD_LOG_LINES, Style, row, section_end, section_start, width};

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
}

impl Report {
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
            CheckResult {
                ran: false,
                elapsed: Duration::ZERO,
                ..check(
                    "skips",
                    2,
                    Status::Skipped,
                    0,
                    &crate::grade::skipped_reason("fails"),
                    "It begins with what `fails` checks.\n",
                )
            },
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

    /// A check skipped for its prerequisite says SKIPPED and why in every format, earns
    /// nothing, is not where to start, and is not a change since the last run.
    #[test]
    fn a_skipped_check_says_so_everywhere() {
        let report = sample();
        let human = report.human(false);
        assert!(
            human.contains(
                "  SKIPPED    0/2  skips    not run: needs `fails`, which did not pass; fix that \
                 first\n"
            ),
            "{human}"
        );
        let json = serde_json::to_value(report.gradescope()).unwrap();
        let test = &json["tests"][7];
        assert_eq!(test["status"], "failed");
        assert_eq!(test["score"], 0);
        assert_eq!(test["extra_data"]["status"], "skipped");
        assert!(test["output"].as_str().unwrap().contains("needs `fails`"));
        let junit = report.junit();
        assert!(junit.contains("<skipped"), "{junit}");
        let classroom = report.classroom();
        assert_eq!(classroom["tests"][7]["status"], "fail");
        assert!(report.markdown().contains("| SKIPPED | 0/2 | `skips` |"));
        let mut skipped_only = sample();
        for c in &mut skipped_only.assignments[0].checks[..7] {
            c.verdict.status = Status::Pass;
            c.verdict.score = c.max_score;
        }
        assert_eq!(skipped_only.start_here(), None);
        let mut last = LastRun::default().updated(&report);
        assert!(!last.statuses["pipes"].contains_key("skips"));
        last.statuses
            .get_mut("pipes")
            .unwrap()
            .insert("skips".into(), "PASS".into());
        assert_eq!(last.change("pipes", &report.assignments[0].checks[7]), None);
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
