//! Leaked IPC objects, found by snapshot: the SysV objects in `/proc/sysvipc/{msg,shm,sem}` and
//! the entries of `/dev/shm` (POSIX shared memory and named semaphores), read before and after a
//! check; what appeared and is still there was left behind by the check, and is removed.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::fmt;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::sys::{self, IpcKind};

/// Where POSIX shared-memory objects and named semaphores (`sem.NAME`) live on Linux.
pub const DEV_SHM: &str = "/dev/shm";

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
        }
    }

    /// Removes the object: a folder of `/dev/shm` with all it holds, without following a
    /// symbolic link. Succeeds only if the object is gone afterwards (one already gone counts
    /// as removed).
    pub fn remove(&self) -> std::io::Result<()> {
        match self {
            Object::SysV { kind, id, .. } => match sys::ipc_remove(*kind, *id) {
                Err(e) if matches!(e.raw_os_error(), Some(libc::EINVAL) | Some(libc::EIDRM)) => {
                    Ok(())
                }
                other => other,
            },
            Object::PosixShm { name, .. } => remove_entry(&Path::new(DEV_SHM).join(name)),
        }
    }
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
        return crate::run::shell_quote(&String::from_utf8_lossy(bytes));
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

/// The IPC objects present at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    objects: BTreeSet<Object>,
}

impl Snapshot {
    /// Reads every object now present; a table that cannot be read counts as empty.
    pub fn take() -> Snapshot {
        Snapshot::take_from(Path::new("/proc/sysvipc"), Path::new(DEV_SHM))
    }

    /// [`Snapshot::take`] with the two places given, for tests.
    pub fn take_from(sysvipc: &Path, dev_shm: &Path) -> Snapshot {
        let mut objects = BTreeSet::new();
        for (kind, file, id_column) in [
            (IpcKind::Msg, "msg", "msqid"),
            (IpcKind::Shm, "shm", "shmid"),
            (IpcKind::Sem, "sem", "semid"),
        ] {
            let text = std::fs::read_to_string(sysvipc.join(file)).unwrap_or_default();
            objects.extend(parse_sysvipc(kind, &text, id_column));
        }
        if let Ok(dir) = std::fs::read_dir(dev_shm) {
            for entry in dir.flatten() {
                objects.insert(Object::PosixShm {
                    name: entry.file_name(),
                    folder: entry.file_type().is_ok_and(|t| t.is_dir()),
                });
            }
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

/// Parses one `/proc/sysvipc` table: a header line naming the columns, then one line per
/// object. The three tables differ in their columns, so they are read by column name.
pub fn parse_sysvipc(kind: IpcKind, text: &str, id_column: &str) -> Vec<Object> {
    let mut lines = text.lines();
    let Some(header) = lines.next() else {
        return Vec::new();
    };
    let columns: Vec<&str> = header.split_whitespace().collect();
    let at = |name: &str| columns.iter().position(|c| *c == name);
    let (Some(key_at), Some(id_at)) = (at("key"), at(id_column)) else {
        return Vec::new();
    };
    let cpid_at = at("cpid");
    lines
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            Some(Object::SysV {
                kind,
                key: fields.get(key_at)?.parse().ok()?,
                id: fields.get(id_at)?.parse().ok()?,
                creator: cpid_at.and_then(|i| fields.get(i)?.parse().ok()),
            })
        })
        .collect()
}

/// One row of a `/proc/sysvipc` table with every column the kernel gives, for `grader doctor`:
/// the object, and who owns it, whether it is attached and when it was last used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SysvEntry {
    /// The object, as [`parse_sysvipc`] reads it.
    pub object: Object,
    /// The owner's uid (`uid`; `IPC_SET` may change it, the creator's `cuid` stays).
    pub uid: u32,
    /// The mode bits (`perms`, octal), with `SHM_DEST` (0o1000) on a segment marked for
    /// removal that is still attached.
    pub mode: u32,
    /// Bytes: a segment's `size`, a queue's `cbytes`; a set's `nsems` (semaphores).
    pub size: u64,
    /// A segment's `nattch`: processes attached to it (0 for queues and sets).
    pub attached: u64,
    /// Pids the kernel remembers: a segment's creator and last `shmat`/`shmdt` (`cpid`,
    /// `lpid`), a queue's last sender and receiver (`lspid`, `lrpid`); 0 left out.
    pub pids: Vec<i32>,
    /// The last time, in seconds since the epoch, the object was created, changed or used
    /// (the largest of `ctime`, `atime`, `dtime`, `stime`, `rtime`, `otime`); 0 if none.
    pub last_used: i64,
}

/// `SHM_DEST` in a segment's mode: marked for removal, destroyed when the last process
/// detaches.
pub const SHM_DEST: u32 = 0o1000;

impl SysvEntry {
    /// Whether the segment is marked for removal (and still attached).
    pub fn marked_for_removal(&self) -> bool {
        self.mode & SHM_DEST != 0
    }
}

/// Parses one `/proc/sysvipc` table (`msg`, `shm` or `sem`) into [`SysvEntry`]s, by column
/// name as [`parse_sysvipc`] does, with the same objects; a row without a uid is skipped.
pub fn parse_sysvipc_entries(kind: IpcKind, text: &str) -> Vec<SysvEntry> {
    let mut lines = text.lines();
    let Some(header) = lines.next() else {
        return Vec::new();
    };
    let columns: Vec<&str> = header.split_whitespace().collect();
    let id_column = match kind {
        IpcKind::Msg => "msqid",
        IpcKind::Shm => "shmid",
        IpcKind::Sem => "semid",
    };
    lines
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let number = |name: &str| -> Option<i64> {
                let at = columns.iter().position(|c| *c == name)?;
                fields.get(at)?.parse().ok()
            };
            let many =
                |names: &[&str]| -> Vec<i64> { names.iter().filter_map(|n| number(n)).collect() };
            let object = Object::SysV {
                kind,
                key: number("key")?,
                id: number(id_column)?.try_into().ok()?,
                creator: number("cpid").and_then(|p| p.try_into().ok()),
            };
            let perms = columns
                .iter()
                .position(|c| *c == "perms")
                .and_then(|i| fields.get(i));
            Some(SysvEntry {
                object,
                uid: number("uid")?.try_into().ok()?,
                mode: perms
                    .and_then(|p| u32::from_str_radix(p, 8).ok())
                    .unwrap_or(0),
                size: many(&["size", "cbytes", "nsems"])
                    .first()
                    .map_or(0, |&n| n.max(0) as u64),
                attached: number("nattch").map_or(0, |n| n.max(0) as u64),
                pids: many(&["cpid", "lpid", "lspid", "lrpid"])
                    .into_iter()
                    .filter_map(|p| i32::try_from(p).ok().filter(|&p| p > 0))
                    .collect(),
                last_used: many(&["ctime", "atime", "dtime", "stime", "rtime", "otime"])
                    .into_iter()
                    .max()
                    .unwrap_or(0),
            })
        })
        .collect()
}

/// Every SysV object of one kind now listed in `/proc/sysvipc`, with its columns.
pub fn sysv_entries(kind: IpcKind) -> std::io::Result<Vec<SysvEntry>> {
    let file = match kind {
        IpcKind::Msg => "msg",
        IpcKind::Shm => "shm",
        IpcKind::Sem => "sem",
    };
    let text = std::fs::read_to_string(Path::new("/proc/sysvipc").join(file))?;
    Ok(parse_sysvipc_entries(kind, &text))
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
    fn parses_each_table_by_its_own_columns() {
        let shm = "       key      shmid perms                  size  cpid  lpid nattch\n\
                   1627415586          7   600                  4096  4242  4243      0\n";
        let msg = "       key      msqid perms      cbytes       qnum lspid lrpid\n\
                   -1 3 666 0 0 0 0\n";
        assert_eq!(
            parse_sysvipc(IpcKind::Shm, shm, "shmid"),
            vec![Object::SysV {
                kind: IpcKind::Shm,
                id: 7,
                key: 1627415586,
                creator: Some(4242)
            }]
        );
        assert_eq!(
            parse_sysvipc(IpcKind::Msg, msg, "msqid"),
            vec![Object::SysV {
                kind: IpcKind::Msg,
                id: 3,
                key: -1,
                creator: None
            }]
        );
        assert!(parse_sysvipc(IpcKind::Sem, "", "semid").is_empty());
    }

    #[test]
    fn entries_carry_owner_attachments_and_last_use() {
        // The headers of Linux 6.x, and a segment marked for removal while attached.
        let shm = "       key      shmid perms                  size  cpid  lpid nattch   uid   gid  cuid  cgid      atime      dtime      ctime                   rss                  swap\n\
                   \x20        0          7  1600                  4096  4242  4243      2  1000  1000  1000  1000 1700000100 1700000050 1700000200                  4096                     0\n";
        let msg = "       key      msqid perms      cbytes       qnum lspid lrpid   uid   gid  cuid  cgid      stime      rtime      ctime\n\
                   1627415586          3   600          96          2   77     0 65534     0     0     0 1700000300          0 1700000000\n\
                   garbage\n";
        let sem = "       key      semid perms      nsems   uid   gid  cuid  cgid      otime      ctime\n\
                   \x20       42          9   600          8     0     0     0     0          0 1700000000\n";
        let shm_entries = parse_sysvipc_entries(IpcKind::Shm, shm);
        assert_eq!(
            shm_entries,
            [SysvEntry {
                object: Object::SysV {
                    kind: IpcKind::Shm,
                    id: 7,
                    key: 0,
                    creator: Some(4242)
                },
                uid: 1000,
                mode: 0o1600,
                size: 4096,
                attached: 2,
                pids: vec![4242, 4243],
                last_used: 1700000200,
            }]
        );
        assert!(shm_entries[0].marked_for_removal());
        let msg_entries = parse_sysvipc_entries(IpcKind::Msg, msg);
        assert_eq!(msg_entries.len(), 1);
        assert_eq!(
            (
                msg_entries[0].uid,
                msg_entries[0].size,
                msg_entries[0].attached
            ),
            (65534, 96, 0)
        );
        assert_eq!(msg_entries[0].pids, [77]);
        assert_eq!(msg_entries[0].last_used, 1700000300);
        assert!(!msg_entries[0].marked_for_removal());
        let sem_entries = parse_sysvipc_entries(IpcKind::Sem, sem);
        assert_eq!((sem_entries[0].size, sem_entries[0].uid), (8, 0));
        // The same objects as the leak snapshot reads.
        for (kind, text, id) in [
            (IpcKind::Shm, shm, "shmid"),
            (IpcKind::Msg, msg, "msqid"),
            (IpcKind::Sem, sem, "semid"),
        ] {
            let objects: Vec<Object> = parse_sysvipc_entries(kind, text)
                .into_iter()
                .map(|e| e.object)
                .collect();
            assert_eq!(objects, parse_sysvipc(kind, text, id));
        }
        assert!(parse_sysvipc_entries(IpcKind::Msg, "").is_empty());
    }

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
        let (proc_dir, shm_dir) = (dir.path().join("sysvipc"), dir.path().join("shm"));
        let outside = dir.path().join("outside");
        std::fs::create_dir_all(&proc_dir).unwrap();
        std::fs::create_dir_all(shm_dir.join("tree/deeper")).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(outside.join("kept"), b"").unwrap();
        std::fs::write(shm_dir.join("tree/deeper/f"), b"").unwrap();
        std::os::unix::fs::symlink(&outside, shm_dir.join("tree/link")).unwrap();
        let odd_path = shm_dir.join(std::ffi::OsStr::from_bytes(b"x\x1b\xff"));
        std::fs::write(&odd_path, b"").unwrap();
        let snapshot = Snapshot::take_from(&proc_dir, &shm_dir);
        let names: Vec<&Object> = snapshot.objects().collect();
        assert_eq!(names.len(), 2, "{names:?}");
        for entry in [shm_dir.join("tree"), odd_path] {
            remove_entry(&entry).unwrap();
            assert!(entry.symlink_metadata().is_err());
        }
        assert!(outside.join("kept").exists(), "a link inside was followed");
        assert!(remove_entry(&shm_dir.join("never-was")).is_ok());
    }

    #[test]
    fn a_snapshot_diff_shows_what_appeared() {
        let dir = tempfile::tempdir().unwrap();
        let (proc_dir, shm_dir) = (dir.path().join("sysvipc"), dir.path().join("shm"));
        std::fs::create_dir_all(&proc_dir).unwrap();
        std::fs::create_dir_all(&shm_dir).unwrap();
        std::fs::write(proc_dir.join("sem"), "key semid perms\n").unwrap();
        let before = Snapshot::take_from(&proc_dir, &shm_dir);
        std::fs::write(proc_dir.join("sem"), "key semid perms\n0 9 600\n").unwrap();
        std::fs::write(shm_dir.join("ipclab-a"), b"").unwrap();
        let after = Snapshot::take_from(&proc_dir, &shm_dir);
        let added: Vec<String> = after
            .added_since(&before)
            .iter()
            .map(|o| o.to_string())
            .collect();
        assert_eq!(
            added,
            [
                "SysV semaphore set id 9, key 0x00000000",
                "POSIX shared-memory object /ipclab-a (/dev/shm/ipclab-a)"
            ]
        );
    }
}
