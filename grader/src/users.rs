//! The grading's own user. A grader run as root builds the submission and runs its programs
//! as a user that no other grading, no person and no service of the machine has: a uid of
//! [`FIRST_UID`]`..`[`FIRST_UID`]` + `[`COUNT`], held for the grading's lifetime by a lock
//! under `/run/ipclab`. Two gradings side by side thus cannot signal, trace or read each
//! other's processes (`/proc/PID/fd`, `/proc/PID/mem`), nor touch each other's files.

use std::fs::File;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::Path;

use nix::fcntl::{Flock, FlockArg};

/// The first uid (and gid) of the gradings' users: far above the users of a machine and
/// above the usual ranges of subordinate ids (100000 + 65536 per user).
pub const FIRST_UID: u32 = 2_100_000_000;
/// How many gradings may run at once on one machine.
pub const COUNT: u32 = 4096;

/// Where the locks live: root's own, never a folder a program could make first.
const LOCKS: &str = "/run/ipclab";

/// Whether `uid` is one that gradings run as.
pub fn is_grading_uid(uid: u32) -> bool {
    (FIRST_UID..FIRST_UID + COUNT).contains(&uid)
}

/// A user held for one grading; freed when dropped.
#[derive(Debug)]
pub struct GradingUser {
    /// Its uid, also its gid.
    pub uid: u32,
    _lock: Flock<File>,
}

/// Takes a free grading user (only root may: it is the one that switches to it).
pub fn take() -> std::io::Result<GradingUser> {
    let dir = Path::new(LOCKS);
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => return Err(e),
        _ => {}
    }
    let meta = std::fs::symlink_metadata(dir)?;
    if !meta.is_dir() || meta.uid() != 0 || meta.permissions().mode() & 0o022 != 0 {
        return Err(std::io::Error::other(format!(
            "{LOCKS} is not a folder of root's own"
        )));
    }
    // Start where the pid points, so that gradings started together seldom try the same.
    let start = std::process::id() % COUNT;
    for i in 0..COUNT {
        let n = (start + i) % COUNT;
        let file = File::create(dir.join(format!("uid-{n}.lock")))?;
        if let Ok(lock) = Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            let uid = FIRST_UID + n;
            if !has_processes(uid) {
                return Ok(GradingUser { uid, _lock: lock });
            }
        }
    }
    Err(std::io::Error::other(
        "every grading user is taken: too many gradings at once",
    ))
}

/// Whether any process of the machine runs as `uid` (one left by a grading that died).
fn has_processes(uid: u32) -> bool {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().parse::<u32>().is_ok())
        .any(|e| e.metadata().is_ok_and(|m| m.uid() == uid))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_range_is_far_from_ordinary_users() {
        assert!(!is_grading_uid(0) && !is_grading_uid(65534) && !is_grading_uid(165535));
        assert!(is_grading_uid(FIRST_UID) && is_grading_uid(FIRST_UID + COUNT - 1));
        assert!(
            FIRST_UID
                .checked_add(COUNT)
                .is_some_and(|end| end < u32::MAX / 2 + 1)
        );
    }
}
