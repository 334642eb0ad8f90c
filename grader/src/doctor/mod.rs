//! `grader doctor` (`make doctor`): what this machine lacks for grading, and the IPC objects
//! the user left behind in earlier runs — before grading, on the student's own machine.
//!
//! It reports, each as an `OK`, `WARN` or `FAIL` line with a one-line fix: the tools the kit
//! needs, the isolation `make grade` will get, the IPC limits and `/dev/shm` space of the IPC
//! namespace grading will use against what the handouts' checks need, the resource limits of
//! this shell, and the user's own SysV objects and `/dev/shm` entries, each with how long it
//! has been idle and whether a running process still holds it. With `--clean` it removes the
//! stale ones among those — owned by the user, not attached, not mapped or open — after asking;
//! without it, it removes nothing.//
//! One file per concern: [`tools`] (the toolchain, `cc`, util-linux, the isolation), [`limits`]
//! (the IPC limits, `/dev/shm` and resource limits against what the assignments declare they
//! need: each assignment's `needs.rs`, [`crate::needs`]) and [`objects`] (the user's objects,
//! and `--clean`).

mod limits;
mod objects;
mod tools;

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::process::{Command, ExitCode};

use serde::{Deserialize, Serialize};

use crate::ipc::DEV_SHM;
use crate::isolation::Isolation;
use crate::sys::IpcKind;

pub use limits::{limits, parse_status};
pub use objects::{dev_shm_name, idle, maps_path};
pub use tools::{PINNED_RUST, parse_version};

use objects::Held;

const KIB: u64 = 1024;
const MIB: u64 = 1024 * KIB;
const GIB: u64 = 1024 * MIB;

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
        let entries = |kind| crate::ipc::sysvipc::entries(kind).unwrap_or_default();
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
    let mut tools = tools::tools();
    tools.push(match &probe {
        Ok(p) => tools::isolation(p, me),
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
    let needs = crate::assignments::needs_of_all();
    let mut found = limits(&probe, &needs);
    found.extend(limits::rlimits(me, &needs));
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
        if !options.yes && !objects::confirm(stale.len()) {
            println!("Nothing removed.");
        } else {
            all.extend(objects::clean(me, &stale));
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

#[cfg(test)]
mod tests {
    use super::*;

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
