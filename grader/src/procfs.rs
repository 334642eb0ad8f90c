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
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(") ")?.1.chars().next()
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
