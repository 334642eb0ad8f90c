//! The starter is generated from the solution: every file is copied, and in Rust sources each
//! region between `// BEGIN SOLUTION` and `// END SOLUTION` is replaced by the text after
//! `BEGIN SOLUTION` on the marker line (a `todo!("…")` stub), at the marker's indentation, or
//! removed when that text is empty. `grader starter --check` proves the committed `starter/`
//! is exactly what generation gives.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use walkdir::WalkDir;

const BEGIN: &str = "// BEGIN SOLUTION";
const END: &str = "// END SOLUTION";

/// Applies the marker rule to one source file.
pub fn strip(source: &str, name: &str) -> Result<String> {
    let mut out = String::with_capacity(source.len());
    let mut open: Option<usize> = None;
    for (i, line) in source.split_inclusive('\n').enumerate() {
        let trimmed = line.trim_start();
        if let Some(rest) = trimmed.strip_prefix(BEGIN) {
            if let Some(at) = open {
                bail!(
                    "{name}:{}: BEGIN SOLUTION inside the region opened at line {}",
                    i + 1,
                    at + 1
                );
            }
            open = Some(i);
            let stub = rest.trim();
            if !stub.is_empty() {
                let indent = &line[..line.len() - trimmed.len()];
                out.push_str(&format_stub(indent, stub));
            }
        } else if trimmed.starts_with(END) {
            if open.take().is_none() {
                bail!("{name}:{}: END SOLUTION without a BEGIN", i + 1);
            }
        } else if open.is_none() {
            // Where a region went away, the blank lines either side of it do not pile up.
            let blank = line.trim().is_empty();
            if !(blank && (out.is_empty() || out.ends_with("\n\n"))) {
                out.push_str(line);
            }
        }
    }
    if let Some(at) = open {
        bail!("{name}:{}: BEGIN SOLUTION is never closed", at + 1);
    }
    // A region removed at the end leaves no blank line at the end of the file.
    while out.ends_with("\n\n") {
        out.pop();
    }
    Ok(out)
}

/// Rustfmt's line width (the kit keeps its default).
const MAX_WIDTH: usize = 100;

/// A stub as rustfmt lays it out: one statement a line (`let _ = x; todo!("…")` becomes two),
/// and a `todo!("…")` too long for its line with its message on a line of its own.
fn format_stub(indent: &str, stub: &str) -> String {
    let mut statements = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (i, c) in stub.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            ';' if !quoted => {
                statements.push(stub[start..=i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    statements.push(stub[start..].trim());
    let mut out = String::new();
    for statement in statements.into_iter().filter(|s| !s.is_empty()) {
        let width = indent.chars().count() + statement.chars().count();
        let call = statement
            .strip_prefix("todo!(")
            .and_then(|s| s.strip_suffix(')'));
        match call {
            Some(message) if width > MAX_WIDTH => {
                out.push_str(&format!(
                    "{indent}todo!(\n{indent}    {message}\n{indent})\n"
                ));
            }
            _ => out.push_str(&format!("{indent}{statement}\n")),
        }
    }
    out
}

/// Every file the starter should hold, by path relative to its root.
pub fn generate(solution: &Path) -> Result<BTreeMap<PathBuf, Vec<u8>>> {
    let mut files = BTreeMap::new();
    for entry in WalkDir::new(solution)
        .into_iter()
        .filter_entry(|e| e.depth() == 0 || e.file_name() != "target")
    {
        let entry = entry.with_context(|| format!("cannot read {}", solution.display()))?;
        if !entry.file_type().is_file() {
            continue;
        }
        let rel = entry.path().strip_prefix(solution)?.to_path_buf();
        let data = std::fs::read(entry.path())?;
        let data = if rel.extension().is_some_and(|e| e == "rs") {
            let text = String::from_utf8(data)
                .with_context(|| format!("{} is not UTF-8", rel.display()))?;
            strip(&text, &rel.display().to_string())?.into_bytes()
        } else {
            data
        };
        files.insert(rel, data);
    }
    Ok(files)
}

/// The files of an existing starter, as [`generate`] lists them.
fn read_tree(root: &Path) -> Result<BTreeMap<PathBuf, Vec<u8>>> {
    let mut files = BTreeMap::new();
    for entry in WalkDir::new(root)
        .into_iter()
        .filter_entry(|e| e.depth() == 0 || e.file_name() != "target")
    {
        let entry = entry?;
        if entry.file_type().is_file() {
            let rel = entry.path().strip_prefix(root)?.to_path_buf();
            files.insert(rel, std::fs::read(entry.path())?);
        }
    }
    Ok(files)
}

/// The paths where `starter` differs from what generation gives.
pub fn drift(solution: &Path, starter: &Path) -> Result<Vec<String>> {
    let want = generate(solution)?;
    let have = read_tree(starter)?;
    let mut problems = Vec::new();
    for (path, data) in &want {
        match have.get(path) {
            None => problems.push(format!("missing: {}", path.display())),
            Some(d) if d != data => problems.push(format!("differs: {}", path.display())),
            Some(_) => {}
        }
    }
    for path in have.keys().filter(|p| !want.contains_key(*p)) {
        problems.push(format!(
            "not generated from the solution: {}",
            path.display()
        ));
    }
    Ok(problems)
}

/// Writes the generated starter over `starter` (removing files generation does not give).
pub fn write(solution: &Path, starter: &Path) -> Result<()> {
    let want = generate(solution)?;
    for path in read_tree(starter)?
        .keys()
        .filter(|p| !want.contains_key(*p))
    {
        std::fs::remove_file(starter.join(path))?;
    }
    for (path, data) in want {
        let to = starter.join(&path);
        if let Some(dir) = to.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(&to, data).with_context(|| format!("cannot write {}", to.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_become_their_stubs() {
        let src = "fn f(x: u8) -> u8 {\n    // BEGIN SOLUTION let _ = x; todo!(\"§1\")\n    x + 1\n    // END SOLUTION\n}\n";
        assert_eq!(
            strip(src, "f.rs").unwrap(),
            "fn f(x: u8) -> u8 {\n    let _ = x;\n    todo!(\"§1\")\n}\n"
        );
    }

    #[test]
    fn long_stubs_are_laid_out_as_rustfmt_would() {
        let message = format!("\"specs/x.md §1: {}; done\"", "word ".repeat(20));
        let src = format!(
            "fn f() {{\n    // BEGIN SOLUTION todo!({message})\n    1\n    // END SOLUTION\n}}\n"
        );
        assert_eq!(
            strip(&src, "f.rs").unwrap(),
            format!("fn f() {{\n    todo!(\n        {message}\n    )\n}}\n")
        );
        let src = "use a;\n\n// BEGIN SOLUTION\nuse b;\n// END SOLUTION\n\nfn g() {}\n";
        assert_eq!(strip(src, "g.rs").unwrap(), "use a;\n\nfn g() {}\n");
    }

    #[test]
    fn bare_regions_disappear() {
        let src = "use a;\n// BEGIN SOLUTION\nuse b;\n// END SOLUTION\nfn g() {}\n";
        assert_eq!(strip(src, "g.rs").unwrap(), "use a;\nfn g() {}\n");
    }

    #[test]
    fn unbalanced_markers_are_errors_with_a_line() {
        let err = strip("// BEGIN SOLUTION\nx\n", "h.rs").unwrap_err();
        assert_eq!(err.to_string(), "h.rs:1: BEGIN SOLUTION is never closed");
        let err = strip("// END SOLUTION\n", "h.rs").unwrap_err();
        assert_eq!(err.to_string(), "h.rs:1: END SOLUTION without a BEGIN");
    }
}
