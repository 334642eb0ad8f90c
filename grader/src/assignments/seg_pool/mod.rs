//! The `seg-pool` assignment (`specs/seg-pool.md`): `segpool-server` preallocates a pool of
//! SysV shared-memory segments and puts their identifiers on a SysV message queue, the free
//! list; `segpool-client` takes one, fills it with a chunk of its input and hands it back with
//! the chunk's length (lesson §10–11, §19–21). Checks by family: [`transfer`] (the bytes),
//! [`pool`] (the segments: made once, reused, waited for), [`ends`] (giving up, cleanup,
//! command lines).

pub mod needs;
mod ends;
mod ffi;
mod pool;
mod transfer;

use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use crate::check::{Assignment, Check, Ctx, Failure, ensure};
use crate::procfs::{self, IpcRow};
use crate::run::{Finished, Running, Spec};

/// The server's binary.
const SERVER: &str = "segpool-server";
/// The client's binary.
const CLIENT: &str = "segpool-client";
/// The FREE message's type (spec §2.3).
const FREE: libc::c_long = 3;

/// The assignment and its checks, in the spec's order.
pub fn assignment() -> Assignment {
    let secs = Duration::from_secs;
    Assignment {
        name: "seg-pool",
        title: "A pool of SysV shared-memory segments, its free list on a message queue",
        package: "seg-pool",
        binaries: &[SERVER, CLIENT],
        tools: vec![],
        checks: vec![
            Check::new(
                "transfer-sizes",
                4,
                "clients of 0, 1, S−1, S, S+1, 3S+7 bytes one after another, S = 4096 and 5000",
                transfer::sizes,
            )
            .limit(secs(15))
            .lesson("§19, §21")
            .on_timeout(HINT),
            Check::new(
                "transfer-large",
                3,
                "16 MiB through 4 segments of 64 KiB, byte for byte",
                transfer::large,
            )
            .limit(secs(20))
            .lesson("§21")
            .on_timeout(HINT),
            Check::new(
                "pool-at-start",
                3,
                "SEGMENTS segments of SEG_SIZE bytes, mode 600, made by the server before any FREE",
                pool::at_start,
            )
            .limit(secs(10))
            .lesson("§10, §11, §20"),
            Check::new(
                "pool-reused",
                3,
                "a 1 MiB transfer through 3 segments: the same 3 identifiers throughout",
                pool::reused,
            )
            .limit(secs(15))
            .lesson("§20")
            .on_timeout(HINT),
            Check::new(
                "client-blocks",
                3,
                "every segment in use: the client sleeps in msgrcv, then completes",
                pool::client_blocks,
            )
            .limit(secs(10))
            .lesson("§5, §20"),
            Check::new(
                "client-killed",
                3,
                "a client killed mid-transfer: the server gives up (3) within 3 s, removes all",
                ends::client_killed,
            )
            .limit(secs(10))
            .lesson("§18, §20")
            .on_timeout(GIVE_UP_HINT),
            Check::new(
                "server-removes-all",
                2,
                "after the last client the server removes the queue and every segment",
                ends::removes_all,
            )
            .limit(secs(10))
            .lesson("§18"),
            Check::new(
                "usage-errors",
                2,
                "bad arguments (2), missing key path or queue (1), a queue already there (1)",
                ends::usage_errors,
            )
            .limit(secs(10))
            .lesson("§11"),
        ],
    }
}

const HINT: &str = "the server sends a FREE message for every segment once all are made, and \
again after writing each chunk out; a client sends DONE after its last FULL (spec §3–4).";
const GIVE_UP_HINT: &str = "the server's wait for a message must be bounded: arm a timer \
(setitimer) around msgrcv and give up when it fires (spec §3.3).";

/// A fresh key file and project id, and the key `ftok` makes of them.
struct Key {
    path: PathBuf,
    proj: u8,
    key: i32,
}

impl Key {
    /// `KEYPATH PROJ_ID` as arguments.
    fn args(&self) -> Vec<String> {
        vec![
            self.path.to_string_lossy().into_owned(),
            self.proj.to_string(),
        ]
    }
}

/// Creates a fresh key file in the check's folder; the project id varies from run to run.
fn new_key(ctx: &Ctx) -> Result<Key, Failure> {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let path = ctx.dir().join(crate::leaks::unique_name("key"));
    std::fs::write(&path, b"").map_err(|e| Failure::grader(format!("a key file: {e}")))?;
    let meta =
        std::fs::metadata(&path).map_err(|e| Failure::grader(format!("the key file: {e}")))?;
    let proj = (1 + (NEXT.fetch_add(1, Ordering::Relaxed) + std::process::id()) % 255) as u8;
    // glibc's ftok: the low 16 bits of the inode, the low 8 of the device, the project id.
    let key = ((meta.ino() & 0xffff) | ((meta.dev() & 0xff) << 16) | (u64::from(proj) << 24)) as u32
        as i32;
    Ok(Key { path, proj, key })
}

/// `segpool-server [extra…] KEYPATH PROJ_ID SEGMENTS SEG_SIZE CLIENTS`.
fn server(ctx: &Ctx, key: &Key, segments: u64, size: u64, clients: usize, extra: &[&str]) -> Spec {
    let mut args: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
    args.extend(key.args());
    args.extend([segments.to_string(), size.to_string(), clients.to_string()]);
    ctx.cmd(SERVER, args)
}

/// `segpool-client KEYPATH PROJ_ID`.
fn client(ctx: &Ctx, key: &Key) -> Spec {
    ctx.cmd(CLIENT, key.args())
}

/// The queue of `key`, if there is one.
fn queue(key: &Key) -> Option<IpcRow> {
    procfs::sysvipc("msg")
        .into_iter()
        .find(|r| r.num("key") == i64::from(key.key))
}

/// Every segment process `pid` created that still exists.
fn pool_of(pid: i32) -> Vec<IpcRow> {
    procfs::sysvipc("shm")
        .into_iter()
        .filter(|r| r.num("cpid") == i64::from(pid))
        .collect()
}

/// The segments of `rows`, for messages.
fn listing(rows: &[IpcRow]) -> String {
    if rows.is_empty() {
        return "    (none)".into();
    }
    rows.iter()
        .map(|r| {
            format!(
                "    id {} key {} size {} perms {} nattch {}",
                r.num("shmid"),
                r.num("key"),
                r.num("size"),
                r.num("perms"),
                r.num("nattch")
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Waits until the server's queue holds `free` messages (its pool is on the free list);
/// returns the server and the queue's row. A server that exits or never gets there fails the
/// check, its run recorded (a `todo!()` in it makes the check "not implemented").
fn wait_pool(
    ctx: &Ctx,
    key: &Key,
    free: i64,
    server: Running,
) -> Result<(Running, IpcRow), Failure> {
    let ready = || queue(key).filter(|q| q.num("qnum") >= free);
    procfs::poll_for(ctx.loosen(Duration::from_secs(3)), || {
        ready().is_some() || server.has_exited()
    });
    if let Some(row) = ready() {
        return Ok((server, row));
    }
    let seen = queue(key).map(|q| q.num("qnum"));
    let run = ctx.wait(server);
    Err(Failure::new(format!(
        "the server's queue (key {:#010x}) never held the {free} FREE messages of its pool",
        key.key
    ))
    .detail(match seen {
        Some(n) => format!("THE QUEUE HELD: {n} messages"),
        None => "THE QUEUE: none for the key".into(),
    })
    .detail(
        "HINT: create the queue with the key ftok(KEYPATH, PROJ_ID), then every segment, \
         then send one FREE message per segment (spec §3.2).",
    )
    .command(&run))
}

/// The bytes of a generated stream of `len` bytes.
fn bytes_of(stream: &crate::stream::Stream, len: u64) -> Vec<u8> {
    use std::io::Read;
    let mut v = Vec::with_capacity(len as usize);
    let _ = stream.reader().take(len).read_to_end(&mut v);
    v
}

/// The server's stdout is exactly `expected`; the first differing offset otherwise.
fn output_is(run: &Finished, expected: &[u8]) -> Result<(), Failure> {
    let got = &run.stdout.bytes;
    if got == expected && !run.stdout.truncated() {
        return Ok(());
    }
    let at = got.iter().zip(expected).take_while(|(a, b)| a == b).count();
    Err(Failure::new(format!(
        "the server wrote {} bytes, expected {}; the first difference is at byte {at}",
        run.stdout.total,
        expected.len()
    ))
    .detail(
        "HINT: the server writes exactly the `len` bytes of each FULL message's segment, in \
         the order the FULL messages arrive; a client fills each segment before it sends it \
         (spec §3.3, §4.2).",
    )
    .command(run))
}

/// Prefixes a failure's reason with the case it happened in.
fn in_case(case: &str) -> impl Fn(Failure) -> Failure + '_ {
    move |mut f| {
        f.reason = format!("{case}: {}", f.reason);
        f
    }
}

/// The exit status is `code`, stderr starts with `PROGRAM: ` and a message; for status 2 a
/// `usage: ` line follows; stdout is empty (spec §2.2).
fn error_run(run: &Finished, program: &str, code: i32) -> Result<(), Failure> {
    crate::shapes::error_exit(run, program, code)
}

/// The server's queue and segments are gone (spec §2.5).
fn all_removed(key: &Key, server_pid: i32, run: &Finished) -> Result<(), Failure> {
    let left = pool_of(server_pid);
    ensure(queue(key).is_none() && left.is_empty(), || {
        Failure::new(format!(
            "after the server exited, {} and {} of its segments remain",
            if queue(key).is_some() {
                "its queue"
            } else {
                "no queue"
            },
            left.len()
        ))
        .detail(format!("SEGMENTS:\n{}", listing(&left)))
        .detail(
            "HINT: on every way out after creating them, the server removes the queue \
             (msgctl IPC_RMID) and every segment (shmctl IPC_RMID) (spec §2.5).",
        )
        .command(run)
    })
}
