//! The recipe that reproduces a failing check by hand: every process the check started, in
//! the order it started, as shell lines a student can type after the grading's temporary
//! folders are gone — their programs as their own build's (`./target/release/NAME`), the
//! files the commands name made first (`touch` for a key file, `mkfifo`), a generated stdin
//! regenerated (`grader stream --seed S --len N |`), the grader's own peers run by the kit's
//! grader (`grader tool NAME …`), and `&` after a process that was still running when the next
//! one started. Display only: the runs themselves are unchanged.

use std::time::Instant;

use crate::run::{Display, Shown};

/// The most processes a recipe lists before it counts the rest.
pub const MAX_LINES: usize = 8;

/// Where the student runs a recipe from, and what they build first.
pub const FROM: &str = "run from your implementation's folder after `cargo build --release`";

/// How a recipe names the grader: the kit's own build, seen from an implementation's folder
/// in the kit (`starter/`).
pub const GRADER: &str = "../target/release/grader";

/// Whose program a process ran.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Whose {
    /// One of the student's binaries.
    Student,
    /// The grader's own helper tool of this name (`grader tool NAME`).
    Grader(String),
    /// A system program (`sh`, `cat`).
    Other,
}

/// One process a check started.
#[derive(Debug, Clone)]
pub struct Process {
    /// Its pid (while it runs).
    pub pid: i32,
    /// Its command, structured.
    pub shown: Shown,
    /// Its command line as [`crate::run::Spec::command_line`] wrote it (what failures show).
    pub raw: String,
    /// Whose program it is.
    pub whose: Whose,
    /// When it started.
    pub started: Instant,
    /// When the check saw it end (`None`: still running when the check ended).
    pub ended: Option<Instant>,
    /// Whether the grader ended it (a signal the grader sent: the check was done with it).
    pub ended_by_grader: bool,
}

/// `details` of a failing check with the recipe: when the check ran more than one of the
/// student's programs, the block of every process is appended and the `COMMAND:` blocks it
/// repeats are dropped; every other command the details show is rewritten in place, with the
/// lines that make its files before it.
pub fn apply(details: &str, processes: &[Process], display: &Display) -> String {
    let students = processes
        .iter()
        .filter(|p| p.whose == Whose::Student)
        .count();
    let mut out = details.to_string();
    let mut block = None;
    if students > 1 {
        let failed = commands_shown(details);
        let (text, listed) = recipe(processes, display, &failed);
        out = drop_repeated(details, &listed);
        block = Some(text);
    }
    out = rewrite_in_place(&out, processes, display, &mut Vec::new());
    if let Some(block) = block {
        if !out.is_empty() && !out.ends_with('\n') {
            out.push('\n');
        }
        // Before the hint, where a single run's command would be.
        let at = if out.starts_with("HINT:") {
            Some(0)
        } else {
            out.find("\nHINT:").map(|i| i + 1)
        };
        out.insert_str(at.unwrap_or(out.len()), &block);
    }
    out
}

/// The commands of the `COMMAND:`/`COMMANDS:` blocks of `details`: the runs that failed.
fn commands_shown(details: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut inside = false;
    for line in details.lines() {
        if is_header(line) {
            inside = true;
        } else if inside && line.starts_with("    ") {
            out.push(command_of(line).to_string());
        } else {
            inside = false;
        }
    }
    out
}

/// The recipe block, and the raw commands it lists; the last line of each of `failed` (the
/// commands the failure showed) is marked.
pub fn recipe(
    processes: &[Process],
    display: &Display,
    failed: &[String],
) -> (String, Vec<String>) {
    let mut seen = Vec::new();
    let mut setup: Vec<String> = Vec::new();
    let mut lines: Vec<String> = Vec::new();
    let mut listed = Vec::new();
    let chosen = window(processes, failed);
    let shown: Vec<&Process> = chosen.iter().map(|&i| &processes[i]).collect();
    let first = chosen
        .iter()
        .copied()
        .find(|&i| i > 0 && !chosen.contains(&(i - 1)));
    if let Some(first) = first {
        let left = (0..first).filter(|i| !chosen.contains(i)).count();
        lines.push(format!("# … {left} earlier runs left out"));
    }
    // The shell's job numbers of the background lines the check never saw end.
    let (mut jobs, mut unended) = (0, Vec::new());
    for (i, p) in shown.iter().enumerate() {
        let background = shown
            .get(i + 1)
            .is_some_and(|next| p.ended.is_none_or(|end| end > next.started));
        if background {
            jobs += 1;
            if p.ended.is_none() || p.ended_by_grader {
                unended.push(format!("%{jobs}"));
            }
        }
        let r = p.shown.render(display, &mut seen);
        for s in r.setup {
            if !setup.contains(&s) {
                setup.push(s);
            }
        }
        let amp = if background { " &" } else { "" };
        let mut line = with_amp(&r.line, amp);
        // After the line's own comment, if it has one (what its stdin was).
        let comment = |line: &mut String, text: &str| {
            line.push_str(if r.line.contains("  # ") {
                "; "
            } else {
                "   # "
            });
            line.push_str(text);
        };
        if let Whose::Grader(name) = &p.whose {
            // The grader's own peer, run by the kit's grader as the check ran it.
            comment(&mut line, &format!("the grader's own {name}"));
        } else {
            let last = !shown[i + 1..].iter().any(|q| q.raw == p.raw);
            if last && failed.contains(&p.raw) {
                comment(&mut line, "← failed");
            }
            listed.push(p.raw.clone());
        }
        lines.push(line);
    }
    let end = chosen.last().map_or(0, |&i| i + 1);
    let rest = &processes[end..];
    if !rest.is_empty() {
        let same = rest.iter().all(|r| {
            shown
                .iter()
                .any(|s| s.shown.words.first() == r.shown.words.first())
        });
        let of = if same { " of the same programs" } else { "" };
        lines.push(format!("# … and {} more runs{of}", rest.len()));
    }
    if !unended.is_empty() {
        let them = if unended.len() == 1 { "it" } else { "them" };
        lines.push(format!(
            "kill {}   # still running when the check was done: the grader ended {them}",
            unended.join(" ")
        ));
    }
    let shown: Vec<Process> = shown.into_iter().cloned().collect();
    let folders = folders(&shown, display);
    let uses_grader = lines
        .iter()
        .chain(setup.iter())
        .any(|l| l.contains(&display.grader));
    let mut text = format!(
        "TO REPRODUCE (every process of the check, in the order it started; {}):\n",
        from(uses_grader, display)
    );
    for line in folders.iter().chain(&setup).chain(&lines) {
        text.push_str("    ");
        text.push_str(line);
        text.push('\n');
    }
    (text, listed)
}

/// Which processes a recipe lists (at most [`MAX_LINES`], by index, in order): the first ones,
/// or, when the run that failed came later, the ones that led to it — those still running
/// when the first of them started included.
fn window(processes: &[Process], failed: &[String]) -> Vec<usize> {
    let n = processes.len();
    let at = processes
        .iter()
        .rposition(|p| !matches!(p.whose, Whose::Grader(_)) && failed.contains(&p.raw));
    let hi = match at {
        Some(f) if f >= MAX_LINES => f,
        _ => return (0..n.min(MAX_LINES)).collect(),
    };
    let running_at = |lo: usize| -> Vec<usize> {
        (0..lo)
            .filter(|&j| processes[j].ended.is_none_or(|e| e > processes[lo].started))
            .collect()
    };
    let mut lo = hi + 1 - MAX_LINES;
    let mut context = running_at(lo);
    if !context.is_empty() {
        lo = (hi + 1 - MAX_LINES.saturating_sub(context.len()).max(1)).max(lo);
        context = running_at(lo);
    }
    context.extend(lo..=hi);
    context
}

/// `mkdir -p` of the check's folder as the recipe shows it, if a command names a path in it.
fn folders(processes: &[Process], display: &Display) -> Vec<String> {
    let mut out = Vec::new();
    for p in processes {
        let inside = |f: &str| f.starts_with(&format!("{}/", p.shown.cwd));
        let names = !p.shown.files.is_empty()
            || p.shown.stdout.as_deref().is_some_and(inside)
            || matches!(&p.shown.stdin, crate::run::Stdin::File { path: Some(f), .. }
                if f.starts_with(&format!("{}/", p.shown.cwd)));
        let line = format!("mkdir -p {}", display.word(&p.shown.cwd));
        if names && display.rewrites(&p.shown.cwd) && !out.contains(&line) {
            out.push(line);
        }
    }
    out
}

/// Whether `line` heads a block of commands (`COMMAND:`, `COMMANDS (run together…):`).
fn is_header(line: &str) -> bool {
    let t = line.trim();
    (t.starts_with("COMMAND:") || t.starts_with("COMMANDS:") || t.starts_with("COMMANDS ("))
        && t.ends_with(':')
}

/// The line's command, if it is one of a `COMMAND:` block (indented, maybe with `&`).
fn command_of(line: &str) -> &str {
    let t = line.trim();
    t.strip_suffix(" &").unwrap_or(t)
}

/// `details` without the `COMMAND:`/`COMMANDS:` blocks all of whose commands are `listed`.
fn drop_repeated(details: &str, listed: &[String]) -> String {
    if listed.is_empty() {
        return details.to_string();
    }
    let lines: Vec<&str> = details.lines().collect();
    let mut out: Vec<&str> = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        if is_header(line) {
            let body: Vec<&str> = lines[i + 1..]
                .iter()
                .take_while(|l| l.starts_with("    "))
                .copied()
                .collect();
            // A shell's `wait` after background commands is no command of its own.
            if !body.is_empty()
                && body
                    .iter()
                    .all(|l| command_of(l) == "wait" || listed.iter().any(|c| c == command_of(l)))
            {
                i += 1 + body.len();
                // And the blank line that set it apart.
                if lines.get(i).is_some_and(|l| l.trim().is_empty()) {
                    i += 1;
                }
                continue;
            }
        }
        out.push(line);
        i += 1;
    }
    let mut text = out.join("\n");
    if details.ends_with('\n') && !text.is_empty() {
        text.push('\n');
    }
    text
}

/// `details` with each line that is a process's raw command shown under `display`, after the
/// lines that make its files; the `COMMAND:` header above such a line says where to run it.
fn rewrite_in_place(
    details: &str,
    processes: &[Process],
    display: &Display,
    seen: &mut Vec<String>,
) -> String {
    let mut out: Vec<String> = Vec::new();
    // The header of the block being read, and whether a line of it was rewritten.
    let mut header: Option<usize> = None;
    let mut headers = Vec::new();
    let mut grader = false;
    for body in details.lines() {
        let command = command_of(body);
        if body.trim() == "COMMAND:" || body.trim() == "COMMANDS:" {
            header = Some(out.len());
        } else if !body.starts_with("    ") {
            header = None;
        }
        let Some(p) = processes
            .iter()
            .find(|p| !command.is_empty() && p.raw == command)
        else {
            out.push(body.to_string());
            continue;
        };
        let indent = &body[..body.len() - body.trim_start().len()];
        let amp = if body.trim_end().ends_with(" &") {
            " &"
        } else {
            ""
        };
        let r = p.shown.render(display, seen);
        let mut setup = folders(std::slice::from_ref(p), display);
        setup.extend(r.setup);
        grader |= setup
            .iter()
            .chain(std::iter::once(&r.line))
            .any(|l| l.contains(&display.grader));
        for s in setup {
            out.push(format!("{indent}{s}"));
        }
        out.push(format!("{indent}{}", with_amp(&r.line, amp)));
        headers.extend(header.take());
    }
    for at in headers {
        let (label, _) = out[at].trim_end().split_at(out[at].trim_end().len() - 1);
        out[at] = format!("{label} ({}):", from(grader, display));
    }
    let mut text = out.join("\n");
    if details.ends_with('\n') {
        text.push('\n');
    }
    text
}

/// `line` with `amp` (` &` or nothing) after its command, before its comment if it has one.
fn with_amp(line: &str, amp: &str) -> String {
    match line.split_once("  # ") {
        Some((command, comment)) => format!("{command}{amp}  # {comment}"),
        None => format!("{line}{amp}"),
    }
}

/// Where to run a recipe from, and what the grader is if it uses it.
fn from(grader: bool, display: &Display) -> String {
    if grader {
        format!("{FROM}; {} is the kit's grader", display.grader)
    } else {
        FROM.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::{Made, Stdin};
    use std::time::Duration;

    const DIR: &str = "/tmp/ipclab-grading-X/check-Y";
    const PROGS: &str = "/tmp/ipclab-programs-Z/msgq";

    fn display() -> Display {
        Display {
            rewrites: vec![
                (PROGS.into(), "./target/release".into()),
                (DIR.into(), "/tmp/ipclab-sum-basic".into()),
            ],
            exact: vec![("/tmp/ipclab-programs-Z/grader".into(), GRADER.into())],
            grader: GRADER.into(),
        }
    }

    fn process(whose: Whose, args: &[&str], at: u64, end: Option<u64>) -> Process {
        let t0 = base();
        let program = match &whose {
            Whose::Grader(_) => "/tmp/ipclab-programs-Z/grader".to_string(),
            _ => format!("{PROGS}/{}", args[0]),
        };
        let mut words = vec![program];
        words.extend(args[1..].iter().map(|s| s.to_string()));
        let key = format!("{DIR}/key-1");
        let files = if words.contains(&key) {
            vec![(key, Made::Empty)]
        } else {
            vec![]
        };
        Process {
            pid: 1,
            raw: format!("{} < /dev/null", words.join(" ")),
            shown: Shown {
                env: vec![],
                words,
                stdin: Stdin::Null,
                files,
                cwd: DIR.into(),
                stdout: None,
            },
            whose,
            started: t0 + Duration::from_millis(at),
            ended: end.map(|e| t0 + Duration::from_millis(e)),
            ended_by_grader: false,
        }
    }

    fn base() -> Instant {
        static BASE: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
        *BASE.get_or_init(Instant::now)
    }

    fn key() -> String {
        format!("{DIR}/key-1")
    }

    #[test]
    fn a_server_and_its_clients_read_as_a_shell_recipe() {
        let key = key();
        let server = process(Whose::Student, &["msgq-server", &key], 0, Some(100));
        let c1 = process(Whose::Student, &["msgq-client", &key, "sum"], 10, Some(20));
        let c2 = process(Whose::Student, &["msgq-client", &key, "x"], 30, Some(40));
        let details = format!("EXPECTED:\n    5\nCOMMAND:\n    {}\nHINT: h\n", c2.raw);
        let text = apply(&details, &[server, c1, c2], &display());
        assert_eq!(
            text,
            "EXPECTED:\n    5\n\
             TO REPRODUCE (every process of the check, in the order it started; run from your \
             implementation's folder after `cargo build --release`):\n    \
             mkdir -p /tmp/ipclab-sum-basic\n    \
             touch /tmp/ipclab-sum-basic/key-1\n    \
             ./target/release/msgq-server /tmp/ipclab-sum-basic/key-1 < /dev/null &\n    \
             ./target/release/msgq-client /tmp/ipclab-sum-basic/key-1 sum < /dev/null\n    \
             ./target/release/msgq-client /tmp/ipclab-sum-basic/key-1 x < /dev/null   # ← failed\n\
             HINT: h\n"
        );
    }

    #[test]
    fn a_single_run_is_rewritten_in_place_and_the_graders_peer_run_by_the_kits_grader() {
        let key = key();
        let peer = process(
            Whose::Grader("msgq-peer".into()),
            &["", "tool", "msgq-peer", &key],
            0,
            None,
        );
        let client = process(Whose::Student, &["msgq-client", &key], 5, Some(9));
        let details = format!("COMMAND:\n    {}\n", client.raw);
        let text = apply(&details, &[peer.clone(), client.clone()], &display());
        assert_eq!(
            text,
            "COMMAND (run from your implementation's folder after `cargo build --release`):\n    \
             mkdir -p /tmp/ipclab-sum-basic\n    \
             touch /tmp/ipclab-sum-basic/key-1\n    \
             ./target/release/msgq-client /tmp/ipclab-sum-basic/key-1 < /dev/null\n"
        );
        let (block, _) = recipe(&[peer, client.clone(), client], &display(), &[]);
        assert!(
            block.contains(&format!(
                "    {GRADER} tool msgq-peer /tmp/ipclab-sum-basic/key-1 < /dev/null &   # the \
                 grader's own msgq-peer\n"
            )),
            "{block}"
        );
        assert!(block.contains("kill %1"), "{block}");
    }

    #[test]
    fn a_background_command_keeps_its_ampersand_before_its_comment() {
        assert_eq!(
            with_amp("prog  # stdin: a pipe", " &"),
            "prog &  # stdin: a pipe"
        );
        assert_eq!(with_amp("prog < /dev/null", " &"), "prog < /dev/null &");
    }

    #[test]
    fn a_long_recipe_counts_the_runs_it_leaves_out() {
        let mut runs = vec![process(Whose::Student, &["msgq-server"], 0, None)];
        for i in 0..11 {
            runs.push(process(
                Whose::Student,
                &["msgq-client"],
                10 + 10 * i,
                Some(15 + 10 * i),
            ));
        }
        let (block, listed) = recipe(&runs, &display(), &[]);
        assert_eq!(listed.len(), MAX_LINES);
        assert!(
            block.ends_with(
                "    # … and 4 more runs of the same programs\n    \
                 kill %1   # still running when the check was done: the grader ended it\n"
            ),
            "{block}"
        );
        assert_eq!(block.matches(" &\n").count(), 1, "{block}");
    }

    /// A round that failed late: the recipe lists the rounds that led to it, with the server
    /// still running since the start, and counts those it leaves out.
    #[test]
    fn a_late_failure_lists_the_runs_that_led_to_it() {
        let mut runs = vec![process(Whose::Student, &["msgq-server"], 0, None)];
        for i in 0..20 {
            let n = i.to_string();
            runs.push(process(
                Whose::Student,
                &["msgq-client", &n],
                10 + 10 * i,
                Some(15 + 10 * i),
            ));
        }
        let failed = vec![runs[15].raw.clone()];
        let (block, listed) = recipe(&runs, &display(), &failed);
        assert_eq!(listed.len(), MAX_LINES, "{block}");
        let lines: Vec<&str> = block.lines().skip(1).map(str::trim).collect();
        assert_eq!(lines[0], "# … 8 earlier runs left out", "{block}");
        assert_eq!(
            lines[1], "./target/release/msgq-server < /dev/null &",
            "{block}"
        );
        assert_eq!(
            lines[8], "./target/release/msgq-client 14 < /dev/null   # ← failed",
            "{block}"
        );
        assert_eq!(lines[9], "# … and 5 more runs of the same programs");
        assert_eq!(
            lines[10],
            "kill %1   # still running when the check was done: the grader ended it"
        );
    }
}
