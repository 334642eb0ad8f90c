//! Shapes of checks the assignments share, written as data: a table of cases and a rule that
//! judges each the same way, so that an assignment states *what* it expects and the shape runs
//! it. Today one shape: usage errors, malformed command lines a program must refuse.
//!
//! ```ignore
//! let rule = UsageRule::new()
//!     .exit(2)
//!     .stderr_starts("{program}: usage:")
//!     .stdout_empty()
//!     .nothing_created(Created::anywhere("a malformed command line created the queue"));
//! shapes::usage_errors(ctx, &rule, &[UsageCase::new("msgq-server", ["--id", "0", path])])
//! ```
//!
//! A rule is a list of judgments, made in the order they were added; a case's failure is the
//! first judgment it fails, worded as the assignments worded it before (the `expect`
//! helpers' failures, or the wording a judgment's fields give). [`UsageRule::hinted`] adds a
//! hint to the failures of the judgment added last.

use crate::check::{Ctx, Failure, ensure};
use crate::expect;
use crate::leaks::{Object, Snapshot};
use crate::message;
use crate::run::{Finished, Input};

/// One malformed command line: the program, its arguments, and the phrase its message must
/// hold when the rule asks for one ([`UsageRule::two_lines`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageCase {
    /// The implementation's binary, as `Ctx::cmd` names it.
    pub program: String,
    pub args: Vec<String>,
    pub phrase: Option<String>,
}

impl UsageCase {
    /// `program` with `args`, no phrase.
    pub fn new<I, S>(program: &str, args: I) -> UsageCase
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        UsageCase {
            program: program.to_string(),
            args: args.into_iter().map(|a| a.as_ref().to_string()).collect(),
            phrase: None,
        }
    }

    /// The phrase the first line of stderr must hold.
    pub fn phrase(mut self, phrase: &str) -> UsageCase {
        self.phrase = Some(phrase.to_string());
        self
    }
}

/// Where [`Created`] looks for the IPC objects a rejected command line must not create.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Every SysV queue, segment and semaphore set, and every entry of `/dev/shm`.
    Everything,
    /// The entries of `/dev/shm` only (POSIX shared memory and named semaphores).
    DevShm,
}

/// "Nothing created": no IPC object of its [`Scope`] appeared while the case ran (a snapshot
/// of every object before the case and after it), and how the failure is worded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Created {
    scope: Scope,
    reason: String,
    listed: bool,
    detail: Option<String>,
}

impl Created {
    /// Judged on every IPC object; the failure's reason is `reason`, where `{names}` stands
    /// for the new objects' names joined by ", " (a SysV object as the leak report names it,
    /// an entry of `/dev/shm` by its name there).
    pub fn anywhere(reason: &str) -> Created {
        Created {
            scope: Scope::Everything,
            reason: reason.to_string(),
            listed: false,
            detail: None,
        }
    }

    /// Judged on the entries of `/dev/shm` only; `reason` as in [`Created::anywhere`].
    pub fn in_dev_shm(reason: &str) -> Created {
        Created {
            scope: Scope::DevShm,
            ..Created::anywhere(reason)
        }
    }

    /// The failure lists the new objects, one a line, under `CREATED:`.
    pub fn listed(mut self) -> Created {
        self.listed = true;
        self
    }

    /// A paragraph of the failure after the list (a hint of this judgment only;
    /// [`UsageRule::hinted`] adds one to every failure of the judgment).
    pub fn detail(mut self, text: &str) -> Created {
        self.detail = Some(text.to_string());
        self
    }

    fn in_scope(&self, object: &Object) -> bool {
        match self.scope {
            Scope::Everything => true,
            Scope::DevShm => matches!(object, Object::PosixShm { .. }),
        }
    }
}

/// One judgment of a rejected command line.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Judgment {
    Exit(i32),
    StderrStarts(String),
    StdoutEmpty,
    UsageLine,
    TwoLines,
    NothingCreated(Created),
}

/// How every case of a table is judged: its judgments in order, each with an optional hint,
/// the usage line of each program, and the runs' stdin.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UsageRule {
    judgments: Vec<(Judgment, Option<String>)>,
    usage: Vec<(String, String)>,
    stdin_null: bool,
}

impl UsageRule {
    /// A rule that judges nothing yet.
    pub fn new() -> UsageRule {
        UsageRule::default()
    }

    fn with(mut self, judgment: Judgment) -> UsageRule {
        self.judgments.push((judgment, None));
        self
    }

    /// The program exits with `code` ([`expect::exit_code`]).
    pub fn exit(self, code: i32) -> UsageRule {
        self.with(Judgment::Exit(code))
    }

    /// Its stderr starts with `prefix`, where `{program}` stands for the program's name
    /// ([`expect::stderr_starts`]).
    pub fn stderr_starts(self, prefix: &str) -> UsageRule {
        self.with(Judgment::StderrStarts(prefix.to_string()))
    }

    /// It writes nothing on stdout ([`expect::stdout_empty`]).
    pub fn stdout_empty(self) -> UsageRule {
        self.with(Judgment::StdoutEmpty)
    }

    /// Some line of its stderr is exactly the program's usage line ([`UsageRule::usage`]).
    pub fn usage_line(self) -> UsageRule {
        self.with(Judgment::UsageLine)
    }

    /// Its stderr is exactly two lines: `{program}: ` and a line holding the case's phrase,
    /// then the program's usage line ([`UsageRule::usage`]).
    pub fn two_lines(self) -> UsageRule {
        self.with(Judgment::TwoLines)
    }

    /// It creates no IPC object ([`Created`]).
    pub fn nothing_created(self, created: Created) -> UsageRule {
        self.with(Judgment::NothingCreated(created))
    }

    /// The failures of the judgment added last end with `hint`.
    pub fn hinted(mut self, hint: &str) -> UsageRule {
        if let Some((_, slot)) = self.judgments.last_mut() {
            *slot = Some(hint.to_string());
        }
        self
    }

    /// `program`'s usage line, for [`UsageRule::usage_line`] and [`UsageRule::two_lines`].
    pub fn usage(mut self, program: &str, line: &str) -> UsageRule {
        self.usage.push((program.to_string(), line.to_string()));
        self
    }

    /// Every case runs with stdin `/dev/null`.
    pub fn stdin_null(mut self) -> UsageRule {
        self.stdin_null = true;
        self
    }

    /// Whether a judgment needs snapshots of the IPC objects.
    fn watches(&self) -> bool {
        self.judgments
            .iter()
            .any(|(j, _)| matches!(j, Judgment::NothingCreated(_)))
    }

    /// Judges one finished `run` of `case`; `added` gives the IPC objects that appeared while
    /// it ran (asked only if a judgment needs them).
    pub fn judge(
        &self,
        case: &UsageCase,
        run: &Finished,
        added: impl FnOnce() -> Vec<Object>,
    ) -> Result<(), Failure> {
        let mut added = Some(added);
        for (judgment, hint) in &self.judgments {
            let result = match judgment {
                Judgment::Exit(code) => expect::exit_code(run, *code),
                Judgment::StderrStarts(prefix) => {
                    expect::stderr_starts(run, &prefix.replace("{program}", &case.program))
                }
                Judgment::StdoutEmpty => expect::stdout_empty(run),
                Judgment::UsageLine => self.usage_line_of(case, run),
                Judgment::TwoLines => self.two_lines_of(case, run),
                Judgment::NothingCreated(created) => {
                    let objects = added.take().map(|f| f()).unwrap_or_default();
                    nothing_created(created, &objects, run)
                }
            };
            result.map_err(|f| match hint {
                Some(hint) => f.detail(hint),
                None => f,
            })?;
        }
        Ok(())
    }

    fn usage_of(&self, program: &str) -> Result<&str, Failure> {
        self.usage
            .iter()
            .find(|(p, _)| p == program)
            .map(|(_, line)| line.as_str())
            .ok_or_else(|| Failure::grader(format!("no usage line of {program} (a grader bug)")))
    }

    fn usage_line_of(&self, case: &UsageCase, run: &Finished) -> Result<(), Failure> {
        let usage = self.usage_of(&case.program)?;
        ensure(run.stderr.text().lines().any(|l| l == usage), || {
            Failure::new("the usage line is missing from stderr")
                .detail(format!("EXPECTED A LINE:\n{}", message::block(usage)))
                .detail(format!("STDERR:\n{}", message::block(&run.stderr.text())))
                .command(run)
        })
    }

    fn two_lines_of(&self, case: &UsageCase, run: &Finished) -> Result<(), Failure> {
        let usage = self.usage_of(&case.program)?;
        let (bin, phrase) = (&case.program, case.phrase.as_deref().unwrap_or_default());
        let text = run.stderr.text();
        let lines: Vec<&str> = text.lines().collect();
        let ok = lines.len() == 2
            && lines[0].starts_with(&format!("{bin}: "))
            && lines[0].contains(phrase)
            && lines[1] == usage;
        ensure(ok, || {
            Failure::new(format!(
                "expected two lines on stderr: `{bin}: …{phrase}…` then the usage line"
            ))
            .detail(format!(
                "EXPECTED STDERR:\n{}",
                message::block(&format!("{bin}: …{phrase}…\n{usage}\n"))
            ))
            .detail(format!("STDERR:\n{}", message::block(&text)))
            .command(run)
        })
    }
}

/// The name of a new object in a failure: a SysV object as the leak report names it, an
/// entry of `/dev/shm` by its name there.
fn name_of(object: &Object) -> String {
    match object {
        Object::PosixShm { name, .. } => name.to_string_lossy().into_owned(),
        sysv => sysv.to_string(),
    }
}

fn nothing_created(created: &Created, added: &[Object], run: &Finished) -> Result<(), Failure> {
    let names: Vec<String> = added
        .iter()
        .filter(|o| created.in_scope(o))
        .map(name_of)
        .collect();
    ensure(names.is_empty(), || {
        let mut failure = Failure::new(created.reason.replace("{names}", &names.join(", ")));
        if created.listed {
            failure = failure.detail(format!("CREATED:\n    {}", names.join("\n    ")));
        }
        if let Some(detail) = &created.detail {
            failure = failure.detail(detail);
        }
        failure.command(run)
    })
}

/// Runs every case in order, each a fresh run of its program, and judges it by `rule`; the
/// first case that fails is the failure. When the rule judges "nothing created", every IPC
/// object is read before and after each case.
pub fn usage_errors(ctx: &Ctx, rule: &UsageRule, cases: &[UsageCase]) -> Result<(), Failure> {
    for case in cases {
        let before = rule.watches().then(Snapshot::take);
        let mut spec = ctx.cmd(&case.program, &case.args);
        if rule.stdin_null {
            spec = spec.stdin(Input::Null);
        }
        let run = ctx.run(spec)?;
        rule.judge(case, &run, || match &before {
            Some(before) => Snapshot::take().added_since(before),
            None => Vec::new(),
        })?;
    }
    Ok(())
}

/// A program that failed as the handouts' common convention says: exit status `code`, stderr
/// `PROGRAM: message` (a message not empty), for status 2 a `usage: …` line next, nothing on
/// stdout.
pub fn error_exit(run: &Finished, program: &str, code: i32) -> Result<(), Failure> {
    expect::exit_code(run, code)?;
    expect::stderr_starts(run, &format!("{program}: "))?;
    let text = run.stderr.text();
    let first = text.lines().next().unwrap_or("");
    ensure(first.len() > program.len() + 2, || {
        Failure::new(format!("the message after `{program}: ` is empty")).command(run)
    })?;
    if code == 2 {
        ensure(
            text.lines()
                .nth(1)
                .is_some_and(|l| l.starts_with("usage: ")),
            || {
                Failure::new("expected a second line `usage: …` on stderr for status 2")
                    .detail(format!("STDERR:\n{}", crate::message::block(&text)))
                    .command(run)
            },
        )?;
    }
    expect::stdout_empty(run)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::{Captured, End};
    use crate::sys::IpcKind;
    use std::time::Duration;

    fn captured(text: &str) -> Captured {
        Captured {
            bytes: text.as_bytes().to_vec(),
            total: text.len() as u64,
        }
    }

    fn run(code: i32, stdout: &str, stderr: &str) -> Finished {
        Finished {
            command: "prog arg".into(),
            end: End::Exited(code),
            timed_out: false,
            at_limit: Vec::new(),
            stuck: false,
            wall: Duration::ZERO,
            cpu: Duration::ZERO,
            kernel: Duration::ZERO,
            stdout: captured(stdout),
            stderr: captured(stderr),
            compared: None,
            leftovers: Vec::new(),
        }
    }

    fn queue() -> Object {
        Object::SysV {
            kind: IpcKind::Msg,
            id: 7,
            key: 0x5a01_0203,
            creator: None,
        }
    }

    fn shm(name: &str) -> Object {
        Object::PosixShm {
            name: name.into(),
            folder: false,
        }
    }

    fn msgq_rule() -> UsageRule {
        UsageRule::new()
            .exit(2)
            .stderr_starts("{program}: usage:")
            .stdout_empty()
            .nothing_created(
                Created::anywhere("a malformed command line created the queue")
                    .detail("HINT: parse the whole command line before ftok and msgget."),
            )
    }

    #[test]
    fn judgments_run_in_order_and_the_first_failure_is_the_case_s() {
        let case = UsageCase::new("msgq-server", ["--id", "0"]);
        let rule = msgq_rule();
        let good = run(2, "", "msgq-server: usage: msgq-server [--id N] PATH\n");
        assert_eq!(rule.judge(&case, &good, Vec::new), Ok(()));
        // Exit 1 and a wrong prefix: the exit status is judged first.
        let f = rule
            .judge(&case, &run(1, "", "oops\n"), Vec::new)
            .unwrap_err();
        assert_eq!(f.reason, "expected exit status 2, got exit status 1");
        let f = rule
            .judge(&case, &run(2, "x", "oops\n"), Vec::new)
            .unwrap_err();
        assert_eq!(
            f.reason,
            "expected stderr to start with \"msgq-server: usage:\""
        );
    }

    #[test]
    fn nothing_created_words_the_failure_as_the_fields_say() {
        let case = UsageCase::new("msgq-client", ["PATH"]);
        let good = run(2, "", "msgq-client: usage: …\n");
        let f = msgq_rule()
            .judge(&case, &good, || vec![queue()])
            .unwrap_err();
        assert_eq!(f.reason, "a malformed command line created the queue");
        assert_eq!(
            f.details,
            "HINT: parse the whole command line before ftok and msgget.\n"
        );
        assert_eq!(f.failed, ["prog arg"]);
        // Only /dev/shm: a queue is out of scope; an entry is named as it is there.
        let rule = UsageRule::new()
            .nothing_created(Created::in_dev_shm(
                "a malformed command line created {names} in /dev/shm",
            ))
            .hinted("HINT: check first.");
        assert_eq!(rule.judge(&case, &good, || vec![queue()]), Ok(()));
        let f = rule
            .judge(&case, &good, || vec![queue(), shm("a"), shm("b")])
            .unwrap_err();
        assert_eq!(
            f.reason,
            "a malformed command line created a, b in /dev/shm"
        );
        assert_eq!(f.details, "HINT: check first.\n");
        assert_eq!(f.failed, ["prog arg"]);
        // Listed, one a line, SysV objects as the leak report names them.
        let rule = UsageRule::new().nothing_created(
            Created::anywhere("a rejected command line created IPC objects").listed(),
        );
        let f = rule
            .judge(&case, &good, || vec![queue(), shm("c")])
            .unwrap_err();
        assert!(
            f.details
                .starts_with(&format!("CREATED:\n    {}\n    c\n", queue())),
            "{}",
            f.details
        );
    }

    #[test]
    fn usage_lines_and_the_two_line_form() {
        let usage = "usage: pshm-send [--timeout MS] NAME";
        let rule = UsageRule::new()
            .usage("pshm-send", usage)
            .two_lines()
            .usage_line();
        let case = UsageCase::new("pshm-send", ["x"]).phrase("bad name");
        let good = run(2, "", &format!("pshm-send: bad name \"x\"\n{usage}\n"));
        assert_eq!(rule.judge(&case, &good, Vec::new), Ok(()));
        let f = rule
            .judge(&case, &run(2, "", &format!("{usage}\n")), Vec::new)
            .unwrap_err();
        assert_eq!(
            f.reason,
            "expected two lines on stderr: `pshm-send: …bad name…` then the usage line"
        );
        // A program the rule has no usage line for is the grader's mistake.
        let other = UsageCase::new("pshm-recv", ["x"]);
        assert!(rule.judge(&other, &good, Vec::new).unwrap_err().by_grader);
        // Hints go to the judgment added last only.
        let rule = UsageRule::new()
            .usage("p", "usage: p")
            .usage_line()
            .exit(2)
            .hinted("HINT: h");
        let f = rule
            .judge(
                &UsageCase::new("p", ["a"]),
                &run(2, "", "p: bad\n"),
                Vec::new,
            )
            .unwrap_err();
        assert_eq!(f.reason, "the usage line is missing from stderr");
        assert!(!f.details.contains("HINT"));
        let f = rule
            .judge(
                &UsageCase::new("p", ["a"]),
                &run(1, "", "usage: p\n"),
                Vec::new,
            )
            .unwrap_err();
        assert!(f.details.ends_with("HINT: h\n"), "{}", f.details);
    }
}
