//! Building an implementation without touching it: the submission folder is mirrored into the
//! grader's work folder (only changed files are rewritten, so Cargo rebuilds only what
//! changed), built there, and its binaries copied out. A folder with a `Cargo.toml` is built
//! with `cargo build --release -p PACKAGE`; one without, with `make` (binaries in `bin/`), so
//! that a submission in another language can be graded too.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result};
use nix::fcntl::{Flock, FlockArg};
use walkdir::WalkDir;

use crate::check::Assignment;

/// Folders never copied from a submission.
const SKIPPED: &[&str] = &["target", ".git"];

/// An implementation mirrored into the work folder.
pub struct Staged {
    /// The mirror of the submission.
    pub src: PathBuf,
    /// Where its binaries are copied once built.
    pub bins: PathBuf,
    /// The shared Cargo target folder.
    target: PathBuf,
    /// Held while building and copying binaries out, since builds share a target folder.
    lock: PathBuf,
}

/// Why an assignment's binaries could not be had.
#[derive(Debug, Clone)]
pub struct BuildError {
    /// The compiler's first error, or what else went wrong, in one line.
    pub reason: String,
    /// The build's output, trimmed.
    pub log: String,
}

/// Mirrors `submission` into `work`, in a folder named after its canonical path.
pub fn stage(submission: &Path, work: &Path) -> Result<Staged> {
    let canonical = submission.canonicalize().with_context(|| {
        format!(
            "cannot read the implementation folder {}",
            submission.display()
        )
    })?;
    anyhow::ensure!(
        canonical.is_dir(),
        "the implementation {} is not a folder",
        submission.display()
    );
    let slug = slug(&canonical);
    let root = work.join("impl").join(&slug);
    let src = root.join("src");
    std::fs::create_dir_all(&src)
        .with_context(|| format!("cannot create the work folder {}", src.display()))?;
    let lock = work.join("build.lock");
    let staged = Staged {
        src,
        bins: root.join("bin"),
        target: work.join("target"),
        lock,
    };
    let _guard = lock_file(&staged.lock)?;
    mirror(&canonical, &staged.src)?;
    Ok(staged)
}

/// A folder name for a submission: its last component and a hash of its full path.
fn slug(path: &Path) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "root".into());
    let clean: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let hash = path
        .to_string_lossy()
        .bytes()
        .fold(0xcbf29ce484222325u64, |h, b| {
            (h ^ b as u64).wrapping_mul(0x100000001b3)
        });
    format!("{clean}-{:08x}", hash as u32)
}

/// Makes `dst` hold exactly the files of `src` (minus [`SKIPPED`]), rewriting only those that
/// differ so that unchanged files keep their modification times.
fn mirror(src: &Path, dst: &Path) -> Result<()> {
    let mut wanted = std::collections::BTreeSet::new();
    let walk = WalkDir::new(src).into_iter().filter_entry(|e| {
        e.depth() == 0 || !SKIPPED.contains(&e.file_name().to_string_lossy().as_ref())
    });
    for entry in walk {
        let entry = entry.with_context(|| format!("cannot read {}", src.display()))?;
        let rel = entry
            .path()
            .strip_prefix(src)
            .expect("walk stays under its root");
        let to = dst.join(rel);
        wanted.insert(rel.to_path_buf());
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&to)?;
        } else if entry.file_type().is_file() {
            let data = std::fs::read(entry.path())
                .with_context(|| format!("cannot read {}", entry.path().display()))?;
            if std::fs::read(&to).ok().as_deref() != Some(&data[..]) {
                std::fs::write(&to, &data)?;
            }
            let mode = entry.metadata()?.permissions();
            std::fs::set_permissions(&to, mode)?;
        }
    }
    // Remove what the submission no longer has (deepest first).
    let mut stale: Vec<PathBuf> = WalkDir::new(dst)
        .min_depth(1)
        .into_iter()
        .filter_map(|e| e.ok())
        .map(|e| e.path().strip_prefix(dst).expect("under dst").to_path_buf())
        .filter(|rel| !wanted.contains(rel) && !rel.starts_with("target"))
        .collect();
    stale.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    for rel in stale {
        let path = dst.join(rel);
        let _ = if path.is_dir() {
            std::fs::remove_dir(&path)
        } else {
            std::fs::remove_file(&path)
        };
    }
    Ok(())
}

fn lock_file(path: &Path) -> Result<Flock<File>> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let file = File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    Flock::lock(file, FlockArg::LockExclusive)
        .map_err(|(_, e)| anyhow::anyhow!("cannot lock {}: {e}", path.display()))
}

impl Staged {
    /// Builds one assignment's binaries; returns their paths by name.
    pub fn build(&self, assignment: &Assignment) -> Result<BTreeMap<String, PathBuf>, BuildError> {
        let _guard = lock_file(&self.lock).map_err(|e| BuildError {
            reason: e.to_string(),
            log: String::new(),
        })?;
        let cargo = self.src.join("Cargo.toml").is_file();
        let cargo_cmd = || {
            let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
            let mut cmd = Command::new(cargo);
            cmd.env("CARGO_TARGET_DIR", &self.target)
                .env_remove("RUSTFLAGS")
                .current_dir(&self.src);
            cmd
        };
        // Every implementation shares one target folder, and Cargo names a workspace member's
        // artifacts by its path *within* the workspace: two submissions' `pipes` crates look
        // alike to it. So when the package was last built from another submission, it is
        // cleaned first; the same submission again rebuilds only what changed.
        let last = self
            .target
            .join(format!("last-built-{}", assignment.package));
        let this = self.src.to_string_lossy().into_owned();
        if cargo && std::fs::read_to_string(&last).ok().as_deref() != Some(this.as_str()) {
            let _ = cargo_cmd()
                .args(["clean", "--release", "--quiet", "-p"])
                .arg(assignment.package)
                .output();
        }
        if cargo {
            let _ = std::fs::create_dir_all(&self.target);
            let _ = std::fs::write(&last, &this);
        }
        let output = if cargo {
            cargo_cmd()
                .args([
                    "build",
                    "--release",
                    "--quiet",
                    "--message-format=short",
                    "-p",
                ])
                .arg(assignment.package)
                .output()
        } else {
            Command::new("make")
                .arg(assignment.name)
                .current_dir(&self.src)
                .output()
        };
        let output = output.map_err(|e| BuildError {
            reason: format!("could not run the build: {e}"),
            log: String::new(),
        })?;
        let log = String::from_utf8_lossy(&output.stderr).into_owned();
        if !output.status.success() {
            let reason = log
                .lines()
                .find(|l| l.contains("error"))
                .unwrap_or("the build failed")
                .trim()
                .to_string();
            return Err(BuildError { reason, log });
        }
        let built = if cargo {
            self.target.join("release")
        } else {
            self.src.join("bin")
        };
        let out = self.bins.join(assignment.name);
        std::fs::create_dir_all(&out).map_err(|e| BuildError {
            reason: format!("cannot create {}: {e}", out.display()),
            log: String::new(),
        })?;
        let mut bins = BTreeMap::new();
        for name in assignment.binaries {
            let from = built.join(name);
            let to = out.join(name);
            // Copy to a new inode: a binary still running from an earlier grading is not
            // disturbed, and the next build cannot change this one under a running check.
            let _ = std::fs::remove_file(&to);
            std::fs::copy(&from, &to).map_err(|e| BuildError {
                reason: format!(
                    "the build made no binary `{name}` ({}: {e})",
                    from.display()
                ),
                log: log.clone(),
            })?;
            bins.insert(name.to_string(), to);
        }
        Ok(bins)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mirror_follows_the_submission_and_skips_build_output() {
        let dir = tempfile::tempdir().unwrap();
        let (src, dst) = (dir.path().join("sub"), dir.path().join("mirror"));
        std::fs::create_dir_all(src.join("a/target")).unwrap();
        std::fs::create_dir_all(src.join("target")).unwrap();
        std::fs::write(src.join("a/x.rs"), "1").unwrap();
        std::fs::write(src.join("target/big"), "junk").unwrap();
        std::fs::write(src.join("gone.rs"), "old").unwrap();
        std::fs::create_dir_all(&dst).unwrap();
        mirror(&src, &dst).unwrap();
        assert_eq!(std::fs::read_to_string(dst.join("a/x.rs")).unwrap(), "1");
        assert!(!dst.join("target").exists());
        std::fs::remove_file(src.join("gone.rs")).unwrap();
        let before = std::fs::metadata(dst.join("a/x.rs"))
            .unwrap()
            .modified()
            .unwrap();
        mirror(&src, &dst).unwrap();
        assert!(!dst.join("gone.rs").exists());
        let after = std::fs::metadata(dst.join("a/x.rs"))
            .unwrap()
            .modified()
            .unwrap();
        assert_eq!(before, after, "an unchanged file is not rewritten");
    }

    #[test]
    fn slugs_differ_by_path() {
        assert_ne!(slug(Path::new("/a/starter")), slug(Path::new("/b/starter")));
        assert!(slug(Path::new("/a/my sub")).starts_with("my_sub-"));
    }
}
