//! `grader validate`: the grader checked by its mutants. Every mutant of every chosen
//! assignment is built and graded with all of the assignment's checks, and a table shows, for
//! each, the checks it was expected to fail and those it did fail. The run fails if a mutant
//! passes a check it names, if a mutant passes everything, or if some check fails no mutant.

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::Result;

use crate::check::Assignment;
use crate::grade::{self, Options};
use crate::{build, mutants};

/// One mutant's row.
#[derive(Debug, Clone)]
pub struct Row {
    /// The assignment.
    pub assignment: String,
    /// The mutant.
    pub mutant: String,
    /// The checks it names.
    pub expected: BTreeSet<String>,
    /// The checks that did not pass it.
    pub failed: BTreeSet<String>,
}

impl Row {
    /// The checks it names that passed it.
    pub fn missed(&self) -> Vec<&String> {
        self.expected.difference(&self.failed).collect()
    }
}

/// Grades every mutant of `assignment` (materialised under `work`) with all its checks.
pub fn assignment(
    kit: &Path,
    work: &Path,
    assignment: &Assignment,
    options: &Options,
) -> Result<Vec<Row>> {
    let mut rows = Vec::new();
    for mutant in mutants::load(assignment.name)? {
        let dir = work
            .join("mutants")
            .join(assignment.name)
            .join(&mutant.name);
        mutants::materialise(&kit.join("solution"), &dir, &mutant)?;
        let staged = build::stage(&dir, work)?;
        let result = grade::grade(&staged, assignment, options);
        let row = Row {
            assignment: assignment.name.into(),
            mutant: mutant.name.clone(),
            expected: mutant.fails.iter().cloned().collect(),
            failed: result
                .checks
                .iter()
                .filter(|c| !c.verdict.status.passed())
                .map(|c| c.name.clone())
                .collect(),
        };
        eprintln!(
            "grader: {} fails {} check(s), {} named",
            row.mutant,
            row.failed.len(),
            row.expected.len()
        );
        rows.push(row);
    }
    Ok(rows)
}

/// The table, and the problems that fail the run (none when the grader is sound).
pub fn table(rows: &[Row], assignments: &[Assignment]) -> (String, Vec<String>) {
    let mut out =
        String::from("assignment  mutant                          expected to fail → failed\n");
    let mut problems = Vec::new();
    for row in rows {
        let list = |set: &BTreeSet<String>| set.iter().cloned().collect::<Vec<_>>().join(", ");
        out.push_str(&format!(
            "{:<11} {:<31} {} → {}\n",
            row.assignment,
            row.mutant,
            list(&row.expected),
            if row.failed.is_empty() {
                "(nothing)".into()
            } else {
                list(&row.failed)
            }
        ));
        if row.failed.is_empty() {
            problems.push(format!(
                "{}: mutant `{}` passes every check",
                row.assignment, row.mutant
            ));
        }
        for check in row.missed() {
            problems.push(format!(
                "{}: mutant `{}` passes `{check}`, which it names",
                row.assignment, row.mutant
            ));
        }
    }
    for a in assignments {
        let graded: Vec<&Row> = rows.iter().filter(|r| r.assignment == a.name).collect();
        for check in &a.checks {
            if !graded.iter().any(|r| r.failed.contains(check.name)) {
                problems.push(format!("{}: no mutant fails `{}`", a.name, check.name));
            }
        }
    }
    (out, problems)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(mutant: &str, expected: &[&str], failed: &[&str]) -> Row {
        Row {
            assignment: "pipes".into(),
            mutant: mutant.into(),
            expected: expected.iter().map(|s| s.to_string()).collect(),
            failed: failed.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn a_mutant_that_passes_everything_or_a_named_check_fails_the_run() {
        let rows = [
            row("a", &["x"], &["x", "y"]),
            row("b", &["y"], &[]),
            row("c", &["x"], &["y"]),
        ];
        let (text, problems) = table(&rows, &[]);
        assert!(text.contains("b") && text.contains("(nothing)"));
        assert_eq!(
            problems,
            [
                "pipes: mutant `b` passes every check",
                "pipes: mutant `b` passes `y`, which it names",
                "pipes: mutant `c` passes `x`, which it names",
            ]
        );
    }
}
