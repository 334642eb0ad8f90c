//! What a check may observe about the processes it started, instead of sleeping a guessed
//! time: a bounded poll, a process's state and wait channel from `/proc`, the entries of
//! `/dev/shm`; and the kernel's own accounting of what carried a program's data: the bytes
//! it moved through `read`/`write` (`/proc/PID/io`), what it has mapped (`/proc/PID/maps`),
//! and the rows of `/proc/sysvipc/{msg,shm,sem}` (last sender, receiver and attacher pids,
//! attach counts, bytes queued).

use std::time::{Duration, Instant};

/// Polls `done` every millisecond until it holds (true) or `deadline` passes (false).
pub fn poll_until(deadline: Instant, mut done: impl FnMut() -> bool) -> bool {
    loop {
        if done() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// [`poll_until`] for at most `within` from now.
pub fn poll_for(within: Duration, done: impl FnMut() -> bool) -> bool {
    poll_until(Instant::now() + within, done)
}

/// The state letter of process `pid` (`R`, `S`, `Z`…) as [`stat`] reads it: a process whose
/// main thread exited while another thread lives on is that thread's state, not a zombie.
/// `None` once the process is reaped.
pub fn state(pid: i32) -> Option<char> {
    stat(pid).map(|s| s.state)
}

/// Whether process `pid` has exited (a zombie, or reaped).
pub fn gone(pid: i32) -> bool {
    matches!(state(pid), None | Some('Z'))
}

/// The kernel function process `pid` sleeps in (`/proc/PID/wchan`), empty if it runs or is
/// gone.
pub fn wchan(pid: i32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/wchan")).unwrap_or_default()
}

/// The system call process `pid` is in (`/proc/PID/syscall`: its number), `None` while it
/// runs in user space or once it is gone.
pub fn syscall(pid: i32) -> Option<i64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/syscall")).ok()?;
    text.split_whitespace().next()?.parse().ok()
}

/// Whether process `pid` sleeps in the kernel in a wait whose name holds `what`
/// (`/proc/PID/wchan`: `futex…` for a POSIX semaphore, `…semtimedop` for a SysV set, `…msgrcv`).
pub fn sleeps_in_wait(pid: i32, what: &str) -> bool {
    state(pid) == Some('S') && wchan(pid).contains(what)
}

/// Whether process `pid` sleeps in system call `nr` (`libc::SYS_read`…): a program blocked
/// reading an empty pipe has done all it could with what it was given.
pub fn sleeps_in_call(pid: i32, nr: i64) -> bool {
    state(pid) == Some('S') && syscall(pid) == Some(nr)
}

/// The name of an x86-64 system call a waiting process may be in, for messages.
pub fn syscall_name(nr: i64) -> String {
    let name = match nr {
        0 => "read",
        1 => "write",
        7 => "poll",
        23 => "select",
        35 => "nanosleep",
        61 => "wait4",
        65 => "semop",
        70 => "msgrcv",
        202 => "futex",
        220 => "semtimedop",
        230 => "clock_nanosleep",
        271 => "ppoll",
        _ => return format!("system call {nr}"),
    };
    name.to_string()
}

/// The names in `/dev/shm` now (a name that is not UTF-8 read with U+FFFD in place of its
/// invalid bytes: [`crate::leaks::Snapshot`] keeps names exactly).
pub fn dev_shm_entries() -> Vec<String> {
    std::fs::read_dir(crate::ipc::DEV_SHM)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// How many times process `pid` has gone to sleep of its own accord
/// (`voluntary_ctxt_switches` in `/proc/PID/status`): a process blocked in a system call
/// adds nothing while it waits, one that polls with a sleep adds one per try.
pub fn voluntary_switches(pid: i32) -> Option<u64> {
    status_number(pid, "voluntary_ctxt_switches:")
}

/// How many times process `pid` was taken off its CPU while it could still run
/// (`nonvoluntary_ctxt_switches` in `/proc/PID/status`): preempted, or given up with
/// `sched_yield` to another task wanting that CPU. A process asleep in a system call adds
/// nothing while it waits; one that polls and yields adds one per poll whenever its CPU is
/// shared.
pub fn nonvoluntary_switches(pid: i32) -> Option<u64> {
    status_number(pid, "nonvoluntary_ctxt_switches:")
}

/// The number after `field` in `/proc/PID/status`.
fn status_number(pid: i32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))?
        .trim()
        .parse()
        .ok()
}

/// One line of `/proc/PID/stat`, the fields the grader uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stat {
    /// The process id.
    pub pid: i32,
    /// Its command name, control characters and bytes that are not UTF-8 escaped (`\x1b`,
    /// [`crate::message::escape_bytes`]): it is the program's to choose, and reaches reports.
    pub comm: String,
    /// Its state letter (`R`, `S`, `Z`…). [`stat`] and [`processes`] give a process whose
    /// main thread exited while another of its threads lives on the state of a live thread:
    /// the kernel shows its leader as a zombie, yet it runs, holds its children, and must be
    /// found and killed like any other.
    pub state: char,
    /// Its parent's pid.
    pub ppid: i32,
    /// Its process group.
    pub pgrp: i32,
}

/// Parses `/proc/PID/stat`: the command name is in parentheses and may hold spaces and
/// parentheses, so the fields are read after the last `) `.
pub fn parse_stat(pid: i32, text: &str) -> Option<Stat> {
    parse_stat_bytes(pid, text.as_bytes())
}

/// [`parse_stat`] of the raw bytes: a command name is any 15 bytes but NUL and `/`, UTF-8 or
/// not, and a process must not vanish from the grader's view by choosing one that is not.
pub fn parse_stat_bytes(pid: i32, text: &[u8]) -> Option<Stat> {
    let close = text.windows(2).rposition(|w| w == b") ")?;
    let (head, rest) = (&text[..close], &text[close + 2..]);
    let rest = std::str::from_utf8(rest).ok()?;
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let ppid = fields.next()?.parse().ok()?;
    let pgrp = fields.next()?.parse().ok()?;
    let comm = head
        .windows(2)
        .position(|w| w == b" (")
        .map(|at| &head[at + 2..])
        .unwrap_or(b"");
    Some(Stat {
        pid,
        comm: crate::message::escape_bytes(comm),
        state,
        ppid,
        pgrp,
    })
}

/// The `/proc/PID/stat` of process `pid`; a leader that reads as a zombie while another thread
/// of its process lives on takes that thread's state (see [`Stat::state`]). `None` once the
/// process is reaped.
pub fn stat(pid: i32) -> Option<Stat> {
    let text = std::fs::read(format!("/proc/{pid}/stat")).ok()?;
    let mut stat = parse_stat_bytes(pid, &text)?;
    if stat.state == 'Z'
        && let Some(live) = live_thread_state(pid)
    {
        stat.state = live;
    }
    Some(stat)
}

/// The state of a thread of process `pid` other than its leader that has not exited, if any
/// (`/proc/PID/task/TID/stat`).
fn live_thread_state(pid: i32) -> Option<char> {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .ok()?
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&tid| tid != pid)
        .filter_map(|tid| {
            let text = std::fs::read(format!("/proc/{pid}/task/{tid}/stat")).ok()?;
            parse_stat_bytes(tid, &text).map(|s| s.state)
        })
        .find(|state| !matches!(state, 'Z' | 'X' | 'x'))
}

/// The children of every thread of process `pid` (`/proc/PID/task/*/children`, where the
/// kernel has it): a child belongs to the thread that forked it, or to another thread of the
/// process once that one has exited, not to the process's leader alone.
pub fn thread_children(pid: i32) -> Vec<i32> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    let mut children: Vec<i32> = tasks
        .flatten()
        .filter_map(|e| std::fs::read_to_string(e.path().join("children")).ok())
        .flat_map(|text| {
            text.split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect::<Vec<i32>>()
        })
        .collect();
    children.sort();
    children.dedup();
    children
}

/// Every process on the machine (of the grader's PID namespace), by pid, as [`stat`] reads
/// each.
pub fn processes() -> Vec<Stat> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut all: Vec<Stat> = dir
        .flatten()
        .filter_map(|entry| stat(entry.file_name().to_str()?.parse::<i32>().ok()?))
        .collect();
    all.sort_by_key(|s| s.pid);
    all
}

/// Bytes a process moved through `read`/`write`-family system calls (`/proc/PID/io`):
/// pipes, files, sockets and terminals count, memory it shares with another process does
/// not. A zombie's totals stay readable until it is reaped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Io {
    /// Bytes read (`rchar`).
    pub read: u64,
    /// Bytes written (`wchar`).
    pub written: u64,
    /// `read`-family calls made (`syscr`): of a regular file, which answers every call in
    /// full, they tell the size of the reads asked.
    pub read_calls: u64,
}

/// The `/proc/PID/io` of process `pid`, `None` once it is reaped (or out of reach): every
/// thread's, those that ended too, and the children it reaped.
pub fn io(pid: i32) -> Option<Io> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/io")).ok()?;
    parse_io(&text)
}

/// The `/proc/PID/task/PID/io` of process `pid`: its main thread's own, without what the
/// children it reaped read and wrote (kept across `exec`). `None` once it is reaped.
pub fn main_thread_io(pid: i32) -> Option<Io> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/io")).ok()?;
    parse_io(&text)
}

/// Parses the text of `/proc/PID/io`.
pub fn parse_io(text: &str) -> Option<Io> {
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
            .and_then(|v| v.trim().parse().ok())
    };
    Some(Io {
        read: field("rchar")?,
        written: field("wchar")?,
        read_calls: field("syscr")?,
    })
}

/// One line of `/proc/PID/maps`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapping {
    /// Its first address.
    pub start: u64,
    /// The address after its last byte.
    pub end: u64,
    /// `rwxs` or `rwxp`: read, write, execute, shared or private.
    pub perms: String,
    /// The inode of the mapped file (for a SysV segment, `/SYSVKEY`, the segment's id).
    pub inode: u64,
    /// The mapped file (`/dev/shm/NAME`, `/SYSV0000abcd (deleted)`), empty for anonymous
    /// memory.
    pub path: String,
}

impl Mapping {
    /// Its length in bytes.
    pub fn len(&self) -> u64 {
        self.end.saturating_sub(self.start)
    }

    /// Whether it is empty (never, for a real mapping).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether it is shared with other processes (`MAP_SHARED`, a SysV segment).
    pub fn shared(&self) -> bool {
        self.perms.as_bytes().get(3) == Some(&b's')
    }

    /// Whether this process may write through it.
    pub fn writable(&self) -> bool {
        self.perms.as_bytes().get(1) == Some(&b'w')
    }

    /// The mapped file's path without the ` (deleted)` the kernel adds once it is unlinked.
    pub fn file(&self) -> &str {
        self.path.strip_suffix(" (deleted)").unwrap_or(&self.path)
    }
}

/// The mappings of process `pid` (`/proc/PID/maps`), empty once it has exited.
pub fn maps(pid: i32) -> Vec<Mapping> {
    std::fs::read_to_string(format!("/proc/{pid}/maps"))
        .map(|t| parse_maps(&t))
        .unwrap_or_default()
}

/// Parses the text of `/proc/PID/maps`.
pub fn parse_maps(text: &str) -> Vec<Mapping> {
    text.lines()
        .filter_map(|line| {
            let mut f = line.splitn(6, ' ');
            let (range, perms, _offset, _dev, inode) =
                (f.next()?, f.next()?, f.next()?, f.next()?, f.next()?);
            let (start, end) = range.split_once('-')?;
            Some(Mapping {
                start: u64::from_str_radix(start, 16).ok()?,
                end: u64::from_str_radix(end, 16).ok()?,
                perms: perms.to_string(),
                inode: inode.parse().ok()?,
                path: f.next().unwrap_or("").trim_start().to_string(),
            })
        })
        .collect()
}

/// The files that two processes both map shared (by path and inode), other than anonymous
/// memory: what their data could travel through without a `read` or `write`.
pub fn shared_in_common(a: &[Mapping], b: &[Mapping]) -> Vec<String> {
    let mut common: Vec<String> = a
        .iter()
        .filter(|m| m.shared() && !m.path.is_empty())
        .filter(|m| {
            b.iter()
                .any(|n| n.shared() && n.inode == m.inode && n.file() == m.file())
        })
        .map(|m| m.file().to_string())
        .collect();
    common.sort();
    common.dedup();
    common
}

/// The path under which a process maps a SysV segment of key `key`: `/SYSV` and the key in
/// 8 hexadecimal digits (`/SYSV00000000` for `IPC_PRIVATE`); the inode is the segment's id.
pub fn sysv_segment_path(key: i32) -> String {
    format!("/SYSV{:08x}", key as u32)
}

/// One row of a `/proc/sysvipc` table, the rows of `/proc/sysvipc/TABLE` now, and the parser:
/// [`crate::ipc::sysvipc`]'s, the one reader of those tables.
pub use crate::ipc::sysvipc::{Row as IpcRow, parse as parse_sysvipc_rows, rows as sysvipc};

// What the grader reads of the processes it started: their groups, descendants and
// descriptors.

/// A process left in the run's group after the program itself exited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leftover {
    /// Its pid.
    pub pid: i32,
    /// Its command name (`/proc/PID/comm`).
    pub comm: String,
    /// Whether it had exited and waited to be reaped (a zombie) rather than still running.
    pub zombie: bool,
}

/// What a process was doing at a run's time limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Doing {
    /// `pid N (name): running…` or `…: sleeping in read (pipe_read)`, for the report.
    pub line: String,
    /// Whether it was running on a CPU rather than waiting.
    pub running: bool,
}

/// The processes whose process group is `pgid`, read from `/proc`.
pub fn group_members(pgid: i32) -> Vec<Leftover> {
    processes()
        .into_iter()
        .filter(|p| p.pgrp == pgid)
        .map(|p| Leftover {
            pid: p.pid,
            comm: p.comm,
            zombie: p.state == 'Z',
        })
        .collect()
}

/// What each process of group `pgid` is doing, a line each: running, or sleeping in which
/// system call and kernel wait (`/proc/PID/syscall`, `/proc/PID/wchan`).
pub fn doing(pgid: i32) -> Vec<Doing> {
    processes()
        .into_iter()
        .filter(|p| p.pgrp == pgid)
        .map(|p| {
            let what = match p.state {
                'R' => "running on a CPU".to_string(),
                'Z' => "exited, not yet waited for by its parent".to_string(),
                'T' | 't' => "stopped".to_string(),
                _ => match syscall(p.pid) {
                    Some(nr) => format!("sleeping in {} ({})", syscall_name(nr), wchan(p.pid)),
                    None => format!("state {}", p.state),
                },
            };
            Doing {
                line: format!("pid {} ({}): {what}", p.pid, p.comm),
                running: p.state == 'R',
            }
        })
        .collect()
}

/// The live descendants of `ancestor`, from the parent links in `/proc` and the children of
/// every thread (`/proc/PID/task/*/children`, where the kernel has it). A process whose main
/// thread exited while another thread lives on reads as a zombie in `/proc/PID/stat` and is
/// alive ([`stat`]): it is found, and so are its children. Zombies (processes
/// whose every thread has exited) are walked through but not listed.
pub fn descendants(ancestor: i32) -> Vec<i32> {
    use std::collections::{BTreeSet, HashMap};
    let all = processes();
    let live: HashMap<i32, bool> = all.iter().map(|p| (p.pid, p.state != 'Z')).collect();
    let mut children: HashMap<i32, BTreeSet<i32>> = HashMap::new();
    for p in &all {
        children.entry(p.ppid).or_default().insert(p.pid);
    }
    let mut found = BTreeSet::new();
    let mut seen = BTreeSet::from([ancestor]);
    let mut next = vec![ancestor];
    while let Some(pid) = next.pop() {
        let mut kids = children.get(&pid).cloned().unwrap_or_default();
        kids.extend(thread_children(pid));
        for kid in kids {
            if !seen.insert(kid) {
                continue;
            }
            if live.get(&kid).copied().unwrap_or(true) {
                found.insert(kid);
            }
            next.push(kid);
        }
    }
    found.into_iter().collect()
}

/// What descriptor `fd` of process `pid` refers to, as `/proc/PID/fd/FD` shows it
/// (`pipe:[12345]`), for checks that must know whether a program passed a pipe on.
pub fn fd_target(pid: i32, fd: i32) -> Option<String> {
    std::fs::read_link(format!("/proc/{pid}/fd/{fd}"))
        .ok()
        .map(|p| p.to_string_lossy().into_owned())
}

/// The open descriptors of process `pid` and what each refers to, from `/proc/PID/fd`.
pub fn open_fds(pid: i32) -> Vec<(i32, String)> {
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return Vec::new();
    };
    let mut fds: Vec<(i32, String)> = dir
        .flatten()
        .filter_map(|e| {
            let fd = e.file_name().to_str()?.parse().ok()?;
            Some((fd, fd_target(pid, fd).unwrap_or_default()))
        })
        .collect();
    fds.sort();
    fds
}

/// Whether process `pid` ignores `signal`, from the `SigIgn` mask of `/proc/PID/status`.
pub fn ignores_signal(pid: i32, signal: i32) -> Option<bool> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let mask = status
        .lines()
        .find_map(|l| l.strip_prefix("SigIgn:"))?
        .trim();
    let mask = u64::from_str_radix(mask, 16).ok()?;
    Some(mask & (1 << (signal - 1)) != 0)
}

/// The pid that process `pid` (a pid of the grader's namespace) has in its own PID namespace,
/// the one it reads with `getpid` and writes where a spec asks for its pid: the last field of
/// `NSpid:` in `/proc/PID/status`. `None` once the process is gone.
pub fn own_pid(pid: i32) -> Option<i32> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find_map(|l| l.strip_prefix("NSpid:"))?;
    line.split_whitespace().last()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_command_name_with_spaces_and_parentheses_is_read_whole() {
        let stat = parse_stat(42, "42 (a) b (c) S 7 42 42 0 -1").unwrap();
        assert_eq!(
            stat,
            Stat {
                pid: 42,
                comm: "a) b (c".into(),
                state: 'S',
                ppid: 7,
                pgrp: 42
            }
        );
    }

    #[test]
    fn a_command_name_that_is_not_utf8_or_holds_escapes_is_read_escaped() {
        let stat = parse_stat_bytes(7, b"7 (\x1b[2Jx\xff) R 1 7 7 0 -1").unwrap();
        assert_eq!(
            (stat.comm.as_str(), stat.state, stat.ppid),
            ("\\x1b[2Jx\\xff", 'R', 1)
        );
    }

    #[test]
    fn reads_the_kernels_accounting_by_name() {
        let io = parse_io("rchar: 5001216\nwchar: 7\nsyscr: 2\n").unwrap();
        assert_eq!(
            io,
            Io {
                read: 5001216,
                written: 7,
                read_calls: 2
            }
        );
        let maps = parse_maps(
            "7f34-7f36 r--s 00000000 00:01 1507388                    /SYSV00000000 (deleted)\n\
             5600-5700 rw-p 00000000 00:00 0 \n",
        );
        assert_eq!(maps.len(), 2);
        assert!(maps[0].shared() && !maps[0].writable());
        assert_eq!((maps[0].inode, maps[0].file()), (1507388, "/SYSV00000000"));
        assert_eq!(maps[0].len(), 2);
        assert_eq!(maps[1].path, "");
        assert_eq!(sysv_segment_path(-1), "/SYSVffffffff");
        let rows = parse_sysvipc_rows(
            "       key      msqid perms      cbytes       qnum lspid lrpid\n\
                      -1 3 666 40 1 4242 0\n",
        );
        assert_eq!(
            (rows[0].num("key"), rows[0].num("lspid"), rows[0].get("x")),
            (-1, 4242, None)
        );
    }
}
