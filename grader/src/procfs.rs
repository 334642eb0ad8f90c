//! What a check may observe about the processes it started, instead of sleeping a guessed
//! time: a bounded poll, a process's state and wait channel from `/proc`, the entries of
//! `/dev/shm`.

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

/// The state letter of `/proc/PID/stat` (`R`, `S`, `Z`…), `None` once the process is reaped.
pub fn state(pid: i32) -> Option<char> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(pid, &text).map(|s| s.state)
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

/// The names in `/dev/shm` now.
pub fn dev_shm_entries() -> Vec<String> {
    std::fs::read_dir(crate::leaks::DEV_SHM)
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
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("voluntary_ctxt_switches:"))?
        .trim()
        .parse()
        .ok()
}

/// One line of `/proc/PID/stat`, the fields the grader uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stat {
    /// The process id.
    pub pid: i32,
    /// Its command name.
    pub comm: String,
    /// Its state letter (`R`, `S`, `Z`…).
    pub state: char,
    /// Its parent's pid.
    pub ppid: i32,
    /// Its process group.
    pub pgrp: i32,
}

/// Parses `/proc/PID/stat`: the command name is in parentheses and may hold spaces and
/// parentheses, so the fields are read after the last `) `.
pub fn parse_stat(pid: i32, text: &str) -> Option<Stat> {
    let (head, rest) = text.rsplit_once(") ")?;
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let ppid = fields.next()?.parse().ok()?;
    let pgrp = fields.next()?.parse().ok()?;
    let comm = head
        .split_once(" (")
        .map(|(_, c)| c)
        .unwrap_or("")
        .to_string();
    Some(Stat {
        pid,
        comm,
        state,
        ppid,
        pgrp,
    })
}

/// Every process on the machine (of the grader's PID namespace), by pid.
pub fn processes() -> Vec<Stat> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut all: Vec<Stat> = dir
        .flatten()
        .filter_map(|entry| {
            let pid = entry.file_name().to_str()?.parse::<i32>().ok()?;
            let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            parse_stat(pid, &text)
        })
        .collect();
    all.sort_by_key(|s| s.pid);
    all
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
}
