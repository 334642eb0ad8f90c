//! The recipe that reproduces a failing check by hand: every process the check started, in
//! the order it started, as shell lines a student can type after the grading's temporary
//! folders are gone — their programs as their own build's (`./target/release/NAME`), the
//! files the commands name made first (`touch` for a key file, `mkfifo`), a generated stdin
//! regenerated (`grader stream --seed S --len N |`), and `&` after a process that was still
//! running when the next one started. Display only: the runs themselves are unchanged.

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
    let (block, listed) = if students > 1 {
        let (block, listed) = recipe(processes, display);
        (Some(block), listed)
    } else {
        (None, Vec::new())
    };
    let mut out = drop_repeated(details, &listed);
    let mut seen = Vec::new();
    out = rewrite_in_place(&out, processes, display, &mut seen);
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

/// The recipe block, and the raw commands it lists.
pub fn recipe(processes: &[Process], display: &Display) -> (String, Vec<String>) {
    let mut seen = Vec::new();
    let mut setup: Vec<String> = Vec::new();
    let mut lines: Vec<String> = Vec::new();
    let mut listed = Vec::new();
    let shown: Vec<&Process> = processes.iter().take(MAX_LINES).collect();
    for (i, p) in shown.iter().enumerate() {
        let background = processes[i + 1..]
            .first()
            .is_some_and(|next| p.ended.is_none_or(|end| end > next.started));
        match &p.whose {
            Whose::Grader(name) => {
                let when = if background {
                    ", in the background"
                } else {
                    ""
                };
                lines.push(format!("# here the grader's own {name} ran{when}"));
            }
            _ => {
                let r = p.shown.render(display, &mut seen);
                for s in r.setup {
                    if !setup.contains(&s) {
                        setup.push(s);
                    }
                }
                let amp = if background { " &" } else { "" };
                lines.push(format!("{}{amp}", r.line));
                listed.push(p.raw.clone());
            }
        }
    }
    let rest = &processes[shown.len()..];
    if !rest.is_empty() {
        let same = rest.iter().all(|r| {
            shown
                .iter()
                .any(|s| s.shown.words.first() == r.shown.words.first())
        });
        let of = if same { " of the same programs" } else { "" };
        lines.push(format!("… and {} more runs{of}", rest.len()));
    }
    let folders = folders(processes, display);
    let uses_grader = lines
        .iter()
        .chain(setup.iter())
        .any(|l| l.contains(&display.grader));
    let mut text = format!(
        "TO REPRODUCE (every process of the check, in the order it started; {FROM}{}):\n",
        if uses_grader {
            format!("; {} is the kit's grader", display.grader)
        } else {
            String::new()
        }
    );
    for line in folders.iter().chain(&setup).chain(&lines) {
        text.push_str("    ");
        text.push_str(line);
        text.push('\n');
    }
    (text, listed)
}

/// `mkdir -p` of the check's folder as the recipe shows it, if a command names a path in it.
fn folders(processes: &[Process], display: &Display) -> Vec<String> {
    let mut out = Vec::new();
    for p in processes {
        let names = !p.shown.files.is_empty()
            || matches!(&p.shown.stdin, crate::run::Stdin::File { path: Some(f), .. }
                if f.starts_with(&format!("{}/", p.shown.cwd)));
        let line = format!("mkdir -p {}", display.word(&p.shown.cwd));
        if names && display.rewrites(&p.shown.cwd) && !out.contains(&line) {
            out.push(line);
        }
    }
    out
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
        if matches!(line.trim(), "COMMAND:" | "COMMANDS:") {
            let body: Vec<&str> = lines[i + 1..]
                .iter()
                .take_while(|l| l.starts_with("    "))
                .copied()
                .collect();
            if !body.is_empty()
                && body
                    .iter()
                    .all(|l| listed.iter().any(|c| c == command_of(l)))
            {
                i += 1 + body.len();
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
/// lines that make its files.
fn rewrite_in_place(
    details: &str,
    processes: &[Process],
    display: &Display,
    seen: &mut Vec<String>,
) -> String {
    let mut out = String::new();
    for line in details.split_inclusive('\n') {
        let body = line.strip_suffix('\n').unwrap_or(line);
        let command = command_of(body);
        let Some(p) = processes
            .iter()
            .find(|p| !command.is_empty() && p.raw == command)
        else {
            out.push_str(line);
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
        for s in setup {
            out.push_str(&format!("{indent}{s}\n"));
        }
        out.push_str(&format!("{indent}{}{amp}", r.line));
        if line.ends_with('\n') {
            out.push('\n');
        }
    }
    out
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
            grader: GRADER.into(),
            ..Default::default()
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
            },
            whose,
            started: t0 + Duration::from_millis(at),
            ended: end.map(|e| t0 + Duration::from_millis(e)),
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
             ./target/release/msgq-client /tmp/ipclab-sum-basic/key-1 x < /dev/null\n\
             HINT: h\n"
        );
    }

    #[test]
    fn a_single_run_is_rewritten_in_place_and_the_graders_peer_named_in_words() {
        let key = key();
        let peer = process(Whose::Grader("msgq-peer".into()), &["", &key], 0, None);
        let client = process(Whose::Student, &["msgq-client", &key], 5, Some(9));
        let details = format!("COMMAND:\n    {}\n", client.raw);
        let text = apply(&details, &[peer.clone(), client.clone()], &display());
        assert_eq!(
            text,
            "COMMAND:\n    mkdir -p /tmp/ipclab-sum-basic\n    \
             touch /tmp/ipclab-sum-basic/key-1\n    \
             ./target/release/msgq-client /tmp/ipclab-sum-basic/key-1 < /dev/null\n"
        );
        let (block, _) = recipe(&[peer, client.clone(), client], &display());
        assert!(
            block.contains("    # here the grader's own msgq-peer ran, in the background\n"),
            "{block}"
        );
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
        let (block, listed) = recipe(&runs, &display());
        assert_eq!(listed.len(), MAX_LINES);
        assert!(
            block.ends_with("    … and 4 more runs of the same programs\n"),
            "{block}"
        );
        assert_eq!(block.matches(" &\n").count(), 1, "{block}");
    }
}
