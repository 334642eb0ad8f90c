//! `grader doctor` (`make doctor`): what this machine lacks for grading, and the IPC objects
//! the user left behind in earlier runs — before grading, on the student's own machine.
//!
//! It reports, each as an `OK`, `WARN` or `FAIL` line with a one-line fix: the tools the kit
//! needs, the isolation `make grade` will get, the IPC limits and `/dev/shm` space of the IPC
//! namespace grading will use against what the handouts' checks need, the resource limits of
//! this shell, and the user's own SysV objects and `/dev/shm` entries, each with how long it
//! has been idle and whether a running process still holds it. With `--clean` it removes the
//! stale ones among those — owned by the user, not attached, not mapped or open — after asking;
//! without it, it removes nothing.

use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal, Write};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::{Command, ExitCode};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::isolation::Isolation;
use crate::leaks::{self, DEV_SHM, Object, SysvEntry};
use crate::sys::IpcKind;

const KIB: u64 = 1024;
const MIB: u64 = 1024 * KIB;
const GIB: u64 = 1024 * MIB;

// What the checks need, from the handouts. A check that needs more than the machine allows
// fails for a reason that is not the student's; below a `WARN` threshold only what the
// handout permits beyond the checks is out of reach.

/// The largest message a check sends: `specs/msgq.md`, check `full-queue-no-deadlock`, texts of
/// 8000 bytes after the 40 bytes of header every message text carries (§3). `msgmax` and
/// `msgmnb` must both hold it (and `msgmnb` a message of `msgmax`, which `upper-basic` sends).
pub const MSGQ_LARGEST_MESSAGE: u64 = 40 + 8000;
/// Queues a check holds at once: `specs/msgq.md` §2.1, one queue per server.
pub const MSGQ_QUEUES: u64 = 1;
/// The largest SysV segment a check makes: `specs/sysv-shm.md`, check `transfer-throughput`, a
/// ring of D = 16 MiB after the 4096-byte header (§5.1).
pub const SHM_LARGEST_SEGMENT: u64 = 4096 + 16 * MIB;
/// Segments a check holds at once: `specs/msgq.md`, check `transfer-peer-dies`, the killed
/// client's segment (until the server detaches) beside the next client's.
pub const SHM_SEGMENTS: u64 = 2;
/// Semaphores in the largest set: `specs/semaphores.md`, checks `ring-order` and
/// `ring-race-free-init`, one set of K = 8.
pub const SEMS_PER_SET: u64 = 8;
/// Sets a check holds at once: `specs/semaphores.md` §3.2 and §4, one set.
pub const SEM_SETS: u64 = 1;
/// `/dev/shm` space a check uses: `specs/posix-shm.md`, check `throughput`, a 256 MiB input file
/// in `/dev/shm` and an object of the 4096-byte header and a 1 MiB ring (§4).
pub const DEV_SHM_FOR_CHECKS: u64 = 256 * MIB + 4096 + MIB;
/// The largest object the handout allows: `specs/posix-shm.md` §2.1, `--ring` up to 1G after
/// the 4096-byte header (§4).
pub const DEV_SHM_LARGEST_RING: u64 = 4096 + GIB;
/// Tasks (processes and threads) of the user a check adds: `specs/msgq.md`, check
/// `full-queue-no-deadlock`, 13 processes at once (12 clients and the server), and beside each
/// up to 3 threads of the grader (stdin, stdout, stderr): 52, rounded up.
pub const TASKS_PER_CHECK: u64 = 64;

/// How a finding reads: fine, worth knowing, or in the way of grading.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Ok,
    Warn,
    Fail,
}

impl Level {
    fn word(self) -> &'static str {
        match self {
            Level::Ok => "OK",
            Level::Warn => "WARN",
            Level::Fail => "FAIL",
        }
    }
}

/// One line of the report, and for `WARN` and `FAIL` the line that fixes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub level: Level,
    pub what: String,
    pub fix: Option<String>,
}

impl Finding {
    fn ok(what: impl Into<String>) -> Finding {
        Finding {
            level: Level::Ok,
            what: what.into(),
            fix: None,
        }
    }

    fn bad(level: Level, what: impl Into<String>, fix: impl Into<String>) -> Finding {
        Finding {
            level,
            what: what.into(),
            fix: Some(fix.into()),
        }
    }

    fn print(&self) {
        println!("  {:<5} {}", self.level.word(), self.what);
        if let Some(fix) = &self.fix {
            println!("        fix: {fix}");
        }
    }
}

/// The exit status of a report: 1 if anything failed, else 0.
pub fn exit_status(findings: &[Finding]) -> u8 {
    u8::from(findings.iter().any(|f| f.level == Level::Fail))
}

/// What `grader doctor --probe` sees from inside the isolation `make grade` would get: its
/// description, the IPC limits and what already uses them, and `/dev/shm`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Probe {
    /// [`Isolation::describe`].
    pub isolation: String,
    /// Whether grading gets private IPC and mount namespaces.
    pub namespaces: bool,
    /// `/proc/sys/kernel/{msgmax,msgmnb,msgmni,shmmax,shmall,shmmni,sem}`, as read.
    pub sysctl: BTreeMap<String, String>,
    /// What the objects already there use: queues, segments, pages of segments, sets,
    /// semaphores.
    pub in_use: InUse,
    /// `/dev/shm`: its size and the bytes free (`statvfs`), if it could be read.
    pub dev_shm: Option<(u64, u64)>,
    /// The page size, which `shmall` counts in.
    pub page: u64,
    /// Memory available and swap free (`/proc/meminfo`), where a tmpfs's pages come from.
    pub memory: Option<u64>,
}

/// What the SysV objects of an IPC namespace use of its limits.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InUse {
    pub queues: u64,
    pub segments: u64,
    pub shm_pages: u64,
    pub sets: u64,
    pub sems: u64,
}

impl Probe {
    /// Reads the limits of the IPC namespace this process is in.
    pub fn here(isolation: Isolation) -> Probe {
        let page = nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE)
            .ok()
            .flatten()
            .map_or(4096, |p| p as u64);
        let sysctl = [
            "msgmax", "msgmnb", "msgmni", "shmmax", "shmall", "shmmni", "sem",
        ]
        .iter()
        .filter_map(|name| {
            let text = std::fs::read_to_string(format!("/proc/sys/kernel/{name}")).ok()?;
            Some((name.to_string(), text.trim().to_string()))
        })
        .collect();
        let entries = |kind| leaks::sysv_entries(kind).unwrap_or_default();
        let segments = entries(IpcKind::Shm);
        let sets = entries(IpcKind::Sem);
        let in_use = InUse {
            queues: entries(IpcKind::Msg).len() as u64,
            segments: segments.len() as u64,
            shm_pages: segments.iter().map(|s| s.size.div_ceil(page)).sum(),
            sets: sets.len() as u64,
            sems: sets.iter().map(|s| s.size).sum(),
        };
        let dev_shm = nix::sys::statvfs::statvfs(DEV_SHM).ok().map(|s| {
            let unit = s.fragment_size();
            (s.blocks() * unit, s.blocks_available() * unit)
        });
        Probe {
            isolation: isolation.describe(),
            namespaces: isolation.namespaces,
            sysctl,
            in_use,
            dev_shm,
            page,
            memory: memory_available(),
        }
    }

    /// Asks this program, run as `grader doctor --probe`, which enters the isolation `make
    /// grade` enters and reads the limits there.
    fn ask() -> Result<Probe, String> {
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        let out = Command::new(exe)
            .args(["doctor", "--probe"])
            .output()
            .map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).trim().to_string());
        }
        serde_json::from_slice(&out.stdout).map_err(|e| e.to_string())
    }

    fn number(&self, name: &str) -> Option<u64> {
        self.sysctl.get(name)?.parse().ok()
    }
}

/// `MemAvailable` plus `SwapFree` of `/proc/meminfo`, in bytes.
fn memory_available() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    parse_meminfo(&text)
}

/// `MemAvailable` plus `SwapFree` (0 if absent) of a `/proc/meminfo`, in bytes.
pub fn parse_meminfo(text: &str) -> Option<u64> {
    let kib = |name: &str| -> Option<u64> {
        text.lines()
            .find_map(|l| l.strip_prefix(name))?
            .split_whitespace()
            .next()?
            .parse()
            .ok()
    };
    Some((kib("MemAvailable:")? + kib("SwapFree:").unwrap_or(0)) * KIB)
}

/// `grader doctor --probe`: the [`Probe`] of the isolation this process entered, as JSON.
pub fn print_probe(isolation: Isolation) -> ExitCode {
    println!(
        "{}",
        serde_json::to_string(&Probe::here(isolation)).expect("a probe serialises")
    );
    ExitCode::SUCCESS
}

/// What `grader doctor` is asked to do.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Remove the stale objects listed (after asking).
    pub clean: bool,
    /// Do not ask.
    pub yes: bool,
}

/// `grader doctor`: prints the report, removes stale objects if asked, and returns 0 (every
/// line `OK` or `WARN`), 1 (a `FAIL`) or 2 (`--clean` with nobody to ask).
pub fn run(options: Options) -> ExitCode {
    if options.clean && !options.yes && !std::io::stdin().is_terminal() {
        eprintln!(
            "grader: doctor --clean asks before it removes anything, and there is no terminal \
             to ask on: add --yes (make doctor CLEAN=1 YES=1) to remove without asking"
        );
        return ExitCode::from(2);
    }
    let me = nix::unistd::geteuid().as_raw();
    println!("IPC Lab doctor — user uid {me}\n");
    let mut all = Vec::new();
    let mut section = |title: &str, findings: Vec<Finding>| {
        println!("{title}");
        findings.iter().for_each(Finding::print);
        println!();
        all.extend(findings);
    };

    let probe = Probe::ask();
    let mut tools = tools();
    tools.push(match &probe {
        Ok(p) => isolation(p, me),
        Err(e) => Finding::bad(
            Level::Warn,
            format!("isolation: cannot tell which `make grade` will use ({e})"),
            "build the grader again: cargo build --release -p grader",
        ),
    });
    section("Tools and isolation", tools);
    let probe = probe.unwrap_or_else(|_| Probe::here(Isolation::NONE));
    let title = if probe.namespaces {
        "Limits (of the fresh IPC namespace and private /dev/shm grading will use)"
    } else {
        "Limits (of this machine's IPC namespace and /dev/shm, which grading will use)"
    };
    let mut found = limits(&probe);
    found.extend(rlimits(me));
    section(title, found);

    let (objects, unread) = Held::scan(me);
    let stale: Vec<&Held> = objects.iter().filter(|h| h.in_use.is_none()).collect();
    let mut found: Vec<Finding> = objects.iter().map(Held::finding).collect();
    found.extend(unread);
    if found.is_empty() {
        found.push(Finding::ok(
            "none: no SysV object and no /dev/shm entry of yours",
        ));
    }
    section(&format!("Your IPC objects (owned by uid {me})"), found);

    if options.clean && !stale.is_empty() {
        if !options.yes && !confirm(stale.len()) {
            println!("Nothing removed.");
        } else {
            all.extend(clean(me, &stale));
        }
    } else if options.clean {
        println!("Nothing to remove.");
    } else if !stale.is_empty() {
        println!(
            "Nothing was removed. To remove the {} stale object{} listed: make doctor CLEAN=1 \
             (or: grader doctor --clean)",
            stale.len(),
            if stale.len() == 1 { "" } else { "s" }
        );
    }
    ExitCode::from(exit_status(&all))
}

/// Asks on the terminal whether to remove `n` objects.
fn confirm(n: usize) -> bool {
    print!("Remove the {n} stale object(s) listed above? [y/N] ");
    let _ = std::io::stdout().flush();
    let mut answer = String::new();
    let _ = std::io::stdin().lock().read_line(&mut answer);
    matches!(answer.trim(), "y" | "Y" | "yes" | "Yes")
}

/// Removes the objects of `listed` that are still there and still stale (looked up again
/// just before), printing each.
fn clean(me: u32, listed: &[&Held]) -> Vec<Finding> {
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

// ---------------------------------------------------------------------------------------------
// Tools

/// The oldest Rust the kit builds with: the root `Cargo.toml`'s `rust-version`.
fn rust_version_needed() -> &'static str {
    match env!("CARGO_PKG_RUST_VERSION") {
        "" => "1.95",
        v => v,
    }
}

/// `(major, minor, patch)` of the first word of `text` that starts with a digit: "cargo 1.95.0
/// (f2d3ce0bd 2026-03-21)" gives (1, 95, 0).
pub fn parse_version(text: &str) -> Option<(u32, u32, u32)> {
    let word = text
        .split_whitespace()
        .find(|w| w.starts_with(|c: char| c.is_ascii_digit()))?;
    let mut parts = word.split(['.', '-', '+']).map(|p| p.parse::<u32>().ok());
    let major = parts.next()??;
    let minor = parts.next().flatten().unwrap_or(0);
    let patch = parts.next().flatten().unwrap_or(0);
    Some((major, minor, patch))
}

/// The first line `program ARG` prints, or why it could not run.
fn first_line(program: &str, arg: &str) -> Result<String, String> {
    match Command::new(program).arg(arg).output() {
        Ok(out) if out.status.success() => {
            let text = String::from_utf8_lossy(&out.stdout);
            Ok(text.lines().next().unwrap_or("").trim().to_string())
        }
        Ok(out) => Err(format!("`{program} {arg}` exited with {}", out.status)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err("not found".into()),
        Err(e) => Err(e.to_string()),
    }
}

/// The Rust the kit pins (`rust-toolchain.toml` at the kit's root; `grader/tests/toolchain.rs`
/// keeps the two in step): the toolchain the grader builds submissions with.
pub const PINNED_RUST: &str = "1.95.0";

/// What `doctor` says of a toolchain program's `--version` line: fail below the oldest Rust
/// the kit builds with (`need`), warn below the pinned one (`pin`).
fn toolchain_finding(line: &str, need: &str, pin: &str) -> Finding {
    let fix = format!("install Rust {pin}: rustup toolchain install {pin} (https://rustup.rs)");
    match (parse_version(line), parse_version(need), parse_version(pin)) {
        (Some(have), Some(want), _) if have < want => Finding::bad(
            Level::Fail,
            format!("{line}: the kit needs Rust {need} or later (Cargo.toml)"),
            fix,
        ),
        (Some(have), _, Some(pinned)) if have < pinned => Finding::bad(
            Level::Warn,
            format!(
                "{line}: older than the kit's pinned Rust {pin} (rust-toolchain.toml), which \
                 the grader builds submissions with"
            ),
            fix,
        ),
        (Some(_), _, _) => Finding::ok(format!(
            "{line} (the kit pins {pin} in rust-toolchain.toml, needs {need} or later)"
        )),
        (None, _, _) => Finding::bad(
            Level::Fail,
            format!("{line}: no version in it; the kit needs Rust {need} or later"),
            fix,
        ),
    }
}

fn tools() -> Vec<Finding> {
    let need = rust_version_needed();
    let mut found = Vec::new();
    for program in ["cargo", "rustc"] {
        found.push(match first_line(program, "--version") {
            Ok(line) => toolchain_finding(&line, need, PINNED_RUST),
            Err(e) => Finding::bad(
                Level::Fail,
                format!("{program}: {e}"),
                format!(
                    "install Rust {PINNED_RUST}: rustup toolchain install {PINNED_RUST} \
                     (https://rustup.rs)"
                ),
            ),
        });
    }
    found.push(match first_line("cc", "--version") {
        Ok(line) => Finding::ok(format!(
            "cc: {line} (links the grader and the faults library)"
        )),
        Err(e) => Finding::bad(
            Level::Fail,
            format!("cc: {e}: Rust links every program with the C compiler"),
            "install gcc (Debian/Ubuntu: sudo apt install gcc; Fedora: sudo dnf install gcc)",
        ),
    });
    for program in ["ipcs", "ipcrm"] {
        found.push(match first_line(program, "-V") {
            Ok(line) => Finding::ok(line),
            Err(e) => Finding::bad(
                Level::Warn,
                format!("{program}: {e}: the grader's hints and this report name its commands"),
                "install util-linux (Debian/Ubuntu: sudo apt install util-linux)",
            ),
        });
    }
    found
}

/// Which isolation `make grade` will get, and how to get full isolation if it will not.
fn isolation(probe: &Probe, me: u32) -> Finding {
    let what = format!("make grade will grade in {}", probe.isolation);
    if probe.namespaces {
        Finding::ok(what)
    } else if me != 0 {
        Finding::bad(
            Level::Warn,
            format!("{what}: grade one thing at a time"),
            "for full isolation grade as root: sudo -E env \"PATH=$PATH\" make grade",
        )
    } else {
        Finding::bad(
            Level::Warn,
            format!("{what}: new namespaces are not permitted here; grade one thing at a time"),
            "grade where root may create namespaces (a container needs CAP_SYS_ADMIN)",
        )
    }
}

// ---------------------------------------------------------------------------------------------
// Limits

fn bytes(n: u64) -> String {
    match n {
        n if n >= GIB => format!("{:.1} GiB", n as f64 / GIB as f64),
        n if n >= MIB => format!("{:.1} MiB", n as f64 / MIB as f64),
        n if n >= KIB => format!("{:.1} KiB", n as f64 / KIB as f64),
        n => format!("{n} bytes"),
    }
}

/// One limit against what the checks need: OK, else `level` with the fix.
fn at_least(
    have: Option<u64>,
    need: u64,
    level: Level,
    what: &str,
    why: &str,
    fix: &str,
) -> Finding {
    match have {
        Some(have) if have >= need => {
            Finding::ok(format!("{what} = {have} (needs ≥ {need}: {why})"))
        }
        Some(have) => Finding::bad(
            level,
            format!("{what} = {have}, below {need}: {why}"),
            fix.to_string(),
        ),
        None => Finding::bad(
            Level::Warn,
            format!("{what}: cannot be read"),
            "check that /proc is mounted and SysV IPC is in the kernel (CONFIG_SYSVIPC)",
        ),
    }
}

/// The IPC limits and `/dev/shm` space of `probe` against what the checks need.
pub fn limits(probe: &Probe) -> Vec<Finding> {
    let n = |name| probe.number(name);
    let used = &probe.in_use;
    let free = |limit: Option<u64>, taken: u64| limit.map(|l| l.saturating_sub(taken));
    let clean = "remove your stale objects (make doctor CLEAN=1)";
    let sysctl = |name: &str, value: u64| format!("sudo sysctl -w kernel.{name}={value}");
    let msgmax = n("msgmax");
    let sem: Vec<u64> = probe
        .sysctl
        .get("sem")
        .map(|s| {
            s.split_whitespace()
                .filter_map(|v| v.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    let page = probe.page.max(1);
    let segment_pages = SHM_LARGEST_SEGMENT.div_ceil(page);
    let mut found = vec![
        at_least(
            msgmax,
            MSGQ_LARGEST_MESSAGE,
            Level::Fail,
            "kernel.msgmax",
            "msgq's 8000-byte texts",
            &sysctl("msgmax", 8192),
        ),
        at_least(
            n("msgmnb"),
            MSGQ_LARGEST_MESSAGE.max(msgmax.unwrap_or(0)),
            Level::Fail,
            "kernel.msgmnb",
            "a queue holds one message of msgmax bytes",
            &sysctl("msgmnb", 16384.max(msgmax.unwrap_or(0))),
        ),
        at_least(
            free(n("msgmni"), used.queues),
            MSGQ_QUEUES,
            Level::Fail,
            &format!("queues free under kernel.msgmni ({} in use)", used.queues),
            "msgq's one queue",
            clean,
        ),
        at_least(
            n("shmmax"),
            SHM_LARGEST_SEGMENT,
            Level::Fail,
            "kernel.shmmax",
            "sysv-shm's 16 MiB ring and its header",
            &sysctl("shmmax", SHM_LARGEST_SEGMENT.next_power_of_two()),
        ),
        at_least(
            free(n("shmall"), used.shm_pages),
            segment_pages,
            Level::Fail,
            &format!("pages free under kernel.shmall ({} in use)", used.shm_pages),
            "sysv-shm's 16 MiB ring and its header",
            clean,
        ),
        at_least(
            free(n("shmmni"), used.segments),
            SHM_SEGMENTS,
            Level::Fail,
            &format!(
                "segments free under kernel.shmmni ({} in use)",
                used.segments
            ),
            "msgq's two segments at once",
            clean,
        ),
        at_least(
            sem.first().copied(),
            SEMS_PER_SET,
            Level::Fail,
            "kernel.sem SEMMSL (semaphores per set)",
            "sem-ring's K = 8",
            "sudo sysctl -w kernel.sem='32000 1024000000 500 32000'",
        ),
        at_least(
            free(sem.get(1).copied(), used.sems),
            SEMS_PER_SET,
            Level::Fail,
            &format!(
                "semaphores free under kernel.sem SEMMNS ({} in use)",
                used.sems
            ),
            "sem-ring's K = 8",
            clean,
        ),
        at_least(
            free(sem.get(3).copied(), used.sets),
            SEM_SETS,
            Level::Fail,
            &format!("sets free under kernel.sem SEMMNI ({} in use)", used.sets),
            "semaphores' one set",
            clean,
        ),
    ];
    let remount = format!(
        "make room in /dev/shm: make doctor CLEAN=1, or sudo mount -o remount,size={}M /dev/shm",
        (DEV_SHM_LARGEST_RING + DEV_SHM_FOR_CHECKS).div_ceil(MIB)
    );
    // A tmpfs's size is a cap, not a reservation: its pages come from memory and swap.
    let dev_shm = probe.dev_shm.map(|(size, free)| match probe.memory {
        Some(memory) if memory < free => (size, memory, " (memory and swap available)"),
        _ => (size, free, ""),
    });
    found.push(match dev_shm {
        Some((size, free, memory)) if free < DEV_SHM_FOR_CHECKS => Finding::bad(
            Level::Fail,
            format!(
                "/dev/shm: {} free{memory} of {}, below the {} posix-shm's `throughput` check \
                 uses",
                bytes(free),
                bytes(size),
                bytes(DEV_SHM_FOR_CHECKS)
            ),
            remount,
        ),
        Some((size, free, memory)) if free < DEV_SHM_LARGEST_RING => Finding::bad(
            Level::Warn,
            format!(
                "/dev/shm: {} free{memory} of {}: enough for the checks, not for the 1 GiB \
                 ring specs/posix-shm.md allows",
                bytes(free),
                bytes(size)
            ),
            remount,
        ),
        Some((size, free, memory)) => Finding::ok(format!(
            "/dev/shm: {} free{memory} of {} (needs {} for the checks, {} for posix-shm's \
             largest ring)",
            bytes(free),
            bytes(size),
            bytes(DEV_SHM_FOR_CHECKS),
            bytes(DEV_SHM_LARGEST_RING)
        )),
        None => Finding::bad(
            Level::Fail,
            "/dev/shm: cannot be read: POSIX shared memory and named semaphores live there",
            "mount it: sudo mount -t tmpfs -o mode=1777 tmpfs /dev/shm",
        ),
    });
    found
}

/// `RLIMIT_NPROC` and `RLIMIT_NOFILE` of this shell, which `make grade` inherits: the grader
/// sets both to 256 on every program it starts, which needs hard limits at least as high, and
/// `RLIMIT_NPROC` counts every task of the user — a desktop session may hold most of them.
fn rlimits(me: u32) -> Vec<Finding> {
    use nix::sys::resource::{Resource, getrlimit};
    let wanted = crate::confine::Limits::for_check(Duration::ZERO);
    if me == 0 {
        return vec![Finding::ok(
            "RLIMIT_NPROC, RLIMIT_NOFILE: root may raise them, and RLIMIT_NPROC does not bind root",
        )];
    }
    let mut found = Vec::new();
    for (resource, name, need) in [
        (Resource::RLIMIT_NPROC, "RLIMIT_NPROC", wanted.processes),
        (Resource::RLIMIT_NOFILE, "RLIMIT_NOFILE", wanted.open_files),
    ] {
        let hard = getrlimit(resource).map(|(_, hard)| hard).ok();
        found.push(at_least(
            hard,
            need,
            Level::Fail,
            &format!("{name} hard limit"),
            "the grader sets it to 256 on each program",
            "raise the hard limit (/etc/security/limits.conf), or grade as root",
        ));
    }
    let tasks = user_tasks(me);
    let room = wanted.processes.saturating_sub(TASKS_PER_CHECK);
    found.push(if tasks <= room {
        Finding::ok(format!(
            "your {tasks} processes and threads leave room for a check's {TASKS_PER_CHECK} under \
             the grader's RLIMIT_NPROC of {}",
            wanted.processes
        ))
    } else {
        Finding::bad(
            Level::Fail,
            format!(
                "you run {tasks} processes and threads: with a check's {TASKS_PER_CHECK} they \
                 pass the grader's RLIMIT_NPROC of {}, and forks would fail",
                wanted.processes
            ),
            "grade as root (sudo -E env \"PATH=$PATH\" make grade), or close programs first",
        )
    });
    found
}

/// Tasks (threads) of every process whose real uid is `uid`, as `RLIMIT_NPROC` counts them.
fn user_tasks(uid: u32) -> u64 {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return 0;
    };
    dir.flatten()
        .filter(|e| {
            e.file_name()
                .to_str()
                .is_some_and(|n| n.parse::<u32>().is_ok())
        })
        .filter_map(|e| std::fs::read_to_string(e.path().join("status")).ok())
        .filter_map(|status| parse_status(&status))
        .filter(|&(real, _)| real == uid)
        .map(|(_, threads)| threads)
        .sum()
}

/// The real uid and the thread count of a `/proc/PID/status`.
pub fn parse_status(text: &str) -> Option<(u32, u64)> {
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<u64>().ok())
    };
    Some((u32::try_from(field("Uid:")?).ok()?, field("Threads:")?))
}

// ---------------------------------------------------------------------------------------------
// The user's objects

/// An IPC object of the user: what it is, how long it has been idle, and what holds it if
/// anything does (then it is not stale and never removed).
#[derive(Debug, Clone)]
struct Held {
    object: Object,
    /// A SysV object's uid, or a `/dev/shm` entry's inode: with `object`, what must not have
    /// changed between listing and removing.
    identity: u64,
    about: String,
    in_use: Option<String>,
}

impl Held {
    /// The user's SysV objects and `/dev/shm` entries now, and a `WARN` for each table that
    /// could not be read.
    fn scan(me: u32) -> (Vec<Held>, Vec<Finding>) {
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
            match leaks::sysv_entries(kind) {
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
        (held, unread)
    }

    fn sysv(entry: &SysvEntry, now: i64) -> Held {
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

    fn finding(&self) -> Finding {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compare_by_number() {
        assert_eq!(
            parse_version("cargo 1.95.0 (f2d3ce0bd 2026-03-21)"),
            Some((1, 95, 0))
        );
        assert_eq!(parse_version("rustc 1.100.2-nightly"), Some((1, 100, 2)));
        assert_eq!(parse_version("1.95"), Some((1, 95, 0)));
        assert!(parse_version("1.100.0").unwrap() > parse_version("1.95").unwrap());
        assert_eq!(parse_version("cargo"), None);
    }

    #[test]
    fn toolchains_older_than_the_pin_are_warned_of() {
        let level = |line: &str| toolchain_finding(line, "1.95", "1.95.2").level;
        assert_eq!(level("rustc 1.94.1 (x 2026-01-01)"), Level::Fail);
        assert_eq!(level("rustc 1.95.0 (x 2026-04-14)"), Level::Warn);
        assert_eq!(level("cargo 1.95.2 (x 2026-05-01)"), Level::Ok);
        assert_eq!(level("rustc 1.96.0 (x 2026-06-01)"), Level::Ok);
        assert_eq!(level("rustc nonsense"), Level::Fail);
    }

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
    fn status_gives_the_real_uid_and_threads() {
        let status = "Name:\tcat\nUid:\t1000\t1000\t1000\t1000\nThreads:\t3\n";
        assert_eq!(parse_status(status), Some((1000, 3)));
        assert_eq!(parse_status("Name:\tcat\n"), None);
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

    fn defaults() -> Probe {
        let sysctl = [
            ("msgmax", "8192"),
            ("msgmnb", "16384"),
            ("msgmni", "32000"),
            ("shmmax", "18446744073692774399"),
            ("shmall", "18446744073692774399"),
            ("shmmni", "4096"),
            ("sem", "32000\t1024000000\t500\t32000"),
        ];
        Probe {
            isolation: "namespaces".into(),
            namespaces: true,
            sysctl: sysctl
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            in_use: InUse::default(),
            dev_shm: Some((4 * GIB, 4 * GIB)),
            page: 4096,
            memory: Some(8 * GIB),
        }
    }

    fn levels(found: &[Finding]) -> Vec<(Level, String)> {
        found
            .iter()
            .filter(|f| f.level != Level::Ok)
            .map(|f| (f.level, f.what.clone()))
            .collect()
    }

    #[test]
    fn the_kernel_defaults_meet_every_need() {
        let found = limits(&defaults());
        assert_eq!(levels(&found), []);
        assert_eq!(exit_status(&found), 0);
    }

    #[test]
    fn limits_below_the_checks_fail_and_below_the_handout_warn() {
        let mut probe = defaults();
        probe.sysctl.insert("msgmax".into(), "4096".into());
        probe.sysctl.insert("shmmni".into(), "10".into());
        probe.in_use.segments = 9;
        probe.dev_shm = Some((2 * GIB, 200 * MIB));
        let found = levels(&limits(&probe));
        let words: Vec<&str> = found.iter().map(|(_, w)| w.as_str()).collect();
        assert_eq!(
            words,
            [
                "kernel.msgmax = 4096, below 8040: msgq's 8000-byte texts",
                "segments free under kernel.shmmni (9 in use) = 1, below 2: msgq's two \
                 segments at once",
                "/dev/shm: 200.0 MiB free of 2.0 GiB, below the 257.0 MiB posix-shm's \
                 `throughput` check uses",
            ]
        );
        assert!(found.iter().all(|(level, _)| *level == Level::Fail));
        probe.dev_shm = Some((2 * GIB, 512 * MIB));
        let found = levels(&limits(&probe));
        assert_eq!(found.last().unwrap().0, Level::Warn, "{found:?}");
        // A private 4 GiB /dev/shm on a machine with less memory: the memory counts.
        probe.dev_shm = Some((4 * GIB, 4 * GIB));
        probe.memory = Some(100 * MIB);
        let found = levels(&limits(&probe));
        assert!(
            found.last().unwrap().1.starts_with(
                "/dev/shm: 100.0 MiB free (memory and swap available) of 4.0 GiB, below"
            ),
            "{found:?}"
        );
    }

    #[test]
    fn meminfo_gives_memory_and_swap_available() {
        let text = "MemTotal:  8000 kB\nMemAvailable:  3000 kB\nSwapFree:  1000 kB\n";
        assert_eq!(parse_meminfo(text), Some(4000 * 1024));
        assert_eq!(parse_meminfo("MemAvailable: 5 kB\n"), Some(5 * 1024));
        assert_eq!(parse_meminfo("MemTotal: 5 kB\n"), None);
    }

    #[test]
    fn a_fail_exits_1_and_a_warn_does_not() {
        let warn = Finding::bad(Level::Warn, "w", "f");
        let fail = Finding::bad(Level::Fail, "x", "f");
        assert_eq!(exit_status(&[Finding::ok("a"), warn.clone()]), 0);
        assert_eq!(exit_status(&[warn, fail]), 1);
    }
}
