//! The table for people, in the pieces the grader prints as it grades.

use super::*;

impl Report {
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
pub(super) fn reproduce(implementation: &str, assignment: &str, package: &str) -> String {
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
    // Left out by an interruption: not run; skipped for a prerequisite: says so.
    let word = if c.ran || v.status == Status::Skipped {
        v.status.word()
    } else {
        "NOT RUN"
    };
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

/// `text` in the colour of `status` when `style` has colours: PASS green, TODO and SKIPPED
/// yellow, ERROR magenta, every other failure red.
pub(super) fn paint(text: &str, status: Status, style: &Style) -> String {
    let code = match status {
        Status::Pass => "32",
        Status::NotImplemented | Status::Skipped => "33",
        Status::GraderError => "35",
        _ => "31",
    };
    paint_code(text, code, style)
}

pub(super) fn paint_code(text: &str, code: &str, style: &Style) -> String {
    if style.colour {
        format!("\x1b[{code}m{text}\x1b[0m")
    } else {
        text.to_string()
    }
}
