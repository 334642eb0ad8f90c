//! Mutants: known-bad implementations, each the reference solution with one edit, kept beside
//! each assignment's checks in `src/assignments/NAME/mutants.toml`. The kit's tests build every
//! mutant and show that the checks it names do not pass it.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::Deserialize;

/// One mutant.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mutant {
    /// Kebab-case, unique within the assignment.
    pub name: String,
    /// The mistake, as a student would make it.
    pub about: String,
    /// The edited file, relative to the solution workspace.
    pub file: PathBuf,
    /// Text that occurs exactly once in that file.
    pub find: String,
    /// What replaces it.
    pub replace: String,
    /// The checks that must not pass this mutant.
    pub fails: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    mutant: Vec<Mutant>,
}

/// The mutants file of `assignment`.
pub fn path(assignment: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("src/assignments")
        .join(assignment.replace('-', "_"))
        .join("mutants.toml")
}

/// Reads the mutants of `assignment`, with those of its hidden checks (`hidden.toml`, if it
/// has one): this module is built only with the hidden checks (the `instructor` feature).
pub fn load(assignment: &str) -> Result<Vec<Mutant>> {
    let mut mutants = read(&path(assignment))?;
    let hidden = path(assignment).with_file_name("hidden.toml");
    if hidden.is_file() {
        mutants.extend(read(&hidden)?);
    }
    Ok(mutants)
}

fn read(path: &Path) -> Result<Vec<Mutant>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let file: File =
        toml::from_str(&text).with_context(|| format!("cannot parse {}", path.display()))?;
    Ok(file.mutant)
}

/// Makes `dest` a copy of the `solution` workspace with the mutant's edit applied. Files that
/// are already identical are left alone, so that rebuilding the same mutant is incremental.
pub fn materialise(solution: &Path, dest: &Path, mutant: &Mutant) -> Result<()> {
    for entry in walkdir::WalkDir::new(solution)
        .into_iter()
        .filter_entry(|e| e.depth() == 0 || e.file_name() != "target")
    {
        let entry = entry?;
        let rel = entry.path().strip_prefix(solution)?;
        let to = dest.join(rel);
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&to)?;
            continue;
        }
        let mut data = std::fs::read(entry.path())?;
        if rel == mutant.file {
            let text = String::from_utf8(data)?;
            let found = text.matches(&mutant.find).count();
            if found != 1 {
                bail!(
                    "mutant `{}`: the text to replace occurs {found} times in {} (expected once)",
                    mutant.name,
                    mutant.file.display()
                );
            }
            data = text.replacen(&mutant.find, &mutant.replace, 1).into_bytes();
        }
        if std::fs::read(&to).ok().as_deref() != Some(&data[..]) {
            std::fs::write(&to, &data)?;
        }
    }
    if !solution.join(&mutant.file).is_file() {
        bail!(
            "mutant `{}`: no file {}",
            mutant.name,
            mutant.file.display()
        );
    }
    Ok(())
}
