//! Leaked IPC objects, found by snapshot: the SysV objects in `/proc/sysvipc/{msg,shm,sem}`,
//! the entries of `/dev/shm` (POSIX shared memory and named semaphores) and the POSIX message
//! queues of the mqueue filesystem, read before and after a check; what appeared and is still
//! there was left behind by the check, and is removed. The objects and their readers are
//! [`crate::ipc`]'s.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

pub use crate::ipc::sysvipc::{Entry as SysvEntry, SHM_DEST, entries as sysv_entries};
pub use crate::ipc::{DEV_MQUEUE, DEV_SHM, Object, remove_entry, shell_word};

/// The IPC objects present at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    objects: BTreeSet<Object>,
}

impl Snapshot {
    /// Reads every object now present; a table or folder that cannot be read counts as
    /// empty, and message queues are read only where an mqueue filesystem is reachable
    /// ([`crate::ipc::mqueue_dir`]).
    pub fn take() -> Snapshot {
        Snapshot::take_from(
            Path::new(crate::ipc::sysvipc::PROC_SYSVIPC),
            Path::new(DEV_SHM),
            crate::ipc::mqueue_dir().as_deref(),
        )
    }

    /// [`Snapshot::take`] with the places given, for tests.
    pub fn take_from(sysvipc: &Path, dev_shm: &Path, mqueue: Option<&Path>) -> Snapshot {
        let mut objects: BTreeSet<Object> = crate::ipc::sysvipc::all_objects(sysvipc)
            .into_iter()
            .collect();
        objects.extend(crate::ipc::dev_shm_objects(dev_shm));
        if let Some(dir) = mqueue {
            objects.extend(crate::ipc::mqueue_objects(dir));
        }
        Snapshot { objects }
    }

    /// The objects present in `self` but not in `before`.
    pub fn added_since(&self, before: &Snapshot) -> Vec<Object> {
        self.objects.difference(&before.objects).cloned().collect()
    }

    /// The objects of this snapshot.
    pub fn objects(&self) -> impl Iterator<Item = &Object> {
        self.objects.iter()
    }
}

/// A temporary path that no other run uses, for `ftok` files and object names.
pub fn unique_name(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{prefix}-{}-{n}-{nanos:08x}", std::process::id())
}

/// Where a check may put its files.
pub fn check_dir(root: &Path, check: &str) -> PathBuf {
    root.join(check)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snapshot_diff_shows_what_appeared() {
        let dir = tempfile::tempdir().unwrap();
        let (proc_dir, shm_dir, mq_dir) = (
            dir.path().join("sysvipc"),
            dir.path().join("shm"),
            dir.path().join("mqueue"),
        );
        for d in [&proc_dir, &shm_dir, &mq_dir] {
            std::fs::create_dir_all(d).unwrap();
        }
        std::fs::write(proc_dir.join("sem"), "key semid perms\n").unwrap();
        let before = Snapshot::take_from(&proc_dir, &shm_dir, Some(&mq_dir));
        std::fs::write(proc_dir.join("sem"), "key semid perms\n0 9 600\n").unwrap();
        std::fs::write(shm_dir.join("ipclab-a"), b"").unwrap();
        std::fs::write(mq_dir.join("ipclab-q"), b"").unwrap();
        let after = Snapshot::take_from(&proc_dir, &shm_dir, Some(&mq_dir));
        let added: Vec<String> = after
            .added_since(&before)
            .iter()
            .map(|o| o.to_string())
            .collect();
        assert_eq!(
            added,
            [
                "SysV semaphore set id 9, key 0x00000000",
                "POSIX shared-memory object /ipclab-a (/dev/shm/ipclab-a)",
                "POSIX message queue /ipclab-q (/dev/mqueue/ipclab-q)",
            ]
        );
        // Without an mqueue filesystem, queues are not read.
        let blind = Snapshot::take_from(&proc_dir, &shm_dir, None);
        assert_eq!(blind.added_since(&before).len(), 2);
    }
}
