//! The one reader of `/proc/sysvipc/{msg,shm,sem}`: a header line naming the columns, then one
//! line per object. The three tables differ in their columns (and kernels in which they
//! print), so every value is read by its column's name. Pids are those of the reader's PID
//! namespace: the grader's, like the pids its spawns return.

use std::path::Path;

use super::Object;
use crate::sys::IpcKind;

/// Where the kernel lists the SysV objects of the reader's IPC namespace.
pub const PROC_SYSVIPC: &str = "/proc/sysvipc";

/// The table of a kind (`msg`, `shm`, `sem`) and its id column.
pub fn table(kind: IpcKind) -> (&'static str, &'static str) {
    match kind {
        IpcKind::Msg => ("msg", "msqid"),
        IpcKind::Shm => ("shm", "shmid"),
        IpcKind::Sem => ("sem", "semid"),
    }
}

/// One row of a `/proc/sysvipc` table, read by column name (`key`, `msqid`, `cbytes`,
/// `qnum`, `lspid`, `lrpid`; `shmid`, `size`, `cpid`, `lpid`, `nattch`; `semid`, `nsems`,
/// `otime`…).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Row {
    fields: Vec<(String, String)>,
}

impl Row {
    /// The value of `column` as a number (`perms` is read as its decimal digits).
    pub fn get(&self, column: &str) -> Option<i64> {
        self.text(column).and_then(|v| v.parse().ok())
    }

    /// [`Row::get`], 0 when the column is missing.
    pub fn num(&self, column: &str) -> i64 {
        self.get(column).unwrap_or(0)
    }

    /// The value of `column` as printed.
    pub fn text(&self, column: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(c, _)| c == column)
            .map(|(_, v)| v.as_str())
    }

    /// The object of this row of a table of `kind`, if it has a key and an id.
    pub fn object(&self, kind: IpcKind) -> Option<Object> {
        Some(Object::SysV {
            kind,
            key: self.get("key")?,
            id: self.get(table(kind).1)?.try_into().ok()?,
            creator: self.get("cpid").and_then(|p| p.try_into().ok()),
        })
    }
}

/// Parses a `/proc/sysvipc` table into its rows.
pub fn parse(text: &str) -> Vec<Row> {
    let mut lines = text.lines();
    let Some(header) = lines.next() else {
        return Vec::new();
    };
    let columns: Vec<&str> = header.split_whitespace().collect();
    lines
        .map(|line| Row {
            fields: columns
                .iter()
                .zip(line.split_whitespace())
                .map(|(c, v)| (c.to_string(), v.to_string()))
                .collect(),
        })
        .collect()
}

/// The rows of `/proc/sysvipc/TABLE` (`msg`, `shm` or `sem`) now; none if it cannot be read.
pub fn rows(table: &str) -> Vec<Row> {
    std::fs::read_to_string(Path::new(PROC_SYSVIPC).join(table))
        .map(|t| parse(&t))
        .unwrap_or_default()
}

/// The objects of one table's text (rows without a key or an id left out).
pub fn objects(kind: IpcKind, text: &str) -> Vec<Object> {
    parse(text).iter().filter_map(|r| r.object(kind)).collect()
}

/// The objects of every kind listed in the folder `sysvipc` (`/proc/sysvipc`, or a copy for
/// tests); a table that cannot be read counts as empty.
pub fn all_objects(sysvipc: &Path) -> Vec<Object> {
    [IpcKind::Msg, IpcKind::Shm, IpcKind::Sem]
        .into_iter()
        .flat_map(|kind| {
            let text = std::fs::read_to_string(sysvipc.join(table(kind).0)).unwrap_or_default();
            objects(kind, &text)
        })
        .collect()
}

/// One row of a `/proc/sysvipc` table with what `grader doctor` and the limits need: the
/// object, and who owns it, whether it is attached and when it was last used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The object, as [`Row::object`] reads it.
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

impl Entry {
    /// Whether the segment is marked for removal (and still attached).
    pub fn marked_for_removal(&self) -> bool {
        self.mode & SHM_DEST != 0
    }

    /// The entry of a row of a table of `kind`; `None` for a row without a key, id or uid.
    pub fn of(kind: IpcKind, row: &Row) -> Option<Entry> {
        let many =
            |names: &[&str]| -> Vec<i64> { names.iter().filter_map(|n| row.get(n)).collect() };
        Some(Entry {
            object: row.object(kind)?,
            uid: row.get("uid")?.try_into().ok()?,
            mode: row
                .text("perms")
                .and_then(|p| u32::from_str_radix(p, 8).ok())
                .unwrap_or(0),
            size: many(&["size", "cbytes", "nsems"])
                .first()
                .map_or(0, |&n| n.max(0) as u64),
            attached: row.get("nattch").map_or(0, |n| n.max(0) as u64),
            pids: many(&["cpid", "lpid", "lspid", "lrpid"])
                .into_iter()
                .filter_map(|p| i32::try_from(p).ok().filter(|&p| p > 0))
                .collect(),
            last_used: many(&["ctime", "atime", "dtime", "stime", "rtime", "otime"])
                .into_iter()
                .max()
                .unwrap_or(0),
        })
    }
}

/// Parses one table's text into [`Entry`]s, with the same objects as [`objects`].
pub fn parse_entries(kind: IpcKind, text: &str) -> Vec<Entry> {
    parse(text)
        .iter()
        .filter_map(|r| Entry::of(kind, r))
        .collect()
}

/// Every SysV object of one kind now listed in `/proc/sysvipc`, with its columns.
pub fn entries(kind: IpcKind) -> std::io::Result<Vec<Entry>> {
    let text = std::fs::read_to_string(Path::new(PROC_SYSVIPC).join(table(kind).0))?;
    Ok(parse_entries(kind, &text))
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
            objects(IpcKind::Shm, shm),
            vec![Object::SysV {
                kind: IpcKind::Shm,
                id: 7,
                key: 1627415586,
                creator: Some(4242)
            }]
        );
        assert_eq!(
            objects(IpcKind::Msg, msg),
            vec![Object::SysV {
                kind: IpcKind::Msg,
                id: 3,
                key: -1,
                creator: None
            }]
        );
        assert!(objects(IpcKind::Sem, "").is_empty());
        let rows = parse(msg);
        assert_eq!(
            (rows[0].num("key"), rows[0].num("perms"), rows[0].get("x")),
            (-1, 666, None)
        );
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
        let shm_entries = parse_entries(IpcKind::Shm, shm);
        assert_eq!(
            shm_entries,
            [Entry {
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
        let msg_entries = parse_entries(IpcKind::Msg, msg);
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
        let sem_entries = parse_entries(IpcKind::Sem, sem);
        assert_eq!((sem_entries[0].size, sem_entries[0].uid), (8, 0));
        // The same objects as the leak snapshot reads.
        for (kind, text) in [
            (IpcKind::Shm, shm),
            (IpcKind::Msg, msg),
            (IpcKind::Sem, sem),
        ] {
            let from_entries: Vec<Object> = parse_entries(kind, text)
                .into_iter()
                .map(|e| e.object)
                .collect();
            assert_eq!(from_entries, objects(kind, text));
        }
        assert!(parse_entries(IpcKind::Msg, "").is_empty());
    }
}
