//! What the sysv-shm checks share: fresh keys, the segments as `/proc/sysvipc/shm` lists them
//! and as the grader's own read-only attachment sees them, processes' states and CPU time,
//! and the verdict on a program's error exit.

use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use crate::check::{Ctx, Failure};
use crate::run::{Finished, Running};
use crate::stream::{Generator, Stream};

use super::shm::Attachment;

pub(super) const MIB: u64 = 1024 * 1024;

/// Bytes before the ring (spec §5.2).
pub(super) const HEADER: u64 = 4096;

/// The `ready` word (spec §5.2): the bytes `SHM1`.
pub(super) const READY: u32 = 0x314D_4853;

pub(super) const TRANSFER_HINT: &str = "each side must signal the other's condition variable after every \
change of `written`, `read` or `flags`, and re-check its condition in a loop; either side may \
start first (spec §5.3–5.4).";

/// A fresh key file and project id, and the key `ftok` makes of them.
pub(super) struct Key {
    pub(super) path: PathBuf,
    pub(super) proj: u8,
    pub(super) key: i32,
}

impl Key {
    /// `KEYPATH PROJ_ID` as arguments.
    pub(super) fn args(&self) -> Vec<String> {
        vec![
            self.path.to_string_lossy().into_owned(),
            self.proj.to_string(),
        ]
    }
}

/// Creates a fresh key file in the check's folder; the project id varies from run to run.
pub(super) fn new_key(ctx: &Ctx) -> Result<Key, Failure> {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let path = ctx.dir().join(crate::leaks::unique_name("key"));
    std::fs::write(&path, b"")
        .map_err(|e| Failure::new(format!("grader: cannot create a key file: {e}")))?;
    let meta = std::fs::metadata(&path)
        .map_err(|e| Failure::new(format!("grader: cannot stat the key file: {e}")))?;
    let proj = (1 + (NEXT.fetch_add(1, Ordering::Relaxed) + std::process::id()) % 255) as u8;
    // glibc's ftok: the low 16 bits of the inode, the low 8 of the device, the project id.
    let key = ((meta.ino() & 0xffff) | ((meta.dev() & 0xff) << 16) | (u64::from(proj) << 24)) as u32
        as i32;
    Ok(Key { path, proj, key })
}

/// One line of `/proc/sysvipc/shm`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Segment {
    pub(super) id: i32,
    pub(super) perms: u32,
    pub(super) size: u64,
    pub(super) nattch: u64,
}

/// The segment of `key`, if there is one.
pub(super) fn segment(key: i32) -> Option<Segment> {
    let text = std::fs::read_to_string("/proc/sysvipc/shm").ok()?;
    let mut lines = text.lines();
    let columns: Vec<&str> = lines.next()?.split_whitespace().collect();
    let at = |name: &str| columns.iter().position(|c| *c == name);
    let (k, i, p, s, n) = (
        at("key")?,
        at("shmid")?,
        at("perms")?,
        at("size")?,
        at("nattch")?,
    );
    lines.find_map(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.get(k)?.parse::<i64>().ok()? != i64::from(key) {
            return None;
        }
        Some(Segment {
            id: f.get(i)?.parse().ok()?,
            perms: u32::from_str_radix(f.get(p)?, 8).ok()?,
            size: f.get(s)?.parse().ok()?,
            nattch: f.get(n)?.parse().ok()?,
        })
    })
}

/// Every segment now listed, for messages.
pub(super) fn ipcs() -> String {
    let text = std::fs::read_to_string("/proc/sysvipc/shm").unwrap_or_default();
    let rows: Vec<String> = text
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            format!(
                "key {} id {} perms {} size {} nattch {}",
                f.first().unwrap_or(&"?"),
                f.get(1).unwrap_or(&"?"),
                f.get(2).unwrap_or(&"?"),
                f.get(3).unwrap_or(&"?"),
                f.get(6).unwrap_or(&"?")
            )
        })
        .collect();
    if rows.is_empty() {
        "    (no segment)".into()
    } else {
        format!("    {}", rows.join("\n    "))
    }
}

/// Whether one of `runs` has exited.
pub(super) fn any_exited(runs: &[&Running]) -> bool {
    runs.iter().any(|r| r.has_exited())
}

/// The state letter and user + system CPU time of a running process, from `/proc/PID/stat`.
pub(super) fn proc_stat(pid: i32) -> Option<(char, Duration)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = stat.rsplit_once(") ")?;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let state = f.first()?.chars().next()?;
    // utime and stime, in clock ticks of 1/100 s (USER_HZ).
    let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    Some((state, Duration::from_millis(ticks * 10)))
}

/// The first `n` bytes of a generated stream.
pub(super) fn stream_bytes(stream: &Stream, n: usize) -> Vec<u8> {
    use std::io::Read;
    let mut v = vec![0u8; n];
    let mut g: Generator = stream.reader();
    let _ = g.read_exact(&mut v);
    v
}

/// Prefixes a failure's reason with the case it happened in.
pub(super) fn in_case(case: &str) -> impl Fn(Failure) -> Failure + '_ {
    move |mut f| {
        f.reason = format!("{case}: {}", f.reason);
        f
    }
}

/// The exit status is `code` and stderr starts with `PROGRAM: ` and a message; for status 2 a
/// `usage: ` line follows (spec §2.3).
pub(super) fn error_run(run: &Finished, program: &str, code: i32) -> Result<(), Failure> {
    crate::shapes::error_exit(run, program, code)
}

/// Attaches the segment of `key` read-only to read its header (then detach before any kill).
pub(super) fn look(key: &Key) -> Option<(Segment, Attachment)> {
    let seg = segment(key.key)?;
    let m = Attachment::attach(seg.id, true).ok()?;
    Some((seg, m))
}
