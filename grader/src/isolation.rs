//! Isolation of the grader's IPC from the rest of the machine.
//!
//! Where it may (as root), the grader moves itself at start-up into a new IPC namespace and a
//! new mount namespace with a private tmpfs on `/dev/shm`. Everything it starts inherits both:
//! `/proc/sysvipc` and `/dev/shm` then hold only the objects of this grading, so a leak is
//! attributed to the check that made it even while other programs (another grader, a student's
//! own tests) use IPC on the same machine, and whatever is left vanishes with the grader.
//! Where it may not, it grades in the machine's namespaces and attributes leaks by snapshot
//! alone; the report's header says which mode ran.

use nix::mount::{MsFlags, mount};
use nix::sched::{CloneFlags, unshare};

/// How the grader's IPC is isolated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Isolation {
    /// Private IPC and mount namespaces, a private `/dev/shm`.
    Namespaces,
    /// The machine's namespaces; leaks found by snapshot and diff.
    Snapshot,
}

impl Isolation {
    /// The word in the report's header.
    pub fn describe(self) -> &'static str {
        match self {
            Isolation::Namespaces => "namespaces (private IPC namespace and /dev/shm)",
            Isolation::Snapshot => "snapshot (the machine's IPC namespace, diffed per check)",
        }
    }
}

/// Enters private namespaces if `wanted` and permitted. Call before any thread is started:
/// `unshare` of a mount namespace is refused to a multi-threaded process.
pub fn enter(wanted: bool) -> Isolation {
    if !wanted || try_enter().is_err() {
        return Isolation::Snapshot;
    }
    Isolation::Namespaces
}

fn try_enter() -> nix::Result<()> {
    unshare(CloneFlags::CLONE_NEWIPC | CloneFlags::CLONE_NEWNS)?;
    // Keep our mounts from propagating back to the machine, then give /dev/shm a fresh tmpfs.
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )?;
    mount(
        Some("tmpfs"),
        crate::leaks::DEV_SHM,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        Some("mode=1777"),
    )
}
