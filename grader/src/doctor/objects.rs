//! `grader doctor`'s list of the user's IPC objects — SysV objects, `/dev/shm` entries and
//! POSIX message queues, from [`crate::ipc`] — each in use or stale, and what `--clean` removes.

use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use super::{Finding, Level};
use crate::ipc::sysvipc::{self, Entry};
use crate::ipc::{DEV_SHM, Object};
use crate::sys::IpcKind;

/// An IPC object of the user: what it is, how long it has been idle, and what holds it if
/// anything does (then it is not stale and never removed).
#[derive(Debug, Clone)]
pub(super) struct Held {
    pub(super) object: Object,
    /// A SysV object's uid, or a `/dev/shm` entry's inode: with `object`, what must not have
    /// changed between listing and removing.
    identity: u64,
    about: String,
    pub(super) in_use: Option<String>,
}

impl Held {
    /// The user's SysV objects and `/dev/shm` entries now, and a `WARN` for each table that
    /// could not be read.
    pub(super) fn scan(me: u32) -> (Vec<Held>, Vec<Finding>) {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        let mut held = Vec::new();
        let mut unread = Vec::new();
        let tables = [
            (IpcKind::Msg, "q", "message queues"),
            (IpcKind::Shm, "m", "shared-memory segments"),
            (IpcKind::Sem, "s", "semaphore sets"),
        ];
        for (kind, flag, what) in tables {
            match sysvipc::entries(kind) {
                Ok(entries) => held.extend(
                    entries
                        .iter()
                        .filter(|e| e.uid == me)
                        .map(|e| Held::sysv(e, now)),
                ),
                Err(e) => unread.push(Finding::bad(
                    Level::Warn,
                    format!("/proc/sysvipc cannot be read ({e}): your {what} are unknown"),
                    format!("list them with: ipcs -{flag} -c"),
                )),
            }
        }
        let users = dev_shm_users();
        let mut names = crate::procfs::dev_shm_entries();
        names.sort();
        for name in names {
            let Ok(meta) = Path::new(DEV_SHM).join(&name).symlink_metadata() else {
                continue;
            };
            if meta.uid() != me || !meta.is_file() {
                continue;
            }
            let last = meta.mtime().max(meta.ctime());
            held.push(Held {
                about: format!("{} bytes, {}", meta.len(), idle(now, last)),
                in_use: users
                    .get(&name)
                    .map(|pid| format!("mapped or open by {}", who(*pid))),
                identity: meta.ino(),
                object: Object::PosixShm {
                    name: name.into(),
                    folder: false,
                },
            });
        }
        held.extend(Held::queues(me, now));
        (held, unread)
    }

    fn sysv(entry: &Entry, now: i64) -> Held {
        let Object::SysV { kind, .. } = entry.object else {
            unreachable!("a /proc/sysvipc entry is a SysV object")
        };
        let about = match kind {
            IpcKind::Msg => format!("{} bytes queued", entry.size),
            IpcKind::Shm => format!("{} bytes, {} attached", entry.size, entry.attached),
            IpcKind::Sem => format!("{} semaphores", entry.size),
        };
        let in_use = match kind {
            IpcKind::Shm if entry.attached > 0 => Some(if entry.marked_for_removal() {
                "attached, and already marked for removal: it goes when its last process \
                 detaches"
                    .to_string()
            } else {
                format!("attached by {} process(es)", entry.attached)
            }),
            IpcKind::Msg => entry
                .pids
                .iter()
                .find(|&&pid| !crate::procfs::gone(pid))
                .map(|&pid| format!("its last sender or receiver, {}, still runs", who(pid))),
            _ => None,
        };
        Held {
            object: entry.object.clone(),
            identity: entry.uid.into(),
            about: format!("{about}, {}", idle(now, entry.last_used)),
            in_use,
        }
    }

    /// Whether `other` is the same object, unchanged in owner (or inode).
    fn same(&self, other: &Held) -> bool {
        self.object == other.object && self.identity == other.identity
    }

    pub(super) fn finding(&self) -> Finding {
        let what = format!("{}: {}", self.object, self.about);
        match &self.in_use {
            Some(why) => Finding::ok(format!("{what}; in use ({why}): not offered for removal")),
            None => Finding::bad(
                Level::Warn,
                format!("{what}; stale"),
                format!(
                    "make doctor CLEAN=1 removes it (or: {})",
                    self.object.removal_command()
                ),
            ),
        }
    }
}

/// "idle 3 h 12 min" since `last` (seconds since the epoch), or "never used" for 0.
pub fn idle(now: i64, last: i64) -> String {
    if last <= 0 {
        return "never used".into();
    }
    let s = (now - last).max(0);
    let (d, h, m) = (s / 86400, s % 86400 / 3600, s % 3600 / 60);
    match () {
        _ if d > 0 => format!("idle {d} d {h} h"),
        _ if h > 0 => format!("idle {h} h {m} min"),
        _ if m > 0 => format!("idle {m} min"),
        _ => format!("idle {s} s"),
    }
}

/// "pid 42 (pshm-recv)".
fn who(pid: i32) -> String {
    match std::fs::read_to_string(format!("/proc/{pid}/comm")) {
        Ok(comm) => format!("pid {pid} ({})", comm.trim()),
        Err(_) => format!("pid {pid}"),
    }
}

impl Held {
    /// The user's POSIX message queues, where an mqueue filesystem lists them (`/dev/mqueue`):
    /// each with the bytes queued, in use while a process holds it open.
    fn queues(me: u32, now: i64) -> Vec<Held> {
        let Some(dir) = crate::ipc::mqueue_dir() else {
            return Vec::new();
        };
        let users = mqueue_users();
        let mut held = Vec::new();
        for object in crate::ipc::mqueue_objects(&dir) {
            let Object::PosixMq { name } = &object else {
                continue;
            };
            let path = dir.join(name);
            let Ok(meta) = path.symlink_metadata() else {
                continue;
            };
            if meta.uid() != me {
                continue;
            }
            let queued = std::fs::read_to_string(&path)
                .ok()
                .and_then(|t| parse_qsize(&t))
                .unwrap_or(0);
            let last = meta.mtime().max(meta.ctime());
            held.push(Held {
                about: format!("{queued} bytes queued, {}", idle(now, last)),
                in_use: users
                    .get(name.to_string_lossy().as_ref())
                    .map(|pid| format!("open in {}", who(*pid))),
                identity: meta.ino(),
                object,
            });
        }
        held.sort_by(|a, b| a.object.cmp(&b.object));
        held
    }
}

/// The bytes queued that a queue's file in an mqueue filesystem gives (`QSIZE:129 NOTIFY:0
/// SIGNO:0 NOTIFY_PID:0`).
pub fn parse_qsize(text: &str) -> Option<u64> {
    text.split_whitespace()
        .find_map(|w| w.strip_prefix("QSIZE:"))?
        .parse()
        .ok()
}

/// The queue a `/proc/PID/fd` link names, if it is one: a message queue descriptor reads as
/// `/NAME`, its path in the namespace's own mqueue filesystem.
pub fn mqueue_link_name(link: &str) -> Option<&str> {
    let name = link.strip_prefix('/')?;
    (!name.is_empty() && !name.contains('/') && !name.ends_with(" (deleted)")).then_some(name)
}

/// The POSIX message queues a running process holds open, each with one such pid (of the
/// processes whose `/proc/PID/fd` this user may read). A file at `/` of the same name would
/// read the same: it only keeps a queue from being offered for removal.
fn mqueue_users() -> BTreeMap<String, i32> {
    let mut users = BTreeMap::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return users;
    };
    for entry in dir.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<i32>().ok())
        else {
            continue;
        };
        let fds = std::fs::read_dir(entry.path().join("fd"))
            .into_iter()
            .flatten();
        for fd in fds.flatten() {
            let Ok(link) = std::fs::read_link(fd.path()) else {
                continue;
            };
            if let Some(name) = link.to_str().and_then(mqueue_link_name) {
                users.entry(name.to_string()).or_insert(pid);
            }
        }
    }
    users
}

/// The `/dev/shm` entries a running process maps (`/proc/PID/maps`) or holds open
/// (`/proc/PID/fd`), each with one such pid. Processes whose `/proc` files this user may not
/// read (other users') are not seen.
fn dev_shm_users() -> BTreeMap<String, i32> {
    let mut users = BTreeMap::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return users;
    };
    for entry in dir.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<i32>().ok())
        else {
            continue;
        };
        let maps = std::fs::read_to_string(entry.path().join("maps")).unwrap_or_default();
        let mapped = maps.lines().filter_map(maps_path);
        let fds = std::fs::read_dir(entry.path().join("fd"))
            .into_iter()
            .flatten();
        let open: Vec<String> = fds
            .flatten()
            .filter_map(|fd| std::fs::read_link(fd.path()).ok())
            .map(|p| p.to_string_lossy().into_owned())
            .collect();
        for path in mapped.chain(open.iter().map(String::as_str)) {
            if let Some(name) = dev_shm_name(path) {
                users.entry(name.to_string()).or_insert(pid);
            }
        }
    }
    users
}

/// The path of a `/proc/PID/maps` line (after address, perms, offset, device and inode), if it
/// maps a file. A path may hold spaces.
pub fn maps_path(line: &str) -> Option<&str> {
    let mut rest = line;
    for _ in 0..5 {
        rest = rest.trim_start().split_once(' ')?.1;
    }
    Some(rest.trim_start()).filter(|p| !p.is_empty())
}

/// The `/dev/shm` entry a path names, if it names one that still exists there (not
/// `… (deleted)`).
pub fn dev_shm_name(path: &str) -> Option<&str> {
    let name = path.strip_prefix(DEV_SHM)?.strip_prefix('/')?;
    (!name.is_empty() && !name.contains('/') && !name.ends_with(" (deleted)")).then_some(name)
}

/// Asks on the terminal whether to remove `n` objects.
pub(super) fn confirm(n: usize) -> bool {
    print!("Remove the {n} stale object(s) listed above? [y/N] ");
    let _ = std::io::stdout().flush();
    let mut answer = String::new();
    let _ = std::io::stdin().lock().read_line(&mut answer);
    matches!(answer.trim(), "y" | "Y" | "yes" | "Yes")
}

/// Removes the objects of `listed` that are still there and still stale (looked up again
/// just before), printing each.
pub(super) fn clean(me: u32, listed: &[&Held]) -> Vec<Finding> {
    let (now, _) = Held::scan(me);
    let mut findings = Vec::new();
    for held in listed {
        let Some(current) = now.iter().find(|h| h.same(held)) else {
            println!("  gone by itself: {}", held.object);
            continue;
        };
        if let Some(why) = &current.in_use {
            println!(
                "  left alone, in use since it was listed ({why}): {}",
                held.object
            );
            continue;
        }
        match current.object.remove() {
            Ok(()) => println!("  removed {}", current.object),
            Err(e) => {
                let f = Finding::bad(
                    Level::Fail,
                    format!("cannot remove {}: {e}", current.object),
                    current.object.removal_command(),
                );
                f.print();
                findings.push(f);
            }
        }
    }
    findings
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_maps_line_gives_its_path_and_dev_shm_its_name() {
        let line = "7f3c1a000000-7f3c1a101000 rw-s 00000000 00:1a 1234     /dev/shm/ipclab x";
        assert_eq!(maps_path(line), Some("/dev/shm/ipclab x"));
        assert_eq!(
            maps_path("7f3c1a000000-7f3c1a101000 rw-p 00000000 00:00 0 "),
            None
        );
        assert_eq!(dev_shm_name("/dev/shm/sem.ipclab-a"), Some("sem.ipclab-a"));
        assert_eq!(dev_shm_name("/dev/shm/gone (deleted)"), None);
        assert_eq!(dev_shm_name("/dev/shmx/a"), None);
        assert_eq!(dev_shm_name("/tmp/a"), None);
    }

    #[test]
    fn a_queue_gives_its_bytes_and_a_descriptor_its_name() {
        assert_eq!(
            parse_qsize("QSIZE:129        NOTIFY:0     SIGNO:0     NOTIFY_PID:0     \n"),
            Some(129)
        );
        assert_eq!(parse_qsize(""), None);
        assert_eq!(mqueue_link_name("/ipclab-q"), Some("ipclab-q"));
        assert_eq!(mqueue_link_name("/dev/shm/x"), None);
        assert_eq!(mqueue_link_name("/"), None);
        assert_eq!(mqueue_link_name("pipe:[42]"), None);
    }

    #[test]
    fn idle_times_read_in_the_largest_units() {
        assert_eq!(idle(1000, 0), "never used");
        assert_eq!(idle(1000, 990), "idle 10 s");
        assert_eq!(
            idle(100_000, 100_000 - 3 * 3600 - 12 * 60),
            "idle 3 h 12 min"
        );
        assert_eq!(
            idle(1_000_000, 1_000_000 - 2 * 86400 - 3600),
            "idle 2 d 1 h"
        );
    }
}
