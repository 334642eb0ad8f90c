//! The kit's shape, read from its source files (nothing is built or run): no import circle
//! among the grader's top-level modules, no source file over 700 lines, and a grader core
//! that names no assignment.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The most lines a source file may have.
const MAX_LINES: usize = 700;

/// Files over [`MAX_LINES`] allowed for now. Do not add a file here: split it by concern.
const LONG_FILES_BEING_SPLIT: &[&str] = &[];

/// Imports that close a circle and are allowed for now: (from, to). Do not add one here.
const CIRCLES_BEING_BROKEN: &[(&str, &str)] = &[];

/// Core files allowed to name an assignment for now. Do not add a file here: ask the
/// assignment through `Assignment` or its folder.
const CORE_FILES_NAMING_ASSIGNMENTS: &[&str] = &[];

/// The assignments' names as code may spell them: each folder under grader/src/assignments/,
/// with `_` and with `-`.
fn assignment_words() -> Vec<String> {
    let mut words = Vec::new();
    for entry in std::fs::read_dir(kit().join("grader/src/assignments")).expect("readable") {
        let entry = entry.expect("readable");
        if entry.path().is_dir() {
            let name = entry.file_name().to_string_lossy().into_owned();
            words.push(name.replace('_', "-"));
            words.push(name);
        }
    }
    words.sort();
    words.dedup();
    words
}

fn kit() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the grader is in the kit's folder")
        .to_path_buf()
}

/// Every `.rs` file under `dir`, skipping `target/` folders.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let path = e.path();
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n != "target") {
                out.extend(rust_files(&path));
            }
        } else if path.extension().is_some_and(|x| x == "rs") {
            out.push(path);
        }
    }
    out.sort();
    out
}

fn relative(path: &Path) -> String {
    path.strip_prefix(kit())
        .unwrap_or(path)
        .to_string_lossy()
        .into_owned()
}

/// The code of a file: comments (`//`, `///`, `//!`, `/* */`) and the text of string literals
/// removed, so that docs and messages may name what code may not.
fn code_only(text: &str) -> String {
    scan(text).0
}

/// The text of the string literals of a file's code (not those in comments).
fn string_literals(text: &str) -> Vec<String> {
    scan(text).1
}

/// A file's code without comments and string contents, and its string literals' contents.
fn scan(text: &str) -> (String, Vec<String>) {
    let bytes = text.as_bytes();
    let mut literals = Vec::new();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < bytes.len() {
        let rest = &text[i..];
        if rest.starts_with("//") {
            let end = rest.find('\n').unwrap_or(rest.len());
            i += end;
        } else if rest.starts_with("/*") {
            let end = rest.find("*/").map_or(rest.len(), |e| e + 2);
            i += end;
        } else if rest.starts_with("r#\"") || rest.starts_with("r\"") {
            let hashes = rest[1..].chars().take_while(|&c| c == '#').count();
            let close = format!("\"{}", "#".repeat(hashes));
            let body = 2 + hashes;
            let end = rest[body..]
                .find(&close)
                .map_or(rest.len(), |e| body + e + close.len());
            out.push_str("\"\"");
            i += end;
        } else if rest.starts_with('"') {
            let mut j = 1;
            while j < rest.len() {
                match rest.as_bytes()[j] {
                    b'\\' => j += 2,
                    b'"' => break,
                    _ => j += 1,
                }
            }
            literals.push(rest[1..j.min(rest.len())].to_string());
            out.push_str("\"\"");
            i += (j + 1).min(rest.len());
        } else if rest.starts_with("'\"'") {
            out.push_str("' '");
            i += 3;
        } else {
            let c = rest.chars().next().expect("not at the end");
            out.push(c);
            i += c.len_utf8();
        }
    }
    (out, literals)
}

/// The top-level module a file of grader/src belongs to (a folder counts as one), or `None`
/// for the binary (`main.rs`, `cli/`) and the crate root.
fn top_module(path: &Path) -> Option<String> {
    let src = kit().join("grader/src");
    let rel = path.strip_prefix(&src).ok()?;
    let first = rel.components().next()?.as_os_str().to_string_lossy();
    let name = first.strip_suffix(".rs").unwrap_or(&first).to_string();
    (!["main", "lib", "cli"].contains(&name.as_str())).then_some(name)
}

/// The top-level modules a piece of code names as `crate::NAME` or in `use crate::{…}`.
fn crate_uses(code: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    for (at, _) in code.match_indices("crate::") {
        let before = code[..at].chars().next_back();
        if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$') {
            continue;
        }
        let rest = &code[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // `crate::{a, b::c, d::{…}}`: the first word of each top-level item.
            let mut depth = 0;
            let mut item_start = true;
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => item_start = true,
                    c if item_start && (c.is_ascii_alphanumeric() || c == '_') => {
                        out.insert(ident(&group[i..]));
                        item_start = false;
                    }
                    c if !c.is_whitespace() => item_start = false,
                    _ => {}
                }
            }
        } else {
            let name = ident(rest);
            if !name.is_empty() {
                out.insert(name);
            }
        }
    }
    out
}

#[test]
fn no_import_circle_among_the_graders_modules() {
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in rust_files(&kit().join("grader/src")) {
        let Some(from) = top_module(&file) else {
            continue;
        };
        let code = code_only(&std::fs::read_to_string(&file).expect("readable"));
        let uses = graph.entry(from.clone()).or_default();
        for to in crate_uses(&code) {
            if to != from && !CIRCLES_BEING_BROKEN.contains(&(from.as_str(), to.as_str())) {
                uses.insert(to);
            }
        }
    }
    // Every module's imports, followed until they lead back to it.
    let mut circles = Vec::new();
    for start in graph.keys() {
        let mut path = vec![start.clone()];
        if let Some(circle) = circle_through(&graph, start, &mut path, &mut BTreeSet::new()) {
            circles.push(circle.join(" → "));
        }
    }
    circles.sort();
    circles.dedup();
    assert!(
        circles.is_empty(),
        "import circles among grader/src's modules (a folder is one module):\n  {}\n\
         Break each: move what both sides need into the lower module (or a new one both \
         import), so that imports go one way only.",
        circles.join("\n  ")
    );
}

/// A path of imports from `path`'s last module back to `start`, if there is one.
fn circle_through(
    graph: &BTreeMap<String, BTreeSet<String>>,
    start: &str,
    path: &mut Vec<String>,
    seen: &mut BTreeSet<String>,
) -> Option<Vec<String>> {
    let here = path.last().expect("never empty").clone();
    for next in graph.get(&here).into_iter().flatten() {
        if next == start {
            let mut circle = path.clone();
            circle.push(start.to_string());
            return Some(circle);
        }
        if seen.insert(next.clone()) {
            path.push(next.clone());
            if let Some(circle) = circle_through(graph, start, path, seen) {
                return Some(circle);
            }
            path.pop();
        }
    }
    None
}

#[test]
fn no_source_file_is_over_700_lines() {
    let roots = [
        "grader/src",
        "bench/src",
        "faults/src",
        "solution",
        "starter",
    ];
    let mut long = Vec::new();
    for root in roots {
        for file in rust_files(&kit().join(root)) {
            let name = relative(&file);
            let lines = std::fs::read_to_string(&file)
                .expect("readable")
                .lines()
                .count();
            if lines > MAX_LINES && !LONG_FILES_BEING_SPLIT.contains(&name.as_str()) {
                long.push(format!("{name}: {lines} lines"));
            }
        }
    }
    assert!(
        long.is_empty(),
        "source files over {MAX_LINES} lines:\n  {}\n\
         Split each by concern into a folder of smaller modules (as grader/src/run/ and \
         grader/src/report/ are).",
        long.join("\n  ")
    );
    for name in LONG_FILES_BEING_SPLIT {
        assert!(
            kit().join(name).exists(),
            "{name} is in LONG_FILES_BEING_SPLIT but no longer exists: remove it from the list"
        );
    }
}

#[test]
fn the_graders_core_names_no_assignment() {
    let src = kit().join("grader/src");
    let mut found = Vec::new();
    let assignment_words = assignment_words();
    let named = |word: &str| assignment_words.iter().any(|w| w == word);
    for file in rust_files(&src) {
        let name = relative(&file);
        if name.starts_with("grader/src/assignments/")
            || CORE_FILES_NAMING_ASSIGNMENTS.contains(&name.as_str())
        {
            continue;
        }
        let text = std::fs::read_to_string(&file).expect("readable");
        let code = code_only(&text);
        for (n, line) in code.lines().enumerate() {
            if line.contains("assignments::")
                && assignment_words
                    .iter()
                    .any(|w| line.contains(&format!("assignments::{}", w.replace('-', "_"))))
            {
                found.push(format!("{name}:{}: uses an assignment's module", n + 1));
            }
            for word in words(line) {
                if named(word) {
                    found.push(format!("{name}:{}: names `{word}`", n + 1));
                }
            }
        }
        // A test module's data may name assignments (tests come last in a file).
        let before_tests = text.split("#[cfg(test)]").next().unwrap_or_default();
        for literal in string_literals(before_tests) {
            for word in words(&literal) {
                if named(word) && !literal.contains(' ') {
                    found.push(format!("{name}: the string \"{literal}\" names `{word}`"));
                }
            }
        }
    }
    found.sort();
    found.dedup();
    assert!(
        found.is_empty(),
        "the grader's core names an assignment:\n  {}\n\
         The core knows no assignment: move what is particular to one into its folder \
         (grader/src/assignments/NAME/) and reach it through what `Assignment` declares.",
        found.join("\n  ")
    );
}

/// The words of code: runs of letters, digits, `_` and `-` (so `sysv-shm` is one word).
fn words(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
        .filter(|w| !w.is_empty())
}

#[test]
fn the_scanner_sees_code_not_comments() {
    let code = code_only(
        "use crate::{a, b::{c, d}, e};\n// crate::f\n/// pipes\nlet x = \"crate::g\"; crate::h::i();\n",
    );
    let uses: Vec<String> = crate_uses(&code).into_iter().collect();
    assert_eq!(uses, ["a", "b", "e", "h"]);
    assert!(!code.contains("pipes"));
    assert_eq!(
        string_literals("let a = \"pipes\"; // \"msgq\"\n"),
        ["pipes"]
    );
}
