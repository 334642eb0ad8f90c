//! `grader doctor`'s limits: those of the IPC namespace grading will use, `/dev/shm` and the
//! resource limits of this shell, against the largest needs the assignments declare (each
//! assignment's `needs.rs`, [`crate::needs`]).

use std::time::Duration;

use super::{Finding, GIB, KIB, Level, MIB, Probe};
use crate::needs::Needs;

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

/// The IPC limits and `/dev/shm` space of `probe` against what the checks need (`needs`: the
/// largest of every assignment's, [`Needs::of_all`]).
pub fn limits(probe: &Probe, needs: &Needs) -> Vec<Finding> {
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
    let segment_pages = needs.segment.amount.div_ceil(page);
    let mut found = vec![
        at_least(
            msgmax,
            needs.message.amount,
            Level::Fail,
            "kernel.msgmax",
            needs.message.why,
            &sysctl("msgmax", 8192.max(needs.message.amount)),
        ),
        at_least(
            n("msgmnb"),
            needs.message.amount.max(msgmax.unwrap_or(0)),
            Level::Fail,
            "kernel.msgmnb",
            "a queue holds one message of msgmax bytes",
            &sysctl("msgmnb", 16384.max(msgmax.unwrap_or(0))),
        ),
        at_least(
            free(n("msgmni"), used.queues),
            needs.queues.amount,
            Level::Fail,
            &format!("queues free under kernel.msgmni ({} in use)", used.queues),
            needs.queues.why,
            clean,
        ),
        at_least(
            n("shmmax"),
            needs.segment.amount,
            Level::Fail,
            "kernel.shmmax",
            needs.segment.why,
            &sysctl("shmmax", needs.segment.amount.next_power_of_two()),
        ),
        at_least(
            free(n("shmall"), used.shm_pages),
            segment_pages,
            Level::Fail,
            &format!("pages free under kernel.shmall ({} in use)", used.shm_pages),
            needs.segment.why,
            clean,
        ),
        at_least(
            free(n("shmmni"), used.segments),
            needs.segments.amount,
            Level::Fail,
            &format!(
                "segments free under kernel.shmmni ({} in use)",
                used.segments
            ),
            needs.segments.why,
            clean,
        ),
        at_least(
            sem.first().copied(),
            needs.sems_per_set.amount,
            Level::Fail,
            "kernel.sem SEMMSL (semaphores per set)",
            needs.sems_per_set.why,
            "sudo sysctl -w kernel.sem='32000 1024000000 500 32000'",
        ),
        at_least(
            free(sem.get(1).copied(), used.sems),
            needs.sems_per_set.amount,
            Level::Fail,
            &format!(
                "semaphores free under kernel.sem SEMMNS ({} in use)",
                used.sems
            ),
            needs.sems_per_set.why,
            clean,
        ),
        at_least(
            free(sem.get(3).copied(), used.sets),
            needs.sets.amount,
            Level::Fail,
            &format!("sets free under kernel.sem SEMMNI ({} in use)", used.sets),
            needs.sets.why,
            clean,
        ),
    ];
    let remount = format!(
        "make room in /dev/shm: make doctor CLEAN=1, or sudo mount -o remount,size={}M /dev/shm",
        (needs.dev_shm_largest.amount + needs.dev_shm.amount).div_ceil(MIB)
    );
    // A tmpfs's size is a cap, not a reservation: its pages come from memory and swap.
    let dev_shm = probe.dev_shm.map(|(size, free)| match probe.memory {
        Some(memory) if memory < free => (size, memory, " (memory and swap available)"),
        _ => (size, free, ""),
    });
    found.push(match dev_shm {
        Some((size, free, memory)) if free < needs.dev_shm.amount => Finding::bad(
            Level::Fail,
            format!(
                "/dev/shm: {} free{memory} of {}, below the {} {} uses",
                bytes(free),
                bytes(size),
                bytes(needs.dev_shm.amount),
                needs.dev_shm.why
            ),
            remount,
        ),
        Some((size, free, memory)) if free < needs.dev_shm_largest.amount => Finding::bad(
            Level::Warn,
            format!(
                "/dev/shm: {} free{memory} of {}: enough for the checks, not for {} ({}, \
                 which its handout allows)",
                bytes(free),
                bytes(size),
                needs.dev_shm_largest.why,
                bytes(needs.dev_shm_largest.amount)
            ),
            remount,
        ),
        Some((size, free, memory)) => Finding::ok(format!(
            "/dev/shm: {} free{memory} of {} (needs {} for the checks, {} for {})",
            bytes(free),
            bytes(size),
            bytes(needs.dev_shm.amount),
            bytes(needs.dev_shm_largest.amount),
            needs.dev_shm_largest.why
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
pub(super) fn rlimits(me: u32, needs: &Needs) -> Vec<Finding> {
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
    let per_check = needs.tasks.amount;
    let room = wanted.processes.saturating_sub(per_check);
    found.push(if tasks <= room {
        Finding::ok(format!(
            "your {tasks} processes and threads leave room for a check's {per_check} under \
             the grader's RLIMIT_NPROC of {}",
            wanted.processes
        ))
    } else {
        Finding::bad(
            Level::Fail,
            format!(
                "you run {tasks} processes and threads: with a check's {per_check} they \
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

#[cfg(test)]
mod tests {
    use super::super::{InUse, exit_status};
    use super::*;
    use crate::needs::Need;

    #[test]
    fn status_gives_the_real_uid_and_threads() {
        let status = "Name:\tcat\nUid:\t1000\t1000\t1000\t1000\nThreads:\t3\n";
        assert_eq!(parse_status(status), Some((1000, 3)));
        assert_eq!(parse_status("Name:\tcat\n"), None);
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
        let found = limits(&defaults(), &crate::assignments::needs_of_all());
        assert_eq!(levels(&found), []);
        assert_eq!(exit_status(&found), 0);
    }

    #[test]
    fn limits_below_the_checks_fail_and_below_the_handout_warn() {
        // Needs of their own, so that the words below do not change with the kit's
        // assignments (what those need of the defaults is the test above).
        let needs = Needs {
            message: Need::new(8040, "msgq's 8000-byte texts"),
            segments: Need::new(2, "msgq's two segments at once"),
            dev_shm: Need::new(
                (256 << 20) + 4096 + (1 << 20),
                "posix-shm's `throughput` check",
            ),
            dev_shm_largest: Need::new(4096 + (1 << 30), "posix-shm's largest ring"),
            ..Needs::default()
        };
        let mut probe = defaults();
        probe.sysctl.insert("msgmax".into(), "4096".into());
        probe.sysctl.insert("shmmni".into(), "10".into());
        probe.in_use.segments = 9;
        probe.dev_shm = Some((2 * GIB, 200 * MIB));
        let found = levels(&limits(&probe, &needs));
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
        let found = levels(&limits(&probe, &needs));
        assert_eq!(found.last().unwrap().0, Level::Warn, "{found:?}");
        // A private 4 GiB /dev/shm on a machine with less memory: the memory counts.
        probe.dev_shm = Some((4 * GIB, 4 * GIB));
        probe.memory = Some(100 * MIB);
        let found = levels(&limits(&probe, &needs));
        assert!(
            found.last().unwrap().1.starts_with(
                "/dev/shm: 100.0 MiB free (memory and swap available) of 4.0 GiB, below"
            ),
            "{found:?}"
        );
    }
}
