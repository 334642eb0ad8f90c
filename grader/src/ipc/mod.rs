//! One model of the IPC objects the grader finds, reports and removes — for the leak sweep
//! after each check ([`crate::leaks`]), the isolation of a grading ([`crate::isolation`]) and
//! `grader doctor` — and one reader of each place the kernel lists them: `/proc/sysvipc/{msg,
//! shm,sem}` ([`sysvipc`]), `/dev/shm` (POSIX shared memory and glibc's named semaphores) and
//! the mqueue filesystem (POSIX message queues, [`mqueue_dir`]).
//!
//! Every place is read in the IPC namespace (and, for the two folders, the mount namespace) of
//! the reader: in full isolation the grader's own, which its programs share, with a private
//! tmpfs on `/dev/shm` and a private mqueue filesystem mounted by [`crate::isolation`].
//!
//! The model is open to a network namespace: sockets would be one more [`Object`] kind (a
//! Unix socket's path, an abstract name or a port from `/proc/net/{unix,tcp,udp}` of the
//! programs' namespace), listed beside the others in [`crate::leaks::Snapshot::take_from`]
//! and removed as the others are. Grading gives programs no network namespace of their own
//! today (only the build sandbox has one), so none is listed yet.

pub mod sysvipc;

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::sys::{self, IpcKind};

/// Where POSIX shared-memory objects and named semaphores (`sem.NAME`) live on Linux.
pub const DEV_SHM: &str = "/dev/shm";

/// Where the mqueue filesystem, which lists the POSIX message queues of an IPC namespace, is
/// usually mounted.
pub const DEV_MQUEUE: &str = "/dev/mqueue";

/// The mqueue filesystem [`crate::isolation`] mounted for the grading's own IPC namespace
/// where the machine has no `/dev/mqueue` folder to mount it on.
static PRIVATE_MQUEUE: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();

/// Records that the grading's queues are listed in `dir` (a mount of its own, not
/// [`DEV_MQUEUE`]); once per process.
pub fn set_private_mqueue(dir: PathBuf) {
    let _ = PRIVATE_MQUEUE.set(dir);
}

/// The private mqueue mount of [`set_private_mqueue`], if any: a place no listing of
/// `/dev/shm` reports.
pub fn private_mqueue() -> Option<&'static Path> {
    PRIVATE_MQUEUE.get().map(PathBuf::as_path)
}

/// The folder that lists this IPC namespace's POSIX message queues: the grading's own mount,
/// else `/dev/mqueue` where an mqueue filesystem is mounted there; `None` where none is (the
/// queues then cannot be listed, and are not swept).
pub fn mqueue_dir() -> Option<PathBuf> {
    if let Some(dir) = private_mqueue() {
        return Some(dir.to_path_buf());
    }
    let dir = Path::new(DEV_MQUEUE);
    is_mqueue_fs(dir).then(|| dir.to_path_buf())
}

/// Whether `dir` is the root of an mqueue filesystem (`MQUEUE_MAGIC`), not a plain folder.
pub fn is_mqueue_fs(dir: &Path) -> bool {
    use nix::sys::statfs::{FsType, statfs};
    const MQUEUE_MAGIC: FsType = FsType(0x1980_0202);
    statfs(dir).is_ok_and(|s| s.filesystem_type() == MQUEUE_MAGIC)
}

/// One IPC object, identified well enough to report and remove it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Object {
    /// A SysV object: its kind, key, id and (for segments) creator pid.
    SysV {
        kind: IpcKind,
        id: i32,
        key: i64,
        creator: Option<i32>,
    },
    /// An entry of `/dev/shm` (a file, or a folder a program made there), by its exact name:
    /// any bytes but NUL and `/`, UTF-8 or not.
    PosixShm { name: OsString, folder: bool },
    /// A POSIX message queue (`mq_open("/NAME")`), by the exact name its mqueue filesystem
    /// lists, without the leading `/`.
    PosixMq { name: OsString },
}

impl fmt::Display for Object {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Object::SysV {
                kind,
                id,
                key,
                creator,
            } => {
                let what = match kind {
                    IpcKind::Msg => "message queue",
                    IpcKind::Shm => "shared-memory segment",
                    IpcKind::Sem => "semaphore set",
                };
                // A key is a 32-bit `key_t`; /proc/sysvipc prints it signed, ipcs as unsigned.
                write!(f, "SysV {what} id {id}, key {:#010x}", *key as i32 as u32)?;
                if let Some(pid) = creator {
                    write!(f, ", created by pid {pid}")?;
                }
                Ok(())
            }
            Object::PosixShm { name, .. } => {
                // The name is the program's to choose: shown escaped, never raw.
                let name = crate::message::escape_bytes(name.as_bytes());
                match name.strip_prefix("sem.") {
                    Some(sem) => write!(f, "POSIX named semaphore /{sem} ({DEV_SHM}/{name})"),
                    None => write!(f, "POSIX shared-memory object /{name} ({DEV_SHM}/{name})"),
                }
            }
            Object::PosixMq { name } => {
                let name = crate::message::escape_bytes(name.as_bytes());
                write!(f, "POSIX message queue /{name} ({DEV_MQUEUE}/{name})")
            }
        }
    }
}

impl Object {
    /// The command that removes this object by hand, for hints.
    pub fn removal_command(&self) -> String {
        match self {
            Object::SysV { kind, id, .. } => {
                let flag = match kind {
                    IpcKind::Msg => "q",
                    IpcKind::Shm => "m",
                    IpcKind::Sem => "s",
                };
                format!("ipcrm -{flag} {id}")
            }
            Object::PosixShm { name, folder } => {
                let path = Path::new(DEV_SHM).join(name);
                let flags = if *folder { "-r " } else { "" };
                format!("rm {flags}{}", shell_word(path.as_os_str().as_bytes()))
            }
            Object::PosixMq { name } => {
                let path = Path::new(DEV_MQUEUE).join(name);
                format!("rm {}", shell_word(path.as_os_str().as_bytes()))
            }
        }
    }

    /// Removes the object: a folder of `/dev/shm` with all it holds, without following a
    /// symbolic link; a message queue by `mq_unlink`, in this IPC namespace. Succeeds only if
    /// the object is gone afterwards (one already gone counts as removed).
    pub fn remove(&self) -> std::io::Result<()> {
        match self {
            Object::SysV { kind, id, .. } => match sys::ipc_remove(*kind, *id) {
                Err(e) if matches!(e.raw_os_error(), Some(libc::EINVAL) | Some(libc::EIDRM)) => {
                    Ok(())
                }
                other => other,
            },
            Object::PosixShm { name, .. } => remove_entry(&Path::new(DEV_SHM).join(name)),
            Object::PosixMq { name } => {
                let mut path = b"/".to_vec();
                path.extend_from_slice(name.as_bytes());
                match nix::mqueue::mq_unlink(OsStr::from_bytes(&path)) {
                    Ok(()) | Err(nix::errno::Errno::ENOENT) => Ok(()),
                    Err(e) => Err(e.into()),
                }
            }
        }
    }
}

/// The entries of `/dev/shm`-like folder `dir`, as objects: every name exactly, a folder
/// marked as one. The grading's private mqueue mount, if it is there, is not one of them.
pub fn dev_shm_objects(dir: &Path) -> Vec<Object> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter(|e| Some(e.path().as_path()) != private_mqueue())
        .map(|e| Object::PosixShm {
            name: e.file_name(),
            folder: e.file_type().is_ok_and(|t| t.is_dir()),
        })
        .collect()
}

/// The POSIX message queues an mqueue filesystem mounted on `dir` lists.
pub fn mqueue_objects(dir: &Path) -> Vec<Object> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .map(|e| Object::PosixMq {
            name: e.file_name(),
        })
        .collect()
}

/// Whether `path` is a folder itself (not a symbolic link to one).
fn is_dir(path: &Path) -> bool {
    path.symlink_metadata().is_ok_and(|m| m.is_dir())
}

/// Removes a file, or a folder and everything in it, without following symbolic links (a link
/// is removed, never what it points to); `Ok` only once nothing is left at `path`.
pub fn remove_entry(path: &Path) -> std::io::Result<()> {
    let result = if is_dir(path) {
        // `remove_dir_all` removes links inside the tree as links, and refuses to follow one
        // that replaces a folder while it walks.
        std::fs::remove_dir_all(path)
    } else {
        std::fs::remove_file(path)
    };
    match result {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => match path.symlink_metadata() {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
            Ok(_) => Err(std::io::Error::other("still there after its removal")),
        },
    }
}

/// `bytes` as one word for a POSIX shell: as they are when plain, else in bash's `$'…'` with
/// every byte that is not printable ASCII as `\xNN` (a command to copy, never raw bytes).
pub fn shell_word(bytes: &[u8]) -> String {
    let printable = |b: u8| (0x20..0x7f).contains(&b);
    if bytes
        .iter()
        .all(|&b| printable(b) && b != b'\\' && b != b'\'')
    {
        return crate::message::shell_quote(&String::from_utf8_lossy(bytes));
    }
    let mut word = String::from("$'");
    for &b in bytes {
        match b {
            b'\\' | b'\'' => {
                word.push('\\');
                word.push(b as char);
            }
            b if printable(b) => word.push(b as char),
            b => word.push_str(&format!("\\x{b:02x}")),
        }
    }
    word.push('\'');
    word
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_objects_and_how_to_remove_them() {
        let sem = Object::PosixShm {
            name: "sem.ipclab-x".into(),
            folder: false,
        };
        assert_eq!(
            sem.to_string(),
            "POSIX named semaphore /ipclab-x (/dev/shm/sem.ipclab-x)"
        );
        assert_eq!(sem.removal_command(), "rm /dev/shm/sem.ipclab-x");
        let q = Object::SysV {
            kind: IpcKind::Msg,
            id: 5,
            key: 0x1234,
            creator: None,
        };
        assert_eq!(q.to_string(), "SysV message queue id 5, key 0x00001234");
        let negative = Object::SysV {
            kind: IpcKind::Msg,
            key: -775_014_561,
            id: 5,
            creator: None,
        };
        assert!(
            negative.to_string().ends_with("key 0xd1ce375f"),
            "{negative}"
        );
        assert_eq!(q.removal_command(), "ipcrm -q 5");
        let mq = Object::PosixMq {
            name: "ipclab-q\x1b".into(),
        };
        assert_eq!(
            mq.to_string(),
            "POSIX message queue /ipclab-q\\x1b (/dev/mqueue/ipclab-q\\x1b)"
        );
        assert_eq!(mq.removal_command(), "rm $'/dev/mqueue/ipclab-q\\x1b'");
    }

    #[test]
    fn names_that_are_not_utf8_or_hold_escapes_are_shown_escaped_and_removed_exactly() {
        use std::os::unix::ffi::OsStringExt;
        let odd = Object::PosixShm {
            name: OsString::from_vec(b"x\x1b[2J\xff'".to_vec()),
            folder: true,
        };
        assert_eq!(
            odd.to_string(),
            "POSIX shared-memory object /x\\x1b[2J\\xff' (/dev/shm/x\\x1b[2J\\xff')"
        );
        assert_eq!(odd.removal_command(), "rm -r $'/dev/shm/x\\x1b[2J\\xff\\''");
        let dir = tempfile::tempdir().unwrap();
        let shm_dir = dir.path().join("shm");
        let outside = dir.path().join("outside");
        std::fs::create_dir_all(shm_dir.join("tree/deeper")).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(outside.join("kept"), b"").unwrap();
        std::fs::write(shm_dir.join("tree/deeper/f"), b"").unwrap();
        std::os::unix::fs::symlink(&outside, shm_dir.join("tree/link")).unwrap();
        let odd_path = shm_dir.join(OsStr::from_bytes(b"x\x1b\xff"));
        std::fs::write(&odd_path, b"").unwrap();
        let objects = dev_shm_objects(&shm_dir);
        assert_eq!(objects.len(), 2, "{objects:?}");
        for entry in [shm_dir.join("tree"), odd_path] {
            remove_entry(&entry).unwrap();
            assert!(entry.symlink_metadata().is_err());
        }
        assert!(outside.join("kept").exists(), "a link inside was followed");
        assert!(remove_entry(&shm_dir.join("never-was")).is_ok());
    }

    #[test]
    fn a_plain_folder_is_not_an_mqueue_filesystem() {
        let dir = tempfile::tempdir().unwrap();
        assert!(!is_mqueue_fs(dir.path()));
        std::fs::write(dir.path().join("q"), b"").unwrap();
        assert_eq!(
            mqueue_objects(dir.path()),
            [Object::PosixMq { name: "q".into() }]
        );
    }
}
