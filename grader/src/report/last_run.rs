//! The statuses of the last run, to say what changed since.

use super::*;

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
