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
    /// The signals the check sent it as steps of its scenario ([`crate::check::Ctx::signal`]),
    /// and when: the recipe sends them at that point.
    pub signals: Vec<(Instant, i32)>,
}

/// How to run a failing check again, for its details: when the check ran more than one of the
/// student's programs, the recipe of every process, the `failed` ones marked; else a
/// `COMMAND` block of each failed run, after the lines that make its files. Empty when there
/// is nothing to show. A failed line no process matches (a program that could not start) is
/// shown as it is.
pub fn block(failed: &[String], processes: &[Process], display: &Display) -> String {
    let students = processes
        .iter()
        .filter(|p| p.whose == Whose::Student)
        .count();
    if students > 1 {
        return recipe(processes, display, failed);
    }
    if failed.is_empty() {
        return String::new();
    }
    let (mut seen, mut lines, mut grader) = (Vec::new(), Vec::new(), false);
    for line in failed {
        let Some(p) = processes.iter().find(|p| p.raw == *line) else {
            lines.push(line.clone());
            continue;
        };
        let r = p.shown.render(display, &mut seen);
        let mut setup = folders(std::slice::from_ref(p), display);
        setup.extend(r.setup);
        grader |= setup
            .iter()
            .chain(std::iter::once(&r.line))
            .any(|l| l.contains(&display.grader));
        for s in setup {
            if !lines.contains(&s) {
                lines.push(s);
            }
        }
        lines.push(r.line);
    }
    let label = if failed.len() > 1 {
        "COMMANDS"
    } else {
        "COMMAND"
    };
    let mut text = format!("{label} ({}):\n", from(grader, display));
    for line in lines {
        text.push_str(&format!("    {line}\n"));
    }
    text
}

/// `details` with `block` inserted before its first hint (where a reader looks for how to run
/// the check again before how to fix it), or at its end.
pub fn insert(details: &str, block: &str) -> String {
    let mut out = details.to_string();
    if block.is_empty() {
        return out;
    }
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    let at = if out.starts_with("HINT:") {
        Some(0)
    } else {
        out.find("\nHINT:").map(|i| i + 1)
    };
    out.insert_str(at.unwrap_or(out.len()), block);
    out
}

/// The recipe block; the last line of each of `failed` (the runs the failure named) is
/// marked, unless every program shown failed (they failed together: no mark tells more).
pub fn recipe(processes: &[Process], display: &Display, failed: &[String]) -> String {
    let mut seen = Vec::new();
    let mut setup: Vec<String> = Vec::new();
    let mut lines: Vec<String> = Vec::new();
    let chosen = window(processes, failed);
    let shown: Vec<&Process> = chosen.iter().map(|&i| &processes[i]).collect();
    let students: Vec<&&Process> = shown.iter().filter(|p| p.whose == Whose::Student).collect();
    let together = students.iter().all(|p| failed.contains(&p.raw));
    let first = chosen
        .iter()
        .copied()
        .find(|&i| i > 0 && !chosen.contains(&(i - 1)));
    if let Some(first) = first {
        let left = (0..first).filter(|i| !chosen.contains(i)).count();
        lines.push(format!("# … {left} earlier runs left out"));
    }
    // What happened, in order: each process started, and each signal the check sent as a
    // step of its scenario (a kill while others went on, a SIGSTOP and its SIGCONT).
    let mut events: Vec<(Instant, usize, Option<i32>)> = Vec::new();
    for (i, p) in shown.iter().enumerate() {
        events.push((p.started, i, None));
        events.extend(p.signals.iter().map(|&(at, signal)| (at, i, Some(signal))));
    }
    events.sort_by_key(|&(at, _, _)| at);
    let killed_here = |i: usize| shown[i].signals.iter().any(|s| s.1 == libc::SIGKILL);
    // The shell's job number of each background line, and those the check never saw end.
    let (mut jobs, mut job_of, mut unended) = (0, vec![0; shown.len()], Vec::new());
    for (at, &(_, i, signal)) in events.iter().enumerate() {
        let p = shown[i];
        if let Some(signal) = signal {
            let named = nix::sys::signal::Signal::try_from(signal).ok();
            let name = named.map_or(signal.to_string(), |s| {
                s.as_str().trim_start_matches("SIG").to_string()
            });
            let what = if signal == libc::SIGKILL {
                "the check killed it at this point".to_string()
            } else {
                format!("the check sent it SIG{name} at this point")
            };
            lines.push(format!("kill -{name} %{}   # {what}", job_of[i]));
            continue;
        }
        // Still running when the next thing happened (a signal to it included).
        let background = events.get(at + 1).is_some_and(|&(next, j, signal)| {
            (signal.is_some() && j == i) || p.ended.is_none_or(|e| e > next)
        });
        if background {
            jobs += 1;
            job_of[i] = jobs;
            if (p.ended.is_none() || p.ended_by_grader) && !killed_here(i) {
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
            if last && !together && failed.contains(&p.raw) {
                comment(&mut line, "← failed");
            }
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
    text
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
            signals: Vec::new(),
        }
    }

    fn base() -> Instant {
        static BASE: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
        *BASE.get_or_init(Instant::now)
    }

    /// How many of the student's programs `block` runs.
    fn programs(block: &str) -> usize {
        block.matches("    ./target/release/").count()
    }

    /// A failure that names every program the check ran marks none of them.
    #[test]
    fn programs_that_failed_together_are_not_marked() {
        let a = process(Whose::Student, &["sem-a"], 0, Some(10));
        let b = process(Whose::Student, &["sem-b"], 1, Some(10));
        let failed = vec![a.raw.clone(), b.raw.clone()];
        let text = block(&failed, &[a.clone(), b], &display());
        assert!(!text.contains("← failed"), "{text}");
        let text = block(&failed[..1], &[a.clone(), a], &display());
        assert_eq!(text.matches("← failed").count(), 0, "{text}");
    }

    /// A process the check killed as a step of its scenario is killed at that point of the
    /// recipe, by its job number; the one it then judged is marked.
    #[test]
    fn a_kill_in_the_middle_of_the_scenario_is_a_step_of_the_recipe() {
        let recv = process(Whose::Student, &["pshm-recv"], 0, Some(300));
        let mut send = process(Whose::Student, &["pshm-send"], 10, Some(100));
        send.ended_by_grader = true;
        send.signals = vec![(send.started + Duration::from_millis(80), libc::SIGKILL)];
        let failed = vec![recv.raw.clone()];
        let text = block(&failed, &[recv, send], &display());
        let lines: Vec<&str> = text.lines().skip(1).map(str::trim).collect();
        assert_eq!(
            lines,
            [
                "./target/release/pshm-recv < /dev/null &   # ← failed",
                "./target/release/pshm-send < /dev/null &",
                "kill -KILL %2   # the check killed it at this point",
            ],
            "{text}"
        );
    }

    /// A single run is shown with its files made first; a line no process matches, as it is.
    #[test]
    fn a_run_that_could_not_start_is_shown_as_it_is() {
        let text = block(&["/x/prog arg".into()], &[], &display());
        assert_eq!(text, format!("COMMAND ({FROM}):\n    /x/prog arg\n"));
        assert_eq!(insert("A\nHINT: h\n", "B\n"), "A\nB\nHINT: h\n");
        assert_eq!(insert("A", "B\n"), "A\nB\n");
        assert_eq!(insert("A\n", ""), "A\n");
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
        let failed = vec![c2.raw.clone()];
        let block = block(&failed, &[server, c1, c2], &display());
        let text = insert("EXPECTED:\n    5\nHINT: h\n", &block);
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
        let failed = vec![client.raw.clone()];
        let text = block(&failed, &[peer.clone(), client.clone()], &display());
        assert_eq!(
            text,
            "COMMAND (run from your implementation's folder after `cargo build --release`):\n    \
             mkdir -p /tmp/ipclab-sum-basic\n    \
             touch /tmp/ipclab-sum-basic/key-1\n    \
             ./target/release/msgq-client /tmp/ipclab-sum-basic/key-1 < /dev/null\n"
        );
        let block = recipe(&[peer, client.clone(), client], &display(), &[]);
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
        let block = recipe(&runs, &display(), &[]);
        assert_eq!(programs(&block), MAX_LINES, "{block}");
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
        let block = recipe(&runs, &display(), &failed);
        assert_eq!(programs(&block), MAX_LINES, "{block}");
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
