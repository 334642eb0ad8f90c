//! What builds are made with: the kit's toolchain and the starter's dependencies, chosen by the
//! grader from the kit's own folder, never by the submission.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::{BuildError, fnv};

/// The kit's root folder: where the grader was built, if the starter's lockfile is there, or
/// the current folder (the Gradescope autograder runs the grader from the kit).
pub fn kit_root() -> Option<PathBuf> {
    let built = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf);
    let here = std::env::current_dir().ok();
    [built, here]
        .into_iter()
        .flatten()
        .find(|p| p.join("starter/Cargo.lock").is_file())
}

/// The toolchain builds use: the sysroot of the `rustc` the kit itself is built with, asked
/// from the kit's folder (a submission's `rust-toolchain` file chooses nothing).
pub fn toolchain(kit: &Path) -> Result<PathBuf, BuildError> {
    let out = Command::new("rustc")
        .args(["--print", "sysroot"])
        .current_dir(kit)
        .env_remove("RUSTUP_TOOLCHAIN")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| BuildError::grader(format!("cannot run rustc: {e}")))?;
    let sysroot = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    if !out.status.success() || !sysroot.join("bin/cargo").is_file() {
        return Err(BuildError::grader(format!(
            "no Rust toolchain with cargo found (rustc --print sysroot: {})",
            sysroot.display()
        )));
    }
    Ok(sysroot)
}

/// The starter's dependencies as sources (`cargo vendor`), made once per lockfile in the work
/// folder from the kit's own starter: the only crates a submission's build can use.
pub fn vendored(kit: &Path, work: &Path) -> Result<PathBuf, BuildError> {
    let manifest = kit.join("starter/Cargo.toml");
    let lock = std::fs::read(kit.join("starter/Cargo.lock"))
        .map_err(|e| BuildError::grader(format!("cannot read the starter's Cargo.lock: {e}")))?;
    let dir = work.join(format!("vendor-{:016x}", fnv(&lock)));
    if dir.join(".complete").is_file() {
        return Ok(dir);
    }
    // Gradings side by side (a batch) take turns: one vendors, the others then find it done.
    let _turn = super::lock_file(&work.join("vendor.lock"))
        .map_err(|e| BuildError::grader(format!("{e:#}")))?;
    if dir.join(".complete").is_file() {
        return Ok(dir);
    }
    let partial = work.join(format!("vendor-{:016x}.partial", fnv(&lock)));
    let _ = std::fs::remove_dir_all(&partial);
    let mut last = String::new();
    // Offline first (the crates are in Cargo's cache once the kit was built), then online.
    for offline in [true, false] {
        let mut cmd = Command::new("cargo");
        cmd.arg("vendor")
            .args(offline.then_some("--offline"))
            .args(["--locked", "--quiet", "--manifest-path"])
            .arg(&manifest)
            .arg(&partial)
            .current_dir(kit)
            .stdin(Stdio::null())
            .stdout(Stdio::null());
        match cmd.output() {
            Ok(out) if out.status.success() => {
                let _ = std::fs::write(partial.join(".complete"), "");
                let _ = std::fs::remove_dir_all(&dir);
                std::fs::rename(&partial, &dir).map_err(|e| {
                    BuildError::grader(format!("cannot keep the vendored crates: {e}"))
                })?;
                return Ok(dir);
            }
            Ok(out) => last = String::from_utf8_lossy(&out.stderr).trim().to_string(),
            Err(e) => last = e.to_string(),
        }
    }
    Err(BuildError::grader(format!(
        "cannot vendor the starter's dependencies: {last}"
    )))
}
