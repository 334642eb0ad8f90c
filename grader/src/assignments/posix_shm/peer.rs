//! The grader's own side of a `posix-shm` channel, written from `specs/posix-shm.md` §4–§6
//! alone: `grader tool posix-shm-peer (send|recv) NAME TIMEOUT_MS`. It creates the object or
//! joins the student's, checks every header field and state transition the student is
//! responsible for, and moves the stream; any deviation is one line on stderr and exit 1.

use std::io::{Read, Write};
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use nix::fcntl::OFlag;
use nix::sys::stat::Mode;

use super::ffi::{self, Map};

const MAGIC: u32 = 0x4D48_5350;
const HEADER: usize = 4096;
/// The ring the peer makes when it creates: 64 KiB, four slots.
const RING: u64 = 64 * 1024;
const SLOTS: u32 = 4;
const OFF_MAGIC: usize = 0;
const OFF_VERSION: usize = 4;
const OFF_STATE: usize = 8;
const OFF_CREATOR: usize = 12;
const OFF_RING: usize = 16;
const OFF_COUNT: usize = 24;
const OFF_SLOT_SIZE: usize = 28;
const OFF_PID: usize = 32;
const SEM_JOINED: usize = 64;
const SEM_FILLED: usize = 96;
const SEM_FREE: usize = 128;
const READY: u32 = 1;
const JOINED: u32 = 2;
const END: u32 = 1;

/// The tool's `main`.
pub fn main(args: &[String]) -> ExitCode {
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("posix-shm-peer: {message}");
            if message.starts_with(OWN) {
                ExitCode::from(OWN_FAILURE)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

/// The exit status of a failure of the peer's own (its command line, its stdin or stdout: the
/// grader's pipes), which no student's side can cause: the check reports it as the grader's.
pub const OWN_FAILURE: u8 = 4;
/// How the message of such a failure begins.
const OWN: &str = "own failure: ";

fn run(args: &[String]) -> Result<(), String> {
    let [role, name, timeout] = args else {
        return Err(format!(
            "{OWN}usage: posix-shm-peer (send|recv) NAME TIMEOUT_MS"
        ));
    };
    let sender = match role.as_str() {
        "send" => true,
        "recv" => false,
        _ => return Err(format!("{OWN}bad role {role:?}")),
    };
    let timeout: u64 = timeout.parse().map_err(|_| format!("{OWN}bad timeout"))?;
    let (me, student) = if sender { (1, 2) } else { (2, 1) };
    let map = match ffi::shm_open(
        name,
        OFlag::O_RDWR | OFlag::O_CREAT | OFlag::O_EXCL,
        Mode::S_IRUSR | Mode::S_IWUSR,
    ) {
        Ok(fd) => create(name, &fd, me, timeout)?,
        Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {
            let fd = ffi::shm_open(name, OFlag::O_RDWR, Mode::empty())
                .map_err(|e| format!("open: {e}"))?;
            join(name, &fd, student, timeout)?
        }
        Err(e) => return Err(format!("shm_open: {e}")),
    };
    if sender {
        send(&map, timeout)
    } else {
        recv(&map, timeout)
    }
}

/// §5.1 with the grader as creator; then checks what the student's joiner did.
fn create(name: &str, fd: &std::os::fd::OwnedFd, me: u32, timeout: u64) -> Result<Map, String> {
    let deadline = ffi::deadline_after(timeout);
    let total = HEADER as u64 + RING;
    std::fs::File::from(fd.try_clone().map_err(|e| e.to_string())?)
        .set_len(total)
        .map_err(|e| format!("ftruncate: {e}"))?;
    let map = Map::new(fd, total as usize).map_err(|e| format!("mmap: {e}"))?;
    map.u32(OFF_VERSION).store(1, Ordering::Relaxed);
    map.u32(OFF_CREATOR).store(me, Ordering::Relaxed);
    map.u64(OFF_RING).store(RING, Ordering::Relaxed);
    map.u32(OFF_COUNT).store(SLOTS, Ordering::Relaxed);
    map.u32(OFF_SLOT_SIZE)
        .store((RING / u64::from(SLOTS)) as u32, Ordering::Relaxed);
    map.u32(OFF_PID)
        .store(std::process::id(), Ordering::Relaxed);
    let init = |off, v| map.sem_init(off, v).map_err(|e| format!("sem_init: {e}"));
    init(SEM_JOINED, 0)?;
    init(SEM_FILLED, 0)?;
    init(SEM_FREE, SLOTS)?;
    map.u32(OFF_STATE).store(READY, Ordering::Relaxed);
    map.u32(OFF_MAGIC).store(MAGIC, Ordering::Release);
    let joined = map
        .sem_wait_until(SEM_JOINED, &deadline)
        .map_err(|e| format!("sem_timedwait: {e}"))?;
    if !joined {
        let _ = ffi::shm_unlink(name);
        return Err(format!(
            "the student's program did not post `joined` within {timeout} ms of the grader \
             creating {name}"
        ));
    }
    let state = map.u32(OFF_STATE).load(Ordering::Acquire);
    if state != JOINED {
        let _ = ffi::shm_unlink(name);
        return Err(format!(
            "after `joined` was posted, `state` is {state}, expected 2 (JOINED): the joiner \
             sets it with a compare-and-swap READY → JOINED before posting (§5.2 step 4)"
        ));
    }
    if ffi::shm_open(name, OFlag::O_RDWR, Mode::empty()).is_ok() {
        let _ = ffi::shm_unlink(name);
        return Err(format!(
            "{name} still exists after the student's joiner posted `joined`: the joiner \
             removes the name before posting (§5.2 step 5)"
        ));
    }
    Ok(map)
}

/// §5.2 with the grader as joiner: checks every field the student's creator wrote.
fn join(name: &str, fd: &std::os::fd::OwnedFd, student: u32, timeout: u64) -> Result<Map, String> {
    let start = Instant::now();
    let map = loop {
        let size = ffi::size_of(fd).map_err(|e| format!("fstat: {e}"))?;
        if size != 0 {
            let map = Map::new(fd, size as usize).map_err(|e| format!("mmap: {e}"))?;
            if map.u32(OFF_MAGIC).load(Ordering::Acquire) == MAGIC {
                break map;
            }
        }
        if start.elapsed() > Duration::from_millis(timeout) {
            return Err(format!(
                "{name} was not marked initialised (magic 0x4D485350 at offset 0) within \
                 {timeout} ms; its size is {size}"
            ));
        }
        std::thread::sleep(Duration::from_millis(1));
    };
    let mut wrong = Vec::new();
    let ring = map.u64(OFF_RING).load(Ordering::Relaxed);
    let mut field = |what: &str, off: usize, got: u64, want: u64| {
        if got != want {
            wrong.push(format!("{what} (offset {off}) is {got}, expected {want}"));
        }
    };
    let get = |off| u64::from(map.u32(off).load(Ordering::Relaxed));
    field(
        "size of the object",
        0,
        map.len() as u64,
        HEADER as u64 + ring,
    );
    field("version", OFF_VERSION, get(OFF_VERSION), 1);
    field("state", OFF_STATE, get(OFF_STATE), u64::from(READY));
    field("creator", OFF_CREATOR, get(OFF_CREATOR), u64::from(student));
    field("ring_size", OFF_RING, ring, RING);
    field("slot_count", OFF_COUNT, get(OFF_COUNT), u64::from(SLOTS));
    field(
        "slot_size",
        OFF_SLOT_SIZE,
        get(OFF_SLOT_SIZE),
        ring / u64::from(SLOTS),
    );
    for (what, off, want) in [
        ("joined", SEM_JOINED, 0),
        ("filled", SEM_FILLED, 0),
        ("free", SEM_FREE, SLOTS as i32),
    ] {
        match map.sem_value(off) {
            Ok(v) if v == want => {}
            Ok(v) => wrong.push(format!(
                "semaphore `{what}` (offset {off}) has value {v}, expected {want}"
            )),
            Err(e) => wrong.push(format!("semaphore `{what}` (offset {off}): {e}")),
        }
    }
    if get(OFF_PID) == 0 {
        wrong.push(format!("creator_pid (offset {OFF_PID}) is 0"));
    }
    if !wrong.is_empty() {
        return Err(format!(
            "the header of {name} (student's creator, --ring 64K): {}",
            wrong.join("; ")
        ));
    }
    if map
        .u32(OFF_STATE)
        .compare_exchange(READY, JOINED, Ordering::AcqRel, Ordering::Acquire)
        .is_err()
    {
        return Err("state changed from READY while joining".into());
    }
    ffi::shm_unlink(name).map_err(|e| format!("shm_unlink: {e}"))?;
    map.sem_post(SEM_JOINED)
        .map_err(|e| format!("sem_post: {e}"))?;
    Ok(map)
}

fn geometry(map: &Map) -> (usize, usize) {
    let n = map.u32(OFF_COUNT).load(Ordering::Relaxed) as usize;
    let size = map.u32(OFF_SLOT_SIZE).load(Ordering::Relaxed) as usize;
    (n, size)
}

/// §6.1 from stdin.
fn send(map: &Map, timeout: u64) -> Result<(), String> {
    let (n, size) = geometry(map);
    let mut input = std::io::stdin().lock();
    let (mut i, mut pos) = (0usize, 0u64);
    let mut buf = vec![0u8; size];
    loop {
        if !map
            .sem_wait_until(SEM_FREE, &ffi::deadline_after(timeout))
            .map_err(|e| format!("sem_timedwait: {e}"))?
        {
            return Err(format!(
                "the student's receiver freed no slot within {timeout} ms (slot {i}, stream \
                 position {pos})"
            ));
        }
        let mut len = 0;
        let mut end = false;
        while len < size {
            match input.read(&mut buf[len..]) {
                Ok(0) => {
                    end = true;
                    break;
                }
                Ok(k) => len += k,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(format!("{OWN}read stdin: {e}")),
            }
        }
        map.write(HEADER + i * size, &buf[..len]);
        let d = 256 + 16 * i;
        map.u64(d).store(pos, Ordering::Relaxed);
        map.u32(d + 8).store(len as u32, Ordering::Relaxed);
        map.u32(d + 12)
            .store(if end { END } else { 0 }, Ordering::Relaxed);
        map.sem_post(SEM_FILLED)
            .map_err(|e| format!("sem_post: {e}"))?;
        if end {
            return Ok(());
        }
        pos += len as u64;
        i = (i + 1) % n;
    }
}

/// §6.2 to stdout, checking every descriptor the student's sender wrote.
fn recv(map: &Map, timeout: u64) -> Result<(), String> {
    let (n, size) = geometry(map);
    let mut out = std::io::stdout().lock();
    let (mut i, mut expected) = (0usize, 0u64);
    let mut buf = vec![0u8; size];
    loop {
        if !map
            .sem_wait_until(SEM_FILLED, &ffi::deadline_after(timeout))
            .map_err(|e| format!("sem_timedwait: {e}"))?
        {
            return Err(format!(
                "the student's sender filled no slot within {timeout} ms (slot {i}, stream \
                 position {expected})"
            ));
        }
        let d = 256 + 16 * i;
        let offset = map.u64(d).load(Ordering::Relaxed);
        let len = map.u32(d + 8).load(Ordering::Relaxed) as usize;
        let flags = map.u32(d + 12).load(Ordering::Relaxed);
        if offset != expected || len > size || flags & !END != 0 {
            return Err(format!(
                "slot {i} (descriptor at offset {d}) has offset {offset}, len {len}, flags \
                 {flags}; expected offset {expected}, len at most {size}, flags 0 or 1"
            ));
        }
        map.read(HEADER + i * size, &mut buf[..len]);
        out.write_all(&buf[..len])
            .map_err(|e| format!("{OWN}write stdout: {e}"))?;
        map.sem_post(SEM_FREE)
            .map_err(|e| format!("sem_post: {e}"))?;
        if flags & END != 0 {
            return out.flush().map_err(|e| format!("{OWN}write stdout: {e}"));
        }
        expected += len as u64;
        i = (i + 1) % n;
    }
}
