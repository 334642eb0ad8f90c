//! Copying in and out of the grader's folders without trusting what is copied: a submission
//! into a fresh folder (bounded, links kept as links, nothing but regular files opened), and
//! built binaries out of the build's output folder (regular files only, never through a link).

use std::fs::File;
use std::io::Read;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use anyhow::{Context, Result};
use walkdir::WalkDir;

/// Names never copied from a submission, at any depth: build output, version control, and
/// what would choose the toolchain or configure Cargo from inside the submission.
const SKIPPED: &[&str] = &[
    "target",
    ".git",
    ".cargo",
    "rust-toolchain",
    "rust-toolchain.toml",
];

/// The most a submission may hold (README, "What a submission may bring").
pub const MAX_FILES: usize = 5_000;
/// The largest file a submission may hold, in bytes (by its length, holes included).
pub const MAX_FILE_BYTES: u64 = 16 << 20;
/// The most bytes a submission may hold in all.
pub const MAX_TOTAL_BYTES: u64 = 64 << 20;

/// Copies `from` to a new file `to` (never through a link at `to`) with `mode`.
pub fn copy_file(from: &Path, to: &Path, mode: u32) -> std::io::Result<()> {
    let mut src = File::open(from)?;
    copy_open(&mut src, to, mode)
}

pub fn copy_open(src: &mut File, to: &Path, mode: u32) -> std::io::Result<()> {
    let _ = std::fs::remove_file(to);
    let mut dst = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(to)?;
    std::io::copy(src, &mut dst)?;
    dst.set_permissions(std::fs::Permissions::from_mode(mode))
}

/// Takes a built binary from the output folder: a regular file, opened without following a
/// link, copied into a new root-owned file of mode 0755.
pub fn take_binary(from: &Path, to: &Path) -> std::io::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(from)?;
    if !file.metadata()?.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    copy_open(&mut file, to, 0o755)
}

pub enum CopyError {
    /// Over a limit: the submission cannot be built (a verdict, not a grader failure).
    TooLarge(String),
    Io(anyhow::Error),
}

impl<E: Into<anyhow::Error>> From<E> for CopyError {
    fn from(e: E) -> CopyError {
        CopyError::Io(e.into())
    }
}

/// Copies the regular files, folders and symbolic links (as links: they are followed only
/// inside the sandbox) of `src` into the empty folder `dst`, minus [`SKIPPED`], keeping the
/// execute bits. Never follows a link, never opens anything but a regular file, and stops at
/// the limits.
pub fn copy_tree(src: &Path, dst: &Path) -> Result<(), CopyError> {
    let (mut files, mut total) = (0usize, 0u64);
    let walk = WalkDir::new(src)
        .min_depth(1)
        .into_iter()
        .filter_entry(|e| !SKIPPED.contains(&e.file_name().to_string_lossy().as_ref()));
    for entry in walk {
        let entry = entry.with_context(|| format!("cannot read {}", src.display()))?;
        let rel = entry
            .path()
            .strip_prefix(src)
            .expect("walk stays under its root");
        let to = dst.join(rel);
        let kind = entry.file_type();
        files += 1;
        if files > MAX_FILES {
            return Err(CopyError::TooLarge(format!(
                "the submission holds more than {MAX_FILES} files and folders"
            )));
        }
        if kind.is_dir() {
            std::fs::create_dir(&to)?;
        } else if kind.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(entry.path())?, &to)?;
        } else if kind.is_file() {
            let meta = entry.metadata()?;
            if meta.len() > MAX_FILE_BYTES {
                return Err(CopyError::TooLarge(format!(
                    "{} is {} MiB; a submission's files may hold {} MiB each",
                    rel.display(),
                    meta.len() >> 20,
                    MAX_FILE_BYTES >> 20
                )));
            }
            total += meta.len();
            if total > MAX_TOTAL_BYTES {
                return Err(CopyError::TooLarge(format!(
                    "the submission holds more than {} MiB",
                    MAX_TOTAL_BYTES >> 20
                )));
            }
            let mut from = std::fs::OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
                .open(entry.path())
                .with_context(|| format!("cannot read {}", entry.path().display()))?;
            let mode = if meta.mode() & 0o111 != 0 {
                0o755
            } else {
                0o644
            };
            let mut limited = (&mut from).take(MAX_FILE_BYTES + 1);
            let mut dst_file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(mode)
                .open(&to)?;
            // A new modification time: the target folder kept from an earlier grading (of
            // another submission at the same path, perhaps) must never look newer than it.
            std::io::copy(&mut limited, &mut dst_file)?;
        }
        // Other kinds (pipes, sockets, devices) are left out.
    }
    Ok(())
}

/// Gives `dir` and everything under it to `uid`:`gid`, never through a link.
pub fn chown_tree(dir: &Path, uid: u32, gid: u32) -> Result<()> {
    for entry in WalkDir::new(dir) {
        let entry = entry?;
        std::os::unix::fs::lchown(entry.path(), Some(uid), Some(gid))
            .with_context(|| format!("cannot hand {} to uid {uid}", entry.path().display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_copy_skips_build_output_and_configuration_and_keeps_links_as_links() {
        let dir = tempfile::tempdir().unwrap();
        let (src, dst) = (dir.path().join("sub"), dir.path().join("copy"));
        for d in ["a/target", "target", ".cargo", "a/.cargo"] {
            std::fs::create_dir_all(src.join(d)).unwrap();
        }
        std::fs::write(src.join("a/x.rs"), "1").unwrap();
        std::fs::write(src.join("target/big"), "junk").unwrap();
        std::fs::write(src.join(".cargo/config.toml"), "[build]").unwrap();
        std::fs::write(src.join("a/.cargo/config.toml"), "[build]").unwrap();
        std::fs::write(src.join("rust-toolchain.toml"), "[toolchain]").unwrap();
        std::os::unix::fs::symlink("/etc/shadow", src.join("a/link")).unwrap();
        std::fs::create_dir_all(&dst).unwrap();
        assert!(copy_tree(&src, &dst).is_ok());
        assert_eq!(std::fs::read_to_string(dst.join("a/x.rs")).unwrap(), "1");
        for gone in [
            "target",
            ".cargo",
            "a/.cargo",
            "a/target",
            "rust-toolchain.toml",
        ] {
            assert!(!dst.join(gone).exists(), "{gone} was copied");
        }
        let link = dst.join("a/link");
        assert!(link.symlink_metadata().unwrap().file_type().is_symlink());
        assert_eq!(std::fs::read_link(link).unwrap(), Path::new("/etc/shadow"));
    }

    #[test]
    fn a_file_over_the_limit_refuses_the_copy_without_reading_it() {
        let dir = tempfile::tempdir().unwrap();
        let (src, dst) = (dir.path().join("sub"), dir.path().join("copy"));
        std::fs::create_dir_all(&src).unwrap();
        std::fs::create_dir_all(&dst).unwrap();
        let sparse = File::create(src.join("huge.bin")).unwrap();
        sparse.set_len(1 << 30).unwrap();
        match copy_tree(&src, &dst) {
            Err(CopyError::TooLarge(why)) => assert!(why.contains("huge.bin"), "{why}"),
            _ => panic!("a 1 GiB file was accepted"),
        }
        let copied = std::fs::metadata(dst.join("huge.bin")).map(|m| m.len());
        assert!(copied.is_err(), "the large file was copied: {copied:?}");
    }
}
