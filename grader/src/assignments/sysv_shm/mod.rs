//! The `sysv-shm` assignment (`specs/sysv-shm.md`): `svshm-demo` leaves a string in a
//! persistent segment, `svshm-counter` adds under a process-shared mutex in the segment, and
//! `svshm-producer` / `svshm-consumer` move a stream through a ring in rounds (lesson §6,
//! §10–14, §18–21).

mod shm;

use std::io::Write;
use std::os::fd::AsFd;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use crate::check::ensure;
use crate::check::{Assignment, Check, Ctx, Failure};
use crate::expect;
use crate::run::{Finished, Input, Output, Running, Spec};
use crate::stream::{Generator, Stream};

use shm::Mapped;

const MIB: u64 = 1024 * 1024;
/// Bytes before the ring (spec §5.2).
const HEADER: u64 = 4096;
/// The `ready` word (spec §5.2): the bytes `SHM1`.
const READY: u32 = 0x314D_4853;

/// The assignment and its checks, in the spec's order.
pub fn assignment() -> Assignment {
    let secs = Duration::from_secs;
    Assignment {
        name: "sysv-shm",
        title: "SysV shared memory with a process-shared mutex and condition variables",
        package: "sysv-shm",
        binaries: &[
            "svshm-demo",
            "svshm-counter",
            "svshm-producer",
            "svshm-consumer",
        ],
        tools: vec![],
        checks: vec![
            Check::new(
                "demo-persist",
                6,
                "write, then a separate read, then remove: the segment outlives its writer",
                demo_persist,
            )
            .limit(secs(5))
            .lesson("§10, §11, §18"),
            Check::new(
                "demo-overwrite",
                2,
                "a second, shorter write is what read returns",
                demo_overwrite,
            )
            .limit(secs(5))
            .lesson("§11"),
            Check::new(
                "demo-errors",
                4,
                "missing key path or segment (1), bad SIZE or STRING or arguments (2)",
                demo_errors,
            )
            .limit(secs(5))
            .lesson("§10, §11"),
            Check::new(
                "counter-exact",
                10,
                "total is exactly WORKERS × ITERATIONS for 1–8 workers, 4,000,000 each run",
                counter_exact,
            )
            .limit(secs(20))
            .lesson("§13, §14")
            .on_timeout(COUNTER_HINT),
            Check::new(
                "counter-exists",
                2,
                "with a segment already there for the key: exit 1, that segment untouched",
                counter_exists,
            )
            .limit(secs(5))
            .lesson("§11"),
            Check::new(
                "transfer-sizes",
                10,
                "0, 1, D−1, D, D+1, 3D+7 bytes for D = 4096, 5000 and 65536, either side first",
                transfer_sizes,
            )
            .limit(secs(20))
            .lesson("§21")
            .on_timeout(TRANSFER_HINT),
            Check::new(
                "transfer-large",
                8,
                "256 MiB through a 1 MiB ring, either side first, byte for byte",
                transfer_large,
            )
            .limit(secs(25))
            .lesson("§21")
            .on_timeout(TRANSFER_HINT),
            Check::new(
                "transfer-layout",
                4,
                "the header of §5.2, read by the grader while a transfer is paused",
                transfer_layout,
            )
            .limit(secs(10))
            .lesson("§14, §19, §21"),
            Check::new(
                "transfer-uses-segment",
                3,
                "the kernel's accounting shows the segment, not a file or a pipe, carried the stream",
                transfer_uses_segment,
            )
            .limit(secs(15))
            .lesson("§6, §21")
            .on_timeout(TRANSFER_HINT),
            Check::new(
                "transfer-no-busy-wait",
                6,
                "a side waiting for its peer uses almost no CPU",
                transfer_no_busy_wait,
            )
            .limit(secs(10))
            .lesson("§13"),
            Check::new(
                "transfer-throughput",
                6,
                "256 MiB through a 16 MiB ring at a fair share of the grader's memcpy rate",
                transfer_throughput,
            )
            .limit(secs(30))
            .lesson("§6, §9")
            .on_timeout(TRANSFER_HINT),
            Check::new(
                "transfer-kill-producer",
                6,
                "producer killed mid-stream: the consumer gives up (3) within 3 s, cleans up",
                transfer_kill_producer,
            )
            .limit(secs(10))
            .lesson("§10, §21")
            .on_timeout(GIVE_UP_HINT),
            Check::new(
                "transfer-kill-consumer",
                4,
                "consumer killed mid-stream: the producer gives up (3) within 3 s, cleans up",
                transfer_kill_consumer,
            )
            .limit(secs(10))
            .lesson("§10, §21")
            .on_timeout(GIVE_UP_HINT),
            Check::new(
                "transfer-peer-absent",
                4,
                "a side alone with --timeout-ms 1000 gives up (3) within 2 s",
                transfer_peer_absent,
            )
            .limit(secs(10))
            .lesson("§21")
            .on_timeout(GIVE_UP_HINT),
            Check::new(
                "transfer-errors",
                4,
                "DATA_SIZE 0 (2), beyond shmmax (1), missing key path (1), sizes differing (1)",
                transfer_errors,
            )
            .limit(secs(10))
            .lesson("§10, §21"),
        ],
    }
}

const COUNTER_HINT: &str = "a mutex in shared memory must be initialised with \
PTHREAD_PROCESS_SHARED: a process-private one uses private futexes, whose wake-ups never reach \
the other processes, so a waiting worker sleeps forever (spec §4.3, lesson §14).";
const TRANSFER_HINT: &str = "each side must signal the other's condition variable after every \
change of `written`, `read` or `flags`, and re-check its condition in a loop; either side may \
start first (spec §5.3–5.4).";
const GIVE_UP_HINT: &str = "every wait for the peer must be bounded: pthread_cond_timedwait with \
a deadline at most 100 ms away, then check shm_nattch and the timeout (spec §5.6).";

// ---------------------------------------------------------------------------------------------
// Keys, segments and processes as the grader sees them.

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
struct Segment {
    id: i32,
    perms: u32,
    size: u64,
    nattch: u64,
}

/// The segment of `key`, if there is one.
fn segment(key: i32) -> Option<Segment> {
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
fn ipcs() -> String {
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
fn any_exited(runs: &[&Running]) -> bool {
    runs.iter().any(|r| r.has_exited())
}

/// The state letter and user + system CPU time of a running process, from `/proc/PID/stat`.
fn proc_stat(pid: i32) -> Option<(char, Duration)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = stat.rsplit_once(") ")?;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let state = f.first()?.chars().next()?;
    // utime and stime, in clock ticks of 1/100 s (USER_HZ).
    let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    Some((state, Duration::from_millis(ticks * 10)))
}

/// The first `n` bytes of a generated stream.
fn stream_bytes(stream: &Stream, n: usize) -> Vec<u8> {
    use std::io::Read;
    let mut v = vec![0u8; n];
    let mut g: Generator = stream.reader();
    let _ = g.read_exact(&mut v);
    v
}

/// Prefixes a failure's reason with the case it happened in.
fn in_case(case: &str) -> impl Fn(Failure) -> Failure + '_ {
    move |mut f| {
        f.reason = format!("{case}: {}", f.reason);
        f
    }
}

/// The exit status is `code` and stderr starts with `PROGRAM: ` and a message; for status 2 a
/// `usage: ` line follows (spec §2.3).
fn error_run(run: &Finished, program: &str, code: i32) -> Result<(), Failure> {
    expect::exit_code(run, code)?;
    expect::stderr_starts(run, &format!("{program}: "))?;
    let text = run.stderr.text();
    let first = text.lines().next().unwrap_or("");
    ensure(first.len() > program.len() + 2, || {
        Failure::new(format!("the message after `{program}: ` is empty")).command(run)
    })?;
    if code == 2 {
        ensure(
            text.lines()
                .nth(1)
                .is_some_and(|l| l.starts_with("usage: ")),
            || {
                Failure::new("expected a second line `usage: …` on stderr for status 2")
                    .detail(format!("STDERR:\n{}", crate::message::block(&text)))
                    .command(run)
            },
        )?;
    }
    expect::stdout_empty(run)
}

// ---------------------------------------------------------------------------------------------
// Part 1: svshm-demo.

fn demo(ctx: &Ctx, args: &[&str]) -> Spec {
    ctx.cmd("svshm-demo", args.iter().map(|s| s.to_string()))
}

fn demo_key(ctx: &Ctx, verb: &str, key: &Key, more: &[&str]) -> Result<Finished, Failure> {
    let mut args = vec![verb.to_string()];
    args.extend(key.args());
    args.extend(more.iter().map(|s| s.to_string()));
    ctx.run(ctx.cmd("svshm-demo", args))
}

fn demo_persist(ctx: &Ctx) -> Result<(), Failure> {
    let key = new_key(ctx)?;
    let text = "hello, shared world 42";
    let size = 3000u64;
    let run = demo_key(ctx, "write", &key, &[&size.to_string(), text])?;
    expect::exit_code(&run, 0)?;
    expect::stdout_is(&run, format!("writing to segment: \"{text}\"\n").as_bytes())?;
    let Some(seg) = segment(key.key) else {
        return Err(Failure::new(format!(
            "after `write` exited, no segment has key {:#010x} (ftok of the key path)",
            key.key
        ))
        .detail(format!("SEGMENTS:\n{}", ipcs()))
        .detail(
            "HINT: the segment must outlive the writer: do not remove it in `write`, and \
                 make its key with ftok(KEYPATH, PROJ_ID) (spec §3.2).",
        )
        .command(&run));
    };
    ensure(
        seg.size == size && seg.nattch == 0 && seg.perms & 0o777 == 0o600,
        || {
            Failure::new(format!(
                "the segment has size {}, {} attachments, mode {:o}; expected {size}, 0, 600",
                seg.size,
                seg.nattch,
                seg.perms & 0o777
            ))
            .detail("HINT: create it with SIZE bytes and mode 0600, and detach before exiting.")
            .command(&run)
        },
    )?;
    let run = demo_key(ctx, "read", &key, &[])?;
    expect::exit_code(&run, 0)?;
    expect::stdout_is(&run, format!("segment contains: \"{text}\"\n").as_bytes())?;
    let run = demo_key(ctx, "remove", &key, &[])?;
    expect::exit_code(&run, 0)?;
    expect::stdout_is(&run, b"segment removed\n")?;
    ensure(segment(key.key).is_none(), || {
        Failure::new("after `remove` the segment is still there")
            .detail(format!("SEGMENTS:\n{}", ipcs()))
            .detail("HINT: shmctl(id, IPC_RMID, NULL) (spec §3.4).")
            .command(&run)
    })?;
    let run = demo_key(ctx, "read", &key, &[])?;
    error_run(&run, "svshm-demo", 1)
}

fn demo_overwrite(ctx: &Ctx) -> Result<(), Failure> {
    let key = new_key(ctx)?;
    let first = demo_key(ctx, "write", &key, &["256", "a much longer first string"])?;
    expect::exit_code(&first, 0)?;
    let second = demo_key(ctx, "write", &key, &["256", "short"])?;
    expect::exit_code(&second, 0)?;
    expect::stdout_is(&second, b"writing to segment: \"short\"\n")?;
    let read = demo_key(ctx, "read", &key, &[])?;
    let result = expect::exit_code(&read, 0)
        .and_then(|()| expect::stdout_is(&read, b"segment contains: \"short\"\n"))
        .map_err(|f| {
            f.detail(
                "HINT: write copies STRING and a NUL byte after it; read stops at the \
                      first NUL (spec §3.2–3.3).",
            )
        });
    let removed = demo_key(ctx, "remove", &key, &[])?;
    result?;
    expect::exit_code(&removed, 0)
}

fn demo_errors(ctx: &Ctx) -> Result<(), Failure> {
    let key = new_key(ctx)?;
    let path = key.path.to_string_lossy().into_owned();
    let missing = ctx.dir().join("no-such-key-file");
    let missing = missing.to_string_lossy().into_owned();
    let proj = key.proj.to_string();
    let shmmax: u128 = std::fs::read_to_string("/proc/sys/kernel/shmmax")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(u64::MAX as u128 - 1);
    let beyond = (shmmax + 1).to_string();
    let cases: Vec<(Vec<&str>, i32)> = vec![
        (vec!["write", &missing, "7", "64", "x"], 1),
        (vec!["read", &missing, "7"], 1),
        (vec!["read", &path, &proj], 1),
        (vec!["remove", &path, &proj], 1),
        (vec!["write", &path, &proj, "0", "x"], 2),
        (vec!["write", &path, &proj, &beyond, "x"], 1),
        (vec!["write", &path, &proj, "5", "hello"], 2),
        (vec![], 2),
        (vec!["frob", &path, &proj], 2),
        (vec!["read", &path], 2),
        (vec!["write", &path, &proj, "64"], 2),
    ];
    for (args, code) in cases {
        let run = ctx.run(demo(ctx, &args))?;
        error_run(&run, "svshm-demo", code)?;
        ensure(segment(key.key).is_none(), || {
            Failure::new("a failing run left a segment for the key")
                .detail(format!("SEGMENTS:\n{}", ipcs()))
                .command(&run)
        })?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Part 2: svshm-counter.

fn counter_exact(ctx: &Ctx) -> Result<(), Failure> {
    for round in 0..3 {
        for (workers, iterations) in [
            (1u64, 4_000_000u64),
            (2, 2_000_000),
            (4, 1_000_000),
            (8, 500_000),
        ] {
            let key = new_key(ctx)?;
            let mut args = key.args();
            args.extend([workers.to_string(), iterations.to_string()]);
            let run = ctx.run(ctx.cmd("svshm-counter", args))?;
            let case = format!("{workers} workers × {iterations} (round {})", round + 1);
            expect::exit_code(&run, 0).map_err(in_case(&case))?;
            expect::stdout_is(
                &run,
                format!("total: {}\n", workers * iterations).as_bytes(),
            )
            .map_err(in_case(&case))
            .map_err(|f| {
                f.detail(
                    "HINT: a lost update means the read-add-write was not under the \
                              mutex, or the mutex is not in the segment (each worker then locks \
                              its own copy) (spec §4.2–4.3, lesson §13–14).",
                )
            })?;
            expect::no_leftovers(&run).map_err(in_case(&case))?;
        }
    }
    Ok(())
}

fn counter_exists(ctx: &Ctx) -> Result<(), Failure> {
    let key = new_key(ctx)?;
    let id = shm::create(key.key, 48)
        .map_err(|e| Failure::new(format!("grader: cannot create a segment: {e}")))?;
    let marker: Vec<u8> = (0..48u8).map(|i| i.wrapping_mul(37) ^ 0x5a).collect();
    let result = (|| {
        // The segment belongs to the user the programs run as: only IPC_EXCL keeps it safe.
        if let Some((uid, gid)) = ctx.user() {
            shm::give(id, uid, gid)
                .map_err(|e| Failure::new(format!("grader: cannot hand its segment over: {e}")))?;
        }
        Mapped::attach(id, 48, false)
            .map_err(|e| Failure::new(format!("grader: cannot attach its segment: {e}")))?
            .write(0, &marker);
        let mut args = key.args();
        args.extend(["2".to_string(), "1000".to_string()]);
        let run = ctx.run(ctx.cmd("svshm-counter", args))?;
        error_run(&run, "svshm-counter", 1)?;
        let after = segment(key.key);
        let contents = after
            .filter(|s| s.id == id)
            .and_then(|_| Mapped::attach(id, 48, true).ok())
            .map(|m| m.read(0, 48));
        ensure(contents.as_deref() == Some(&marker[..]), || {
            let what = match (after, contents) {
                (None, _) => "the segment that was there is gone".to_string(),
                (Some(s), _) if s.id != id => {
                    format!("the segment was replaced: id {id} became {}", s.id)
                }
                _ => "the segment's bytes were changed".to_string(),
            };
            Failure::new(format!("expected the existing segment untouched: {what}"))
                .detail(
                    "HINT: create with IPC_CREAT | IPC_EXCL; on EEXIST touch nothing and \
                         exit 1 (spec §4.3).",
                )
                .command(&run)
        })
    })();
    let _ = remove_segment(id);
    result
}

/// Removes a segment the grader made itself.
fn remove_segment(id: i32) -> std::io::Result<()> {
    crate::leaks::Object::SysV {
        kind: crate::IpcKind::Shm,
        id,
        key: 0,
        creator: None,
    }
    .remove()
}

// ---------------------------------------------------------------------------------------------
// Part 3: svshm-producer and svshm-consumer.

/// `svshm-producer` or `svshm-consumer` with `OPTIONS… KEYPATH PROJ_ID DATA_SIZE`.
fn side(ctx: &Ctx, program: &str, key: &Key, data_size: u64, options: &[&str]) -> Spec {
    let mut args: Vec<String> = options.iter().map(|s| s.to_string()).collect();
    args.extend(key.args());
    args.push(data_size.to_string());
    ctx.cmd(program, args)
}

/// Waits (bounded) until the segment of `key` exists, or `first` has exited.
fn wait_segment(ctx: &Ctx, key: &Key, first: &Running) -> Option<Segment> {
    let mut found = None;
    crate::procfs::poll_for(ctx.limit() / 4, || {
        found = segment(key.key);
        found.is_some() || first.has_exited()
    });
    found
}

/// Waits (bounded) until the segment of `key` has `n` attachments, or one of `runs` has
/// exited.
fn wait_attached(ctx: &Ctx, key: &Key, n: u64, runs: &[&Running]) -> Option<Segment> {
    let mut found = None;
    crate::procfs::poll_for(ctx.limit() / 4, || {
        found = segment(key.key).filter(|s| s.nattch >= n);
        found.is_some() || any_exited(runs)
    });
    found
}

/// One transfer of `len` generated bytes through a ring of `data_size`, with the producer or
/// the consumer started first; checks the output byte for byte and both statuses.
fn pair(
    ctx: &Ctx,
    len: u64,
    data_size: u64,
    producer_first: bool,
    options: &[&str],
) -> Result<(), Failure> {
    let key = new_key(ctx)?;
    let input = Stream::new(ctx.seed() ^ len ^ (data_size << 32), len);
    let producer =
        || side(ctx, "svshm-producer", &key, data_size, options).stdin(Input::Stream(input));
    let consumer =
        || side(ctx, "svshm-consumer", &key, data_size, options).stdout(Output::Compare(input));
    let (prod, cons) = if producer_first {
        let p = ctx.spawn(producer())?;
        wait_segment(ctx, &key, &p);
        (p, ctx.spawn(consumer())?)
    } else {
        let c = ctx.spawn(consumer())?;
        wait_segment(ctx, &key, &c);
        (ctx.spawn(producer())?, c)
    };
    let prod = ctx.wait(prod);
    let cons = ctx.wait(cons);
    let case = format!(
        "{len} bytes, DATA_SIZE {data_size}, {} first",
        if producer_first {
            "producer"
        } else {
            "consumer"
        }
    );
    expect::stream_matched(&cons).map_err(in_case(&case))?;
    expect::exit_code(&cons, 0).map_err(in_case(&case))?;
    expect::exit_code(&prod, 0).map_err(in_case(&case))?;
    expect::stdout_empty(&prod).map_err(in_case(&case))
}

fn transfer_sizes(ctx: &Ctx) -> Result<(), Failure> {
    // Powers of two and not: the spec allows any DATA_SIZE from 1.
    for d in [4096u64, 5000, 65536] {
        for len in [0, 1, d - 1, d, d + 1, 3 * d + 7] {
            for producer_first in [true, false] {
                pair(ctx, len, d, producer_first, &[])?;
            }
        }
    }
    Ok(())
}

fn transfer_large(ctx: &Ctx) -> Result<(), Failure> {
    for producer_first in [true, false] {
        pair(ctx, 256 * MIB, MIB, producer_first, &[])?;
    }
    Ok(())
}

/// Attaches the segment of `key` read-only to read its header (then detach before any kill).
fn look(key: &Key) -> Option<(Segment, Mapped)> {
    let seg = segment(key.key)?;
    let m = Mapped::attach(seg.id, seg.size as usize, true).ok()?;
    Some((seg, m))
}

/// `pthread_mutex_t`'s `__kind` word in x86-64 glibc's layout: 16 bytes into the mutex, so at
/// offset 40 + 16 of the header (spec §5.2). The bits glibc sets there from the attributes.
const MUTEX_KIND: usize = 40 + 16;
const KIND_ROBUST: u32 = 0x10;
const KIND_PSHARED: u32 = 0x80;

/// A DATA_SIZE that is not a power of two: `written & (D − 1)` is then not `written mod D`.
const ODD_RING: u64 = 100_000;

/// The header of spec §5.2, read through a read-only attachment of the grader's own while the
/// transfer is paused: first with 1000 bytes in the ring and the consumer stopped, then once
/// the consumer has written D + 1500 bytes and waits for more, every byte of the ring where
/// "byte i of the stream is at ring offset i mod DATA_SIZE" puts it (D = 100,000, not a power
/// of two).
fn transfer_layout(ctx: &Ctx) -> Result<(), Failure> {
    let key = new_key(ctx)?;
    let d = ODD_RING;
    let k = 1000usize;
    let total = d + 1500;
    let input = Stream::new(ctx.seed() ^ 0x1a, total);
    let all = stream_bytes(&input, total as usize);
    let data = &all[..k];
    let mut cons =
        ctx.spawn(side(ctx, "svshm-consumer", &key, d, &[]).stdout(Output::Compare(input)))?;
    let mut prod = ctx.spawn(side(ctx, "svshm-producer", &key, d, &[]).stdin(Input::Held))?;
    let (cpid, ppid) = (cons.pid(), prod.pid());
    // The pids the programs know themselves by (in a PID namespace, not the grader's).
    let own = |pid| crate::isolation::own_pid(pid).unwrap_or(pid);
    let (c_own, p_own) = (own(cpid), own(ppid));
    // Both joined: both flag bits set (seen through a read-only attachment of our own).
    let joined = crate::procfs::poll_for(ctx.limit() / 4, || {
        look(&key).is_some_and(|(_, m)| m.u32_at(0) == READY && m.u32_at(4) & 3 == 3)
            || any_exited(&[&cons, &prod])
    });
    cons.signal_group(Signal::SIGSTOP);
    let stopped = crate::procfs::poll_for(ctx.limit() / 4, || {
        proc_stat(cpid).is_none_or(|(s, _)| s == 'T' || s == 'Z')
    });
    if let Some(pipe) = prod.stdin() {
        let _ = pipe.write_all(data);
    }
    let filled = crate::procfs::poll_for(ctx.limit() / 4, || {
        look(&key).is_some_and(|(_, m)| m.u64_at(16) == k as u64) || prod.has_exited()
    });
    let seen = look(&key).map(|(seg, m)| {
        (
            seg,
            m.u32_at(0),
            m.u32_at(4),
            m.u64_at(8),
            m.u64_at(16),
            m.u64_at(24),
            m.u32_at(32) as i32,
            m.u32_at(36) as i32,
            m.u32_at(MUTEX_KIND),
            m.read(4096, k),
        )
    });
    cons.signal_group(Signal::SIGCONT);
    // The rest of the stream, which wraps round the ring; then the consumer has written it all
    // and both wait (the producer for input, the consumer for data): the ring holds the last
    // D bytes of the stream, byte i at offset i mod D.
    // More than a pipe holds: written by a thread of its own with a copy of the pipe's write
    // end, so that a producer that stops reading cannot block the check (its end closes when
    // the producer's group is ended).
    if let Some(pipe) = prod
        .stdin()
        .and_then(|p| p.as_fd().try_clone_to_owned().ok())
    {
        let rest = all[k..].to_vec();
        std::thread::spawn(move || {
            let _ = std::fs::File::from(pipe).write_all(&rest);
        });
    }
    let drained = crate::procfs::poll_for(ctx.limit() / 4, || {
        look(&key).is_some_and(|(_, m)| m.u64_at(16) == total && m.u64_at(24) == total)
            || any_exited(&[&cons, &prod])
    });
    let ring_after = look(&key).map(|(_, m)| m.read(HEADER as usize, d as usize));
    prod.close_stdin();
    let prod = ctx.wait(prod);
    let cons = ctx.wait(cons);
    let Some((seg, ready, flags, data_size, written, read, p_pid, c_pid, kind, ring)) = seen else {
        return Err(Failure::new(format!(
            "no segment with key {:#010x} while producer and consumer were running",
            key.key
        ))
        .detail(format!("SEGMENTS:\n{}", ipcs()))
        .command(&cons));
    };
    let mut problems = Vec::new();
    let mut want = |ok: bool, what: String| {
        if !ok {
            problems.push(what);
        }
    };
    want(
        seg.size == HEADER + d,
        format!(
            "segment size {} (expected 4096 + {d} = {})",
            seg.size,
            HEADER + d
        ),
    );
    want(
        ready == READY,
        format!("ready {ready:#010x} (expected 0x314d4853)"),
    );
    want(
        flags & 3 == 3 && joined,
        format!("flags {flags:#x} (expected bits 0 and 1, both joined)"),
    );
    want(
        data_size == d,
        format!("data_size {data_size} (expected {d})"),
    );
    want(
        written == k as u64 && filled,
        format!("written {written} (expected {k}: the producer's input so far)"),
    );
    want(
        read == 0 || !stopped,
        format!("read {read} (expected 0: the consumer was stopped)"),
    );
    want(
        p_pid == p_own,
        format!("producer_pid {p_pid} (expected {p_own})"),
    );
    want(
        c_pid == c_own,
        format!("consumer_pid {c_pid} (expected {c_own})"),
    );
    want(
        kind & KIND_ROBUST != 0,
        format!(
            "mutex not robust: glibc's __kind word of the mutex (offset {MUTEX_KIND}) is \
             {kind:#x}, without PTHREAD_MUTEX_ROBUST's bit {KIND_ROBUST:#x} (expected \
             pthread_mutexattr_setrobust(PTHREAD_MUTEX_ROBUST) before pthread_mutex_init)"
        ),
    );
    want(
        kind & KIND_PSHARED != 0,
        format!(
            "mutex not process-shared: glibc's __kind word of the mutex (offset {MUTEX_KIND}) \
             is {kind:#x}, without the process-shared bit {KIND_PSHARED:#x} (expected \
             pthread_mutexattr_setpshared(PTHREAD_PROCESS_SHARED))"
        ),
    );
    want(
        ring == data,
        "the ring at offset 4096 does not hold the stream's first bytes".into(),
    );
    let misplaced = ring_after
        .as_ref()
        .filter(|_| drained)
        .map(|ring| (total - d..total).find(|&i| ring[(i % d) as usize] != all[i as usize]));
    match misplaced {
        None => want(
            false,
            format!(
                "after {total} bytes the header did not show written = read = {total} while \
                 both sides waited"
            ),
        ),
        Some(Some(i)) => want(
            false,
            format!(
                "byte {i} of the stream is not at ring offset {i} mod {d} = {} once the stream \
                 has wrapped round the ring (DATA_SIZE {d} is not a power of two: \
                 `written & (DATA_SIZE - 1)` is not `written % DATA_SIZE`)",
                i % d
            ),
        ),
        Some(None) => {}
    }
    if let Some(first) = problems.first() {
        // The hint for what went wrong: the fields, the mutex's attributes, or the ring.
        let about = |words: &[&str]| {
            problems
                .iter()
                .any(|p| words.iter().any(|w| p.starts_with(w)))
        };
        let mut hints = Vec::new();
        if about(&[
            "segment",
            "ready",
            "flags",
            "data_size",
            "written",
            "read ",
            "producer",
            "consumer",
        ]) {
            hints.push(
                "overlay a #[repr(C)] struct and assert its offsets with offset_of! against the \
                 table of spec §5.2",
            );
        }
        if about(&["mutex"]) {
            hints.push("initialise the mutex with the attributes §5.2 lists");
        }
        if about(&["the ring", "byte "]) {
            hints.push("place byte i of the stream at ring offset i % DATA_SIZE");
        }
        let mut failure = Failure::new(format!("header field: {first}"))
            .detail(format!("ALL PROBLEMS:\n    {}", problems.join("\n    ")));
        if !hints.is_empty() {
            failure = failure.detail(format!("HINT: {}.", hints.join("; ")));
        }
        return Err(failure.command(&prod));
    }
    expect::exit_code(&prod, 0)?;
    expect::exit_code(&cons, 0)?;
    expect::stream_matched(&cons)?;
    ctx.note(format!(
        "header of §5.2 as specified, mutex __kind {kind:#x} (robust, process-shared); after \
         {total} bytes through DATA_SIZE {d} every byte of the ring was at offset i mod {d}"
    ));
    Ok(())
}

/// The segment carries the stream (spec §5.4), as the kernel accounts for it. First, paused
/// mid-transfer (the producer waits for more input): `/proc/sysvipc/shm` lists the segment of
/// the key, 4096 + D bytes, attached twice, created and last attached by the pair (pids as the
/// grader's spawns see them); each side maps it (`/SYSVkey` in `/proc/PID/maps`, its id as
/// the inode) and the two share no other file. Then, for a stream of 4 MiB, the producer's
/// `write` calls and the consumer's `read` calls move less than a quarter of it
/// (`/proc/PID/io`): the bytes went through memory, not through a file or a pipe.
fn transfer_uses_segment(ctx: &Ctx) -> Result<(), Failure> {
    let key = new_key(ctx)?;
    let d = 4096u64;
    let k = 1000usize;
    let data = stream_bytes(&Stream::new(ctx.seed() ^ 0x5e6, k as u64), k);
    let cons = ctx.spawn(side(ctx, "svshm-consumer", &key, d, &[]))?;
    wait_segment(ctx, &key, &cons);
    let mut prod = ctx.spawn(side(ctx, "svshm-producer", &key, d, &[]).stdin(Input::Held))?;
    let (cpid, ppid) = (cons.pid(), prod.pid());
    if let Some(pipe) = prod.stdin() {
        let _ = pipe.write_all(&data);
    }
    let path = crate::procfs::sysv_segment_path(key.key);
    let maps_segment = |pid: i32, id: i64| {
        crate::procfs::maps(pid)
            .into_iter()
            .any(|m| m.shared() && m.file() == path && m.inode as i64 == id)
    };
    // Both attached and mapping the segment: the producer then waits for more input, and
    // neither detaches before its stdin closes.
    let mut row = None;
    let settled = crate::procfs::poll_for(ctx.limit() / 4, || {
        row = crate::procfs::sysvipc("shm")
            .into_iter()
            .find(|r| r.num("key") == i64::from(key.key));
        let both = row.as_ref().is_some_and(|r| {
            r.num("nattch") == 2
                && maps_segment(cpid, r.num("shmid"))
                && maps_segment(ppid, r.num("shmid"))
        });
        // The producer sleeping in `read` again has put the bytes already in its stdin pipe
        // into the ring: whatever holds the ring is mapped by now.
        let waiting = crate::procfs::sleeps_in_call(ppid, libc::SYS_read);
        (both && waiting) || any_exited(&[&cons, &prod])
    });
    let (cmaps, pmaps) = (crate::procfs::maps(cpid), crate::procfs::maps(ppid));
    prod.close_stdin();
    let prod = ctx.wait(prod);
    let cons = ctx.wait(cons);
    let pair = [cpid, ppid];
    let Some(row) = row.filter(|_| settled) else {
        return Err(Failure::new(format!(
            "no segment with key {:#010x} while producer and consumer were running",
            key.key
        ))
        .detail(format!("SEGMENTS:\n{}", ipcs()))
        .command(&cons));
    };
    let (id, nattch) = (row.num("shmid"), row.num("nattch"));
    let (creator, last) = (row.num("cpid") as i32, row.num("lpid") as i32);
    let mut problems = Vec::new();
    if row.num("size") as u64 != HEADER + d {
        problems.push(format!(
            "the segment has {} bytes, expected 4096 + {d}",
            row.num("size")
        ));
    }
    if nattch != 2 {
        problems.push(format!(
            "the segment had {nattch} attachment(s) mid-transfer, expected 2 (producer and consumer)"
        ));
    }
    if !pair.contains(&creator) || !pair.contains(&last) {
        problems.push(format!(
            "the segment was created by pid {creator} and last attached by pid {last}, not by \
             the consumer (pid {cpid}) and the producer (pid {ppid})"
        ));
    }
    for (who, pid, maps) in [("consumer", cpid, &cmaps), ("producer", ppid, &pmaps)] {
        if !maps
            .iter()
            .any(|m| m.shared() && m.file() == path && m.inode as i64 == id)
        {
            problems.push(format!(
                "the {who} (pid {pid}) does not map segment {id} ({path} in /proc/{pid}/maps)"
            ));
        }
    }
    let others: Vec<String> = crate::procfs::shared_in_common(&cmaps, &pmaps)
        .into_iter()
        .filter(|f| *f != path)
        .collect();
    if !others.is_empty() {
        problems.push(format!(
            "producer and consumer also share {}: the ring must be in the segment",
            others.join(", ")
        ));
    }
    if let Some(first) = problems.first() {
        return Err(Failure::new(first.clone())
            .detail(format!("ALL PROBLEMS:\n    {}", problems.join("\n    ")))
            .detail(format!(
                "SEEN MID-TRANSFER (/proc/sysvipc/shm):\n    segment id {id}, {} bytes, nattch \
                 {nattch}, cpid {creator}, lpid {last}",
                row.num("size")
            ))
            .detail(
                "HINT: the ring is the segment's bytes from offset 4096: the producer reads \
                 stdin straight into it, the consumer writes stdout straight from it (spec §5.4).",
            )
            .command(&prod));
    }
    expect::exit_code(&prod, 0)?;
    expect::exit_code(&cons, 0)?;
    expect::stdout_is(&cons, &data)?;
    // A stream far larger than the ring: how many bytes each side moved through system calls.
    let len = 4 * MIB + 5;
    let input = Stream::new(ctx.seed() ^ 0x5e7, len);
    let cons =
        ctx.spawn(side(ctx, "svshm-consumer", &key, d, &[]).stdout(Output::Compare(input)))?;
    wait_segment(ctx, &key, &cons);
    let prod = ctx.spawn(side(ctx, "svshm-producer", &key, d, &[]).stdin(Input::Stream(input)))?;
    let deadline = Instant::now() + ctx.limit() / 2;
    let prod_io = prod.io_at_exit(deadline);
    let cons_io = cons.io_at_exit(deadline);
    let prod = ctx.wait(prod);
    let cons = ctx.wait(cons);
    expect::stream_matched(&cons)?;
    expect::exit_code(&cons, 0)?;
    expect::exit_code(&prod, 0)?;
    let (Some(pio), Some(cio)) = (prod_io, cons_io) else {
        return Err(Failure::new("the producer or the consumer did not end").command(&prod));
    };
    expect::carried_by_memory(
        len,
        (pio, cio),
        ("producer", "consumer"),
        "segment",
        "the producer reads stdin into the ring and the consumer writes the ring to stdout; \
         nothing else is read or written (spec §5.4).",
        &prod,
    )?;
    ctx.note(format!(
        "segment {id} ({} bytes) attached by consumer pid {cpid} and producer pid {ppid} \
         (nattch 2); of a {len}-byte stream the producer wrote {} bytes, the consumer read {}",
        HEADER + d,
        pio.written,
        cio.read
    ));
    Ok(())
}

/// The CPU used by `pid` over `window` (`/proc/PID/stat` utime + stime); `None` if `pid`
/// ended. Nothing of the grader competes for a CPU meanwhile: a process that polls, even one
/// that yields its CPU between polls, gets a CPU of its own and uses it.
fn cpu_over(pid: i32, window: Duration) -> Option<Duration> {
    let before = proc_stat(pid);
    std::thread::sleep(window);
    let after = proc_stat(pid);
    Some(after?.1.saturating_sub(before?.1))
}

fn transfer_no_busy_wait(ctx: &Ctx) -> Result<(), Failure> {
    let window = Duration::from_millis(800);
    let allowed = (window / 10 + Duration::from_millis(20)).mul_f64(ctx.scale());
    let busy = |who: &str, used: Duration, why: &str| {
        Failure::new(format!(
            "the {who} used {} ms of CPU in {} ms while {why} (allowed: {} ms, a tenth of the \
             window plus 20 ms)",
            used.as_millis(),
            window.as_millis(),
            allowed.as_millis(),
        ))
        .detail(
            "HINT: wait in pthread_cond_timedwait (waking at most every 100 ms), never in \
                 a loop that polls the header, not even one that unlocks and yields the CPU \
                 between polls (spec §5.4, lesson §13).",
        )
    };
    // 1. A consumer whose producer has no input yet.
    let key = new_key(ctx)?;
    let cons = ctx.spawn(side(ctx, "svshm-consumer", &key, 4096, &[]))?;
    let mut prod = ctx.spawn(side(ctx, "svshm-producer", &key, 4096, &[]).stdin(Input::Held))?;
    wait_attached(ctx, &key, 2, &[&cons, &prod]);
    let used = cpu_over(cons.pid(), window);
    if let Some(pipe) = prod.stdin() {
        let _ = pipe.write_all(b"data");
    }
    prod.close_stdin();
    let prod = ctx.wait(prod);
    let cons = ctx.wait(cons);
    expect::exit_code(&prod, 0)?;
    expect::exit_code(&cons, 0)?;
    expect::stdout_is(&cons, b"data")?;
    let used = used.ok_or_else(|| {
        Failure::new("the consumer exited while the grader measured its CPU time").command(&cons)
    })?;
    ensure(used <= allowed, || {
        busy("consumer", used, "its producer waited for input").command(&cons)
    })?;
    // 2. A producer whose consumer is stopped, on a full ring.
    let key = new_key(ctx)?;
    let len = 4 * 4096;
    let input = Stream::new(ctx.seed() ^ 0xb5, len);
    let mut cons =
        ctx.spawn(side(ctx, "svshm-consumer", &key, 4096, &[]).stdout(Output::Compare(input)))?;
    wait_segment(ctx, &key, &cons);
    cons.signal_group(Signal::SIGSTOP);
    let prod =
        ctx.spawn(side(ctx, "svshm-producer", &key, 4096, &[]).stdin(Input::Stream(input)))?;
    let ppid = prod.pid();
    // The ring is full once the producer sleeps with `written` at 4096.
    crate::procfs::poll_for(ctx.limit() / 4, || {
        look(&key).is_some_and(|(_, m)| m.u64_at(16) == 4096)
            && proc_stat(ppid).is_some_and(|(s, _)| s == 'S')
            || any_exited(&[&cons, &prod])
    });
    let used = cpu_over(ppid, window);
    cons.signal_group(Signal::SIGCONT);
    let prod = ctx.wait(prod);
    let cons = ctx.wait(cons);
    expect::stream_matched(&cons)?;
    expect::exit_code(&prod, 0)?;
    expect::exit_code(&cons, 0)?;
    let used = used.ok_or_else(|| {
        Failure::new("the producer exited while the grader measured its CPU time").command(&prod)
    })?;
    ensure(used <= allowed, || {
        busy(
            "producer",
            used,
            "its consumer was stopped and the ring full",
        )
        .command(&prod)
    })
}

fn transfer_throughput(ctx: &Ctx) -> Result<(), Failure> {
    // A small transfer first: a program that cannot move 4 KiB fails here, quickly.
    pair(ctx, 4096, 4096, true, &[])?;
    let len = 256 * MIB;
    let file = crate::probe::TempFile(ctx.dir().join("input"));
    {
        let mut f = std::fs::File::create(&file.0)
            .map_err(|e| Failure::new(format!("grader: cannot create the input file: {e}")))?;
        Stream::new(ctx.seed() ^ 0x7b, len)
            .write_to(&mut f)
            .map_err(|e| Failure::new(format!("grader: cannot write the input file: {e}")))?;
    }
    let open = |path: &std::path::Path, write: bool| {
        std::fs::OpenOptions::new()
            .read(!write)
            .write(write)
            .open(path)
            .map_err(|e| Failure::new(format!("grader: cannot open {}: {e}", path.display())))
    };
    let probe = crate::probe::memcpy_bandwidth();
    let mut best = Duration::MAX;
    for _ in 0..3 {
        let key = new_key(ctx)?;
        let started = Instant::now();
        let cons = ctx.spawn(
            side(ctx, "svshm-consumer", &key, 16 * MIB, &[])
                .stdout(Output::File(open(std::path::Path::new("/dev/null"), true)?)),
        )?;
        let prod = ctx.spawn(
            side(ctx, "svshm-producer", &key, 16 * MIB, &[])
                .stdin(Input::File(open(&file.0, false)?)),
        )?;
        let prod = ctx.wait(prod);
        let cons = ctx.wait(cons);
        let took = started.elapsed();
        expect::exit_code(&prod, 0)?;
        expect::exit_code(&cons, 0)?;
        best = best.min(took);
    }
    let rate = len as f64 / best.as_secs_f64().max(1e-9);
    let bound = 0.1 / ctx.scale();
    let mibs = |r: f64| r / MIB as f64;
    ensure(rate >= bound * probe, || {
        Failure::new(format!(
            "the transfer moved {:.0} MiB/s, {:.0} % of the grader's memcpy rate (needed: {:.0} %)",
            mibs(rate),
            100.0 * rate / probe,
            100.0 * bound
        ))
        .detail(format!(
            "MEASURED (best of 3):\n    transfer, 256 MiB, DATA_SIZE 16 MiB: {:.0} MiB/s\n    \
             grader's memcpy: {:.0} MiB/s",
            mibs(rate),
            mibs(probe)
        ))
        .detail(
            "HINT: read stdin straight into the ring and write straight from it, in rounds \
                 of up to 1 MiB, holding the mutex only for the header (spec §5.4, §5.8).",
        )
    })?;
    ctx.note(format!(
        "the transfer moved {:.0} MiB/s, {:.0} % of the grader's memcpy rate (needed {:.0} %)",
        mibs(rate),
        100.0 * rate / probe,
        100.0 * bound
    ));
    Ok(())
}

/// Starts a transfer with `--timeout-ms 2000`, lets `before` bytes through, SIGKILLs `victim`
/// (the producer if `kill_producer`), and expects the survivor to exit 3 within 3 s.
fn kill_one(ctx: &Ctx, kill_producer: bool) -> Result<(), Failure> {
    let key = new_key(ctx)?;
    let d = 4096u64;
    let opts = ["--timeout-ms", "2000"];
    let before = 20_000u64;
    let input = Stream::new(ctx.seed() ^ 0x6b31, 64 * MIB);
    let prefix = stream_bytes(&input, before as usize);
    let cons = ctx.spawn(side(ctx, "svshm-consumer", &key, d, &opts))?;
    let mut prod = ctx.spawn(side(ctx, "svshm-producer", &key, d, &opts).stdin(Input::Held))?;
    wait_attached(ctx, &key, 2, &[&cons, &prod]);
    if let Some(pipe) = prod.stdin() {
        let _ = pipe.write_all(&prefix);
    }
    // Mid-stream: the consumer has written out everything sent so far.
    crate::procfs::poll_for(ctx.limit() / 4, || {
        look(&key).is_some_and(|(_, m)| m.u64_at(24) == before) || any_exited(&[&cons, &prod])
    });
    let (mut victim, survivor) = if kill_producer {
        (prod, cons)
    } else {
        (cons, prod)
    };
    victim.signal_group(Signal::SIGKILL);
    let killed_at = Instant::now();
    let mut survivor = survivor;
    if !kill_producer {
        // Keep the producer's input flowing, so that it is mid-stream, not at end of input.
        if let Some(pipe) = survivor.stdin() {
            let _ = pipe.write_all(&stream_bytes(&input, 8192)[..4096]);
        }
    }
    let survivor = ctx.wait(survivor);
    let took = killed_at.elapsed();
    let victim = ctx.wait(victim);
    let _ = victim;
    let (who, program) = if kill_producer {
        ("consumer", "svshm-consumer")
    } else {
        ("producer", "svshm-producer")
    };
    expect::exit_code(&survivor, 3)?;
    expect::stderr_starts(&survivor, &format!("{program}: "))?;
    let limit = Duration::from_secs(3).mul_f64(ctx.scale());
    ensure(took <= limit, || {
        Failure::new(format!(
            "the {who} gave up {} ms after its peer was killed (allowed: {} ms)",
            took.as_millis(),
            limit.as_millis()
        ))
        .detail(GIVE_UP_HINT)
        .command(&survivor)
    })?;
    if kill_producer {
        let out = &survivor.stdout.bytes;
        ensure(prefix.starts_with(out) || out.starts_with(&prefix), || {
            Failure::new("the consumer's stdout is not a prefix of the producer's input")
                .command(&survivor)
        })?;
    } else {
        expect::stdout_empty(&survivor)?;
    }
    Ok(())
}

fn transfer_kill_producer(ctx: &Ctx) -> Result<(), Failure> {
    kill_one(ctx, true)
}

fn transfer_kill_consumer(ctx: &Ctx) -> Result<(), Failure> {
    kill_one(ctx, false)
}

fn transfer_peer_absent(ctx: &Ctx) -> Result<(), Failure> {
    let opts = ["--timeout-ms", "1000"];
    let d = 4096u64;
    let (k1, k2, k3) = (new_key(ctx)?, new_key(ctx)?, new_key(ctx)?);
    let started = Instant::now();
    let big = ctx.spawn(
        side(ctx, "svshm-producer", &k1, d, &opts)
            .stdin(Input::Stream(Stream::new(ctx.seed(), 3 * d))),
    )?;
    let small = ctx.spawn(
        side(ctx, "svshm-producer", &k2, d, &opts)
            .stdin(Input::Stream(Stream::new(ctx.seed(), 100))),
    )?;
    let alone = ctx.spawn(side(ctx, "svshm-consumer", &k3, d, &opts))?;
    let runs = [
        (
            "a producer alone with more input than DATA_SIZE",
            "svshm-producer",
            ctx.wait(big),
        ),
        (
            "a producer alone with less input than DATA_SIZE",
            "svshm-producer",
            ctx.wait(small),
        ),
        ("a consumer alone", "svshm-consumer", ctx.wait(alone)),
    ];
    let took = started.elapsed();
    let limit = Duration::from_secs(2).mul_f64(ctx.scale());
    for (case, program, run) in &runs {
        error_run(run, program, 3).map_err(in_case(case))?;
        ensure(run.wall <= limit, || {
            Failure::new(format!(
                "{case}: gave up after {} ms with --timeout-ms 1000 (allowed: {} ms)",
                run.wall.as_millis(),
                limit.as_millis()
            ))
            .detail(GIVE_UP_HINT)
            .command(run)
        })?;
    }
    let _ = took;
    Ok(())
}

fn transfer_errors(ctx: &Ctx) -> Result<(), Failure> {
    let key = new_key(ctx)?;
    let shmmax: u64 = std::fs::read_to_string("/proc/sys/kernel/shmmax")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(u64::MAX);
    let missing = Key {
        path: ctx.dir().join("no-such-key-file"),
        proj: 9,
        key: 0,
    };
    for program in ["svshm-producer", "svshm-consumer"] {
        let cases: [(Spec, i32); 5] = [
            (side(ctx, program, &key, 0, &[]), 2),
            (side(ctx, program, &key, shmmax - HEADER + 1, &[]), 1),
            (side(ctx, program, &missing, 4096, &[]), 1),
            (side(ctx, program, &key, 4096, &["--bogus"]), 2),
            (ctx.cmd(program, key.args()), 2),
        ];
        for (spec, code) in cases {
            let run = ctx.run(spec)?;
            error_run(&run, program, code)?;
            ensure(segment(key.key).is_none(), || {
                Failure::new("a failing run left a segment for the key")
                    .detail(format!("SEGMENTS:\n{}", ipcs()))
                    .command(&run)
            })?;
        }
    }
    // Sizes differing between the two sides.
    let opts = ["--timeout-ms", "1000"];
    let first = ctx.spawn(side(ctx, "svshm-consumer", &key, 4096, &opts))?;
    wait_segment(ctx, &key, &first);
    let second =
        ctx.run(side(ctx, "svshm-producer", &key, 8192, &opts).stdin(Input::Bytes(b"x".to_vec())))?;
    let first = ctx.wait(first);
    error_run(&second, "svshm-producer", 1).map_err(in_case(
        "a producer with DATA_SIZE 8192 joining a consumer's 4096",
    ))?;
    error_run(&first, "svshm-consumer", 3)
        .map_err(in_case("a consumer whose producer could not join"))
}
