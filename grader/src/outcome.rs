//! The verdict of a check, made by one pure function from what the check returned, what its
//! runs did, and what it left behind.

use serde::Serialize;

use crate::check::Failure;
use crate::leaks::Object;
use crate::message;
use crate::run::{End, Finished};

/// A check's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Passed, nothing left behind.
    Pass,
    /// Wrong result.
    Fail,
    /// The code it needs still panics with `todo!()`.
    NotImplemented,
    /// A run was still going at the time limit and was killed.
    Timeout,
    /// A run died of a signal nobody sent it (a segfault, an abort).
    Crash,
    /// Passed, but left IPC objects behind.
    Leak,
    /// Failed, and left IPC objects behind.
    FailLeak,
    /// The implementation did not build.
    BuildFailed,
    /// The grader could not carry out the check (a bug of the grader, reported as such).
    GraderError,
    /// Not run: a check it needs ([`crate::check::Check::after`]) did not pass.
    Skipped,
}

impl Status {
    /// The fixed-width status word of the table.
    pub fn word(self) -> &'static str {
        match self {
            Status::Pass => "PASS",
            Status::Fail => "FAIL",
            Status::NotImplemented => "TODO",
            Status::Timeout => "TIMEOUT",
            Status::Crash => "CRASH",
            Status::Leak => "LEAK",
            Status::FailLeak => "FAIL+LEAK",
            Status::BuildFailed => "NO BUILD",
            Status::GraderError => "ERROR",
            Status::Skipped => "SKIPPED",
        }
    }

    /// Whether the check earned its points (all, or all but the cleanup points).
    pub fn passed(self) -> bool {
        matches!(self, Status::Pass | Status::Leak)
    }
}

/// A decided check: its status, points, and what to tell the student.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// The status.
    pub status: Status,
    /// Points earned.
    pub score: u32,
    /// One line.
    pub reason: String,
    /// Details, possibly several paragraphs.
    pub details: String,
}

/// What the verdict is made from.
pub struct Facts<'a> {
    /// What the check returned.
    pub result: &'a Result<(), Failure>,
    /// Every run it made.
    pub runs: &'a [Finished],
    /// The IPC objects it left (already removed by the grader, but for `kept`).
    pub leaked: &'a [Object],
    /// Those of `leaked` the grader could not remove, with why: they are still there.
    pub kept: &'a [(Object, String)],
    /// Points and cleanup points.
    pub points: u32,
    pub cleanup_points: u32,
    /// Its time limit, for the message.
    pub limit: std::time::Duration,
    /// The check's hint for a timeout.
    pub timeout_hint: &'a str,
    /// How to run again the runs with these command lines (those that failed), as the student
    /// can type them: [`crate::reproduce::block`] over the check's processes.
    pub reproduce: &'a dyn Fn(&[String]) -> String,
}

/// Decides a check. In order: a `todo!()` panic makes it "not implemented"; then a run killed
/// at the time limit makes it a timeout; then a run that died of a signal the grader did not
/// send makes it a crash, if the check failed; then the check's own result; leaks cost the
/// cleanup points of a passing check and are reported on a failing one.
pub fn decide(facts: &Facts<'_>) -> Verdict {
    let verdict = |status, score, reason: String, details: String| Verdict {
        status,
        score,
        reason,
        details,
    };
    if let Some(todo) = facts.runs.iter().find_map(Finished::todo_message) {
        return verdict(
            Status::NotImplemented,
            0,
            message::not_implemented(&todo),
            String::new(),
        );
    }
    // The grader's own failure, unless a program left processes running that could have
    // caused it (taking the CPU its probe needed): then it is judged as any failure.
    if let Err(failure) = facts.result
        && failure.by_grader
        && facts
            .runs
            .iter()
            .all(|r| r.leftovers.iter().all(|l| l.zombie))
    {
        return grader_fault(facts, failure);
    }
    // What is left when the grader had to end a program: shown, never charged, no leak hint.
    let uncharged = leak_details(facts.leaked, facts.kept, Charged::No);
    let leak_details = leak_details(facts.leaked, facts.kept, Charged::Yes);
    if let Some(run) = facts.runs.iter().find(|r| r.timed_out) {
        let mut details = String::new();
        if run.stuck {
            details.push_str(
                "STUCK (what each process was doing: every one waited for another, none \
                 could move again, so the grader ended it early):\n",
            );
            for doing in &run.at_limit {
                details.push_str(&format!("    {}\n", doing.line));
            }
        } else if !run.at_limit.is_empty() {
            details.push_str("AT THE LIMIT (what each process was doing):\n");
            for doing in &run.at_limit {
                details.push_str(&format!("    {}\n", doing.line));
            }
        }
        details.push_str(&(facts.reproduce)(std::slice::from_ref(&run.command)));
        // The check's hint is about waiting for the wrong thing; a process that was running
        // at the limit tells another story.
        if run.at_limit.iter().any(|d| d.running) {
            details.push_str(&format!("HINT: {}\n", message::SPINNING_HINT));
        } else if !facts.timeout_hint.is_empty() {
            details.push_str(&format!("HINT: {}\n", facts.timeout_hint));
        }
        details.push_str(&uncharged);
        let reason = if run.stuck {
            message::stuck(run.wall, facts.limit)
        } else {
            message::timed_out(facts.limit)
        };
        return verdict(Status::Timeout, 0, reason, details);
    }
    match facts.result {
        Ok(()) if facts.leaked.is_empty() => {
            verdict(Status::Pass, facts.points, String::new(), String::new())
        }
        Ok(()) => verdict(
            Status::Leak,
            facts.points - facts.cleanup_points.min(facts.points),
            format!("left {} IPC object(s) behind", facts.leaked.len()),
            leak_details,
        ),
        Err(failure) => {
            let crashed = facts.runs.iter().find_map(|r| match r.end {
                End::Signaled {
                    signal,
                    by_grader: false,
                } if signal != libc::SIGPIPE => Some((r, signal)),
                _ => None,
            });
            // A program the grader ended (it failed to finish, or the check gave up on it)
            // had no chance to remove its objects.
            let ended_by_grader = facts.runs.iter().any(|r| {
                matches!(
                    r.end,
                    End::Signaled {
                        by_grader: true,
                        ..
                    }
                )
            });
            let (status, reason) = match crashed {
                Some((run, signal)) => (
                    Status::Crash,
                    format!(
                        "killed by {} ({})",
                        crate::run::signal_name(signal),
                        run.command.split(' ').next().unwrap_or("")
                    ),
                ),
                None if facts.leaked.is_empty() || ended_by_grader => {
                    (Status::Fail, failure.reason.clone())
                }
                None => (Status::FailLeak, failure.reason.clone()),
            };
            let mut details = with_recipe(facts, failure);
            if crashed.is_some() {
                details = format!("{}\n{details}", failure.reason);
            }
            if ended_by_grader {
                // The grader cut a program short: what it left is not held against it.
                details.push_str(&uncharged);
            } else {
                details.push_str(&leak_details);
            }
            verdict(status, 0, reason, details)
        }
    }
}

/// What the report adds to the reason of a check whose grader's own part failed.
pub const GRADER_FAULT: &str = "a failure of the grader, not of your program: the check costs you \
no points";

/// The verdict of a check whose grader's own part failed (a [`Failure::grader`]): `ERROR`, all
/// the check's points, and what is left behind listed but not held against the program (the
/// grader's probe may have left it).
fn grader_fault(facts: &Facts<'_>, failure: &Failure) -> Verdict {
    let mut details = with_recipe(facts, failure);
    if !facts.leaked.is_empty() {
        details.push_str(
            "LEFT BEHIND (the grader removed them; not counted, the check could not judge your \
             program):\n",
        );
        for object in facts.leaked {
            details.push_str(&format!("    {object}\n"));
        }
    }
    Verdict {
        status: Status::GraderError,
        score: facts.points,
        reason: format!("{} ({GRADER_FAULT})", failure.reason),
        details,
    }
}

/// The failure's details with how to run its failed runs again, before its hint.
fn with_recipe(facts: &Facts<'_>, failure: &Failure) -> String {
    crate::reproduce::insert(&failure.details, &(facts.reproduce)(&failure.failed))
}

/// Whether leftovers are held against the program.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Charged {
    /// The program ended by itself and left them: its leak, with the hint about removing.
    Yes,
    /// The grader ended a program (its limit, or the check killed it on purpose): it had no
    /// chance to remove them; no hint, which would blame it.
    No,
}

/// The LEFT BEHIND block for leaked objects; those the grader could not remove (`kept`) are
/// marked so, never said removed. Only a charged block carries the hint about removing them.
fn leak_details(leaked: &[Object], kept: &[(Object, String)], charged: Charged) -> String {
    if leaked.is_empty() {
        return String::new();
    }
    let why = match charged {
        Charged::Yes => "",
        Charged::No => " when the grader ended a program, not counted against you",
    };
    let removed = if kept.is_empty() {
        "the grader removed them"
    } else {
        "the grader removed them, but those marked NOT REMOVED"
    };
    let mut text = format!("LEFT BEHIND{why} ({removed}):\n");
    for object in leaked {
        text.push_str(&format!("    {object}  [{}]", object.removal_command()));
        if let Some((_, why)) = kept.iter().find(|(o, _)| o == object) {
            text.push_str(&format!("  NOT REMOVED: {}", message::escape(why)));
        }
        text.push('\n');
    }
    if charged == Charged::Yes {
        text.push_str(&format!("HINT: {}\n", message::LEAK_HINT));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::Captured;
    use crate::sys::IpcKind;
    use std::time::Duration;

    fn run(end: End, timed_out: bool, stderr: &str) -> Finished {
        Finished {
            command: "prog arg".into(),
            end,
            timed_out,
            at_limit: Vec::new(),
            stuck: false,
            wall: Duration::ZERO,
            cpu: Duration::ZERO,
            kernel: Duration::ZERO,
            stdout: Captured::default(),
            stderr: Captured {
                bytes: stderr.as_bytes().to_vec(),
                total: stderr.len() as u64,
            },
            compared: None,
            leftovers: Vec::new(),
        }
    }

    fn decide_with(result: Result<(), Failure>, runs: &[Finished], leaked: &[Object]) -> Verdict {
        decide(&Facts {
            result: &result,
            runs,
            leaked,
            kept: &[],
            points: 4,
            cleanup_points: 1,
            limit: Duration::from_secs(5),
            timeout_hint: "close the write end",
            reproduce: &|failed| {
                let lines: Vec<String> = failed.iter().map(|l| format!("    {l}\n")).collect();
                if lines.is_empty() {
                    String::new()
                } else {
                    format!("COMMAND:\n{}", lines.concat())
                }
            },
        })
    }

    const TODO: &str = "thread 'main' panicked at src/pipeline.rs:9:5:\n\
                        not yet implemented: specs/pipes.md §2.1: split\n";

    #[test]
    fn a_todo_panic_is_not_implemented_even_with_exit_101() {
        let v = decide_with(
            Err(Failure::new("expected exit status 0")),
            &[run(End::Exited(101), false, TODO)],
            &[],
        );
        assert_eq!(v.status, Status::NotImplemented);
        assert_eq!(v.reason, "not implemented (specs/pipes.md §2.1: split)");
        assert_eq!(v.score, 0);
    }

    #[test]
    fn a_panic_that_is_not_a_todo_is_a_plain_failure() {
        let broken_pipe =
            "thread 'main' panicked at src/main.rs:3:5:\nfailed printing to stdout: Broken pipe\n";
        let v = decide_with(
            Err(Failure::new("expected exit status 0, got exit status 101")),
            &[run(End::Exited(101), false, broken_pipe)],
            &[],
        );
        assert_eq!(v.status, Status::Fail);
    }

    #[test]
    fn the_time_limit_wins_over_the_checks_own_failure() {
        let v = decide_with(
            Err(Failure::new("output is short")),
            &[run(
                End::Signaled {
                    signal: libc::SIGTERM,
                    by_grader: true,
                },
                true,
                "",
            )],
            &[],
        );
        assert_eq!(v.status, Status::Timeout);
        assert_eq!(v.reason, "timed out after 5 s");
        assert!(v.details.contains("HINT: close the write end"));
    }

    /// A run ended early because it was stuck is a timeout that says so: when, and what each
    /// process waited for, with the check's hint.
    #[test]
    fn a_stuck_run_is_a_timeout_that_says_it_could_not_move() {
        let by_grader = End::Signaled {
            signal: libc::SIGTERM,
            by_grader: true,
        };
        let mut stuck = run(by_grader, true, "");
        stuck.stuck = true;
        stuck.wall = Duration::from_millis(1200);
        stuck.at_limit = vec![crate::run::Doing {
            line: "pid 4 (wc): sleeping in read (anon_pipe_read)".into(),
            running: false,
        }];
        let v = decide_with(Ok(()), &[stuck], &[]);
        assert_eq!(v.status, Status::Timeout);
        assert_eq!(
            v.reason,
            "stuck: nothing could move after 1.2 s (limit 5 s)"
        );
        assert!(
            v.details.contains("STUCK (what each process was doing"),
            "{}",
            v.details
        );
        assert!(!v.details.contains("AT THE LIMIT"), "{}", v.details);
        assert!(
            v.details.contains("HINT: close the write end"),
            "{}",
            v.details
        );
    }

    /// A timed-out run says what each process was doing at the limit, and the hint follows the
    /// evidence: the check's own (about waiting for the wrong thing) for sleeping processes,
    /// the one about loops for a process running on a CPU.
    #[test]
    fn a_timeout_shows_what_was_waited_for_and_hints_from_it() {
        let by_grader = End::Signaled {
            signal: libc::SIGTERM,
            by_grader: true,
        };
        let at = |line: &str, running: bool| crate::run::Doing {
            line: line.into(),
            running,
        };
        let mut sleeping = run(by_grader, true, "");
        sleeping.at_limit = vec![at("pid 3 (pipeline): sleeping in read (pipe_read)", false)];
        let v = decide_with(Ok(()), &[sleeping], &[]);
        assert!(v.details.contains("AT THE LIMIT (what each process was doing):\n    pid 3 (pipeline): sleeping in read (pipe_read)\n"), "{}", v.details);
        assert!(
            v.details.contains("HINT: close the write end"),
            "{}",
            v.details
        );
        let mut spinning = run(by_grader, true, "");
        spinning.at_limit = vec![
            at("pid 3 (pipeline): running on a CPU", true),
            at("pid 4 (cat): sleeping in read (pipe_read)", false),
        ];
        let v = decide_with(Ok(()), &[spinning], &[]);
        assert!(v.details.contains(message::SPINNING_HINT), "{}", v.details);
        assert!(!v.details.contains("close the write end"), "{}", v.details);
    }

    /// What a program left when the grader had to end it is shown, not held against it: the
    /// check fails, but not as FAIL+LEAK; a program that exited by itself and left objects is.
    #[test]
    fn leftovers_of_a_program_the_grader_ended_are_not_a_leak() {
        let leaked = [Object::SysV {
            kind: IpcKind::Msg,
            key: 1,
            id: 3,
            creator: Some(10),
        }];
        let ended = End::Signaled {
            signal: libc::SIGKILL,
            by_grader: true,
        };
        let v = decide_with(
            Err(Failure::new("no answer")),
            &[run(ended, false, "")],
            &leaked,
        );
        assert_eq!(v.status, Status::Fail);
        assert!(
            v.details
                .contains("LEFT BEHIND when the grader ended a program, not counted"),
            "{}",
            v.details
        );
        assert!(
            !v.details.contains(message::LEAK_HINT),
            "no hint blames the program for what it could not remove: {}",
            v.details
        );
        let v = decide_with(
            Err(Failure::new("no answer")),
            &[run(End::Exited(0), false, "")],
            &leaked,
        );
        assert_eq!(v.status, Status::FailLeak);
    }

    #[test]
    fn a_signal_nobody_sent_is_a_crash() {
        let segv = End::Signaled {
            signal: libc::SIGSEGV,
            by_grader: false,
        };
        let v = decide_with(Err(Failure::new("no output")), &[run(segv, false, "")], &[]);
        assert_eq!(v.status, Status::Crash);
        assert_eq!(v.reason, "killed by signal 11 (SIGSEGV) (prog)");
    }

    #[test]
    fn leaks_cost_the_cleanup_points_of_a_pass() {
        let leaked = [Object::SysV {
            kind: IpcKind::Shm,
            id: 3,
            key: 1,
            creator: Some(10),
        }];
        let v = decide_with(Ok(()), &[run(End::Exited(0), false, "")], &leaked);
        assert_eq!((v.status, v.score), (Status::Leak, 3));
        assert!(v.details.contains("ipcrm -m 3"));
        let v = decide_with(
            Err(Failure::new("wrong")),
            &[run(End::Exited(1), false, "")],
            &leaked,
        );
        assert_eq!((v.status, v.score), (Status::FailLeak, 0));
    }

    #[test]
    fn a_failure_of_the_graders_own_probe_is_an_error_that_costs_nothing() {
        let leaked = [Object::SysV {
            kind: IpcKind::Sem,
            id: 7,
            key: 2,
            creator: None,
        }];
        let v = decide_with(
            Err(Failure::grader("the grader's own probe did not finish")),
            &[run(End::Exited(0), false, "")],
            &leaked,
        );
        assert_eq!((v.status, v.score), (Status::GraderError, 4));
        assert!(
            v.reason
                .starts_with("the grader's own probe did not finish (")
        );
        assert!(v.reason.contains("costs you no points"));
        assert!(v.details.contains("not counted"));
        assert!(!v.details.contains("HINT"), "no hint blames the program");
        // A program that left a process running may have starved the probe: a failure.
        let mut left = run(End::Exited(0), false, "");
        left.leftovers.push(crate::run::Leftover {
            pid: 42,
            comm: "spin".into(),
            zombie: false,
        });
        let v = decide_with(
            Err(Failure::grader("the grader's own probe did not finish")),
            &[left],
            &[],
        );
        assert_eq!((v.status, v.score), (Status::Fail, 0));
        // A program that is not implemented is still not implemented.
        let v = decide_with(
            Err(Failure::grader("the grader's own probe did not finish")),
            &[run(End::Exited(101), false, TODO)],
            &[],
        );
        assert_eq!((v.status, v.score), (Status::NotImplemented, 0));
    }

    #[test]
    fn a_clean_pass_earns_every_point() {
        let v = decide_with(Ok(()), &[run(End::Exited(0), false, "")], &[]);
        assert_eq!((v.status, v.score), (Status::Pass, 4));
    }
}
