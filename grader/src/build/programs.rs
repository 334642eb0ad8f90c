//! The grading's own folder of programs: what the checks run.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::copy::copy_file;

/// Where the graded programs and the grader's own helpers run from: a folder of this grading
/// (mode 0711, the grader's), which the programs' user can enter but not list or change,
/// holding a copy of the grader (execute-only: its processes cannot be read or traced) and of
/// the fault-injection library, and the built binaries. It does not depend on where the kit
/// lives, and it is removed when the grading ends.
pub struct Programs {
    dir: tempfile::TempDir,
    /// Whether the folder is a mount of its own (see [`Programs::seal`]).
    sealed: std::sync::Mutex<bool>,
    /// The grader's copy, run for helper tools.
    pub tool: PathBuf,
    /// The fault-injection library's copy, if the grader has one.
    pub library: Option<PathBuf>,
}

impl Programs {
    /// Makes the folder and copies the grader (`exe`) and the library (`library`) into it.
    pub fn new(exe: &Path, library: Option<&Path>) -> Result<Programs> {
        let dir = tempfile::Builder::new()
            .prefix("ipclab-programs-")
            .tempdir()
            .context("cannot make the grading's program folder")?;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o711))?;
        let tool = dir.path().join("grader");
        copy_file(exe, &tool, 0o711)
            .with_context(|| format!("cannot copy the grader {}", exe.display()))?;
        let library = match library {
            Some(lib) => {
                let to = dir.path().join(crate::faults::LIBRARY);
                copy_file(lib, &to, 0o644)
                    .with_context(|| format!("cannot copy {}", lib.display()))?;
                Some(to)
            }
            None => None,
        };
        Ok(Programs {
            dir,
            sealed: std::sync::Mutex::new(false),
            tool,
            library,
        })
    }

    /// Makes the folder read-only for every process, the grader's too (`read_only`), or
    /// writable again for the grader to add binaries, where the grader has a mount namespace
    /// of its own (`namespaces`): a program running as the grader's own user (a grading without
    /// root) cannot then change the grader's copy or the binaries of a later check. Without a
    /// mount namespace the folder is only root's (as root) or the grader's user's.
    pub fn seal(&self, read_only: bool, namespaces: bool) -> std::io::Result<()> {
        use nix::mount::{MsFlags, mount};
        if !namespaces {
            return Ok(());
        }
        let dir = self.dir.path();
        let mut sealed = self.sealed.lock().unwrap_or_else(|e| e.into_inner());
        if !*sealed {
            mount(Some(dir), dir, None::<&str>, MsFlags::MS_BIND, None::<&str>)
                .map_err(|e| std::io::Error::other(format!("bind {}: {e}", dir.display())))?;
            *sealed = true;
        }
        let mut flags = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_NOSUID;
        if read_only {
            flags |= MsFlags::MS_RDONLY;
        }
        mount(None::<&str>, dir, None::<&str>, flags, None::<&str>).map_err(|e| {
            std::io::Error::other(format!("remount {} ({flags:?}): {e}", dir.display()))
        })
    }

    /// The folder of assignment `name`'s binaries.
    pub(super) fn assignment_dir(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The folder itself.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Programs {
    /// Takes the folder's own mount away, so that the folder can be removed.
    fn drop(&mut self) {
        if *self.sealed.lock().unwrap_or_else(|e| e.into_inner()) {
            let _ = nix::mount::umount2(self.dir.path(), nix::mount::MntFlags::MNT_DETACH);
        }
    }
}
