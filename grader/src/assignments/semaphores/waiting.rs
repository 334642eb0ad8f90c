//! How the processes wait, across programs: ring members waiting for a late peer use almost
//! no CPU, and the kernel's accounting shows each waiting process asleep on the semaphores the
//! spec names.

use std::time::{Duration, Instant};

use crate::check::{Check, Ctx, Failure};
use crate::leaks::{self, Object, Snapshot};
use crate::run::Finished;
use crate::sys::IpcKind;

use super::common::{
    Procs, SPIN_HINT, STALL, WAIT_HINT, all_ok, fresh_key, fresh_name, lines_match, ms, stall_cpu,
    sysv_added,
};
use super::pingpong::{pingpong_lines, pingpong_spec};
use super::ring::{ring_lines, ring_spec};

/// The checks of this family, in the spec's order.
pub(super) fn checks() -> Vec<Check> {
    let secs = Duration::from_secs;
    vec![
        Check::new(
            "no-spin-ring",
            5,
            "3 ring members waiting 0.4 s for the 4th use < 10 % of a CPU each",
            no_spin_ring,
        )
        .limit(secs(6))
        .lesson("§15")
        .on_timeout(SPIN_HINT),
        Check::new(
            "uses-the-semaphores",
            3,
            "the kernel's accounting shows each waiting process asleep on the semaphores \
             the spec names",
            uses_the_semaphores,
        )
        .limit(secs(10))
        .lesson("§12, §15")
        .on_timeout(WAIT_HINT),
    ]
}

fn no_spin_ring(ctx: &Ctx) -> Result<(), Failure> {
    const K: u16 = 4;
    let before = Snapshot::take();
    let key = fresh_key(ctx)?;
    let mut procs = Procs::new(ctx, "out")?;
    for i in 1..K {
        procs.start(ring_spec(ctx, &key, i, K, 2, None))?;
    }
    // They wait once the set exists and every one of them has been started.
    let ready = crate::procfs::poll_until(Instant::now() + ctx.limit() / 4, || {
        !sysv_added(&before, &[IpcKind::Sem]).is_empty()
            || (0..procs.running.len()).any(|i| procs.exited(i))
    });
    if !ready || (0..procs.running.len()).any(|i| procs.exited(i)) {
        procs.wait_all();
        return Err(Failure::new(
            "processes 1 to 3, started without process 0, did not create the set and wait",
        )
        .commands(procs.commands()));
    }
    std::thread::sleep(STALL);
    procs.start(ring_spec(ctx, &key, 0, K, 2, None))?;
    let runs = procs.wait_all();
    lines_match(&ring_lines(K, 2), &procs.output(), &procs)?;
    all_ok(&runs, &procs)?;
    let waiters: Vec<&Finished> = runs.iter().take(K as usize - 1).collect();
    stall_cpu(
        &waiters,
        &format!(
            "processes 1 to 3, for {} until process 0 started",
            ms(STALL)
        ),
        &procs,
    )
}

/// The semaphores of the spec carry the turns, as the kernel accounts for them (pids as the
/// grader started them). `ping` (ROUNDS 2, once it has written `ping 1`) and `pong` (ROUNDS 1),
/// each started alone: it sleeps in a futex wait and maps both `/dev/shm/sem.NAME-ping` and
/// `-pong` (the same inodes, `/proc/PID/maps`; glibc maps a new semaphore under a temporary name
/// it then links). Ring members 1 and 2 of K = 3, started without process 0: the key's set
/// exists with 3 semaphores and both sleep in `semtimedop`. Then the peers start and the runs
/// complete as specified.
fn uses_the_semaphores(ctx: &Ctx) -> Result<(), Failure> {
    use std::os::unix::fs::MetadataExt;
    let mut seen = Vec::new();
    for (first, rounds) in [("ping", 2), ("pong", 1)] {
        let second = if first == "ping" { "pong" } else { "ping" };
        let name = fresh_name();
        let mut procs = Procs::new(ctx, "out")?;
        let a = procs.start(pingpong_spec(ctx, first, &name, rounds, Some(3000)))?;
        let pid = procs.pid(a);
        let files: Vec<String> = ["ping", "pong"]
            .iter()
            .map(|side| format!("{}/sem.{}-{side}", leaks::DEV_SHM, &name[1..]))
            .collect();
        let inodes = || -> Option<Vec<u64>> {
            files
                .iter()
                .map(|f| std::fs::metadata(f).ok().map(|m| m.ino()))
                .collect()
        };
        let maps_both = |inodes: &[u64]| {
            let maps = crate::procfs::maps(pid);
            inodes
                .iter()
                .all(|i| maps.iter().any(|m| m.shared() && m.inode == *i))
        };
        let mut mapped = false;
        let mut asleep = false;
        let mut slept_in = String::from("no system call (it ran)");
        let ready = crate::procfs::poll_until(Instant::now() + ctx.limit() / 4, || {
            let wrote = first == "pong" || procs.output() == "ping 1\n";
            mapped = inodes().is_some_and(|i| maps_both(&i));
            asleep = crate::procfs::sleeps_in_wait(pid, "futex");
            if let Some(nr) = crate::procfs::syscall(pid) {
                slept_in = crate::procfs::syscall_name(nr);
            }
            (wrote && mapped && asleep) || procs.exited(a)
        });
        if !ready || procs.exited(a) {
            procs.end(a);
            let run = procs.wait(a).clone();
            // Killed by the grader, not left by the program: not a leak of the program's.
            for file in &files {
                let _ = std::fs::remove_file(file);
            }
            let what = if !mapped {
                format!(
                    "does not map both {} and {} (/proc/{pid}/maps)",
                    files[0], files[1]
                )
            } else if !asleep {
                format!(
                    "never slept in a futex wait (the kernel's wait of sem_timedwait); it \
                     waited in {slept_in}"
                )
            } else {
                "exited instead of waiting".to_string()
            };
            return Err(Failure::new(format!(
                "{first}, started alone and waiting for {second}, {what}"
            ))
            .detail(
                "HINT: both processes sem_open NAME-ping and NAME-pong and wait with \
                 sem_timedwait, which sleeps in the kernel (a futex) until the peer posts \
                 (spec §2.2, §2.3).",
            )
            .command(&run));
        }
        seen.push(format!("{first} (pid {pid})"));
        procs.start(pingpong_spec(ctx, second, &name, rounds, Some(3000)))?;
        let runs = procs.wait_all();
        lines_match(&pingpong_lines(rounds), &procs.output(), &procs)?;
        all_ok(&runs, &procs)?;
    }
    // The ring: members 1 and 2 of 3 wait on the set for member 0.
    let key = fresh_key(ctx)?;
    let before = Snapshot::take();
    let mut procs = Procs::new(ctx, "ring")?;
    for i in [1, 2] {
        procs.start(ring_spec(ctx, &key, i, 3, 2, Some(3000)))?;
    }
    let pids = [procs.pid(0), procs.pid(1)];
    let mut set = None;
    let waiting = crate::procfs::poll_until(Instant::now() + ctx.limit() / 4, || {
        set = sysv_added(&before, &[IpcKind::Sem])
            .into_iter()
            .find_map(|o| match o {
                Object::SysV { id, .. } => Some(id),
                _ => None,
            })
            .and_then(|id| {
                crate::procfs::sysvipc("sem")
                    .into_iter()
                    .find(|r| r.num("semid") == i64::from(id))
            });
        (set.is_some()
            && pids
                .iter()
                .all(|&p| crate::procfs::sleeps_in_wait(p, "semtimedop")))
            || procs.exited(0)
            || procs.exited(1)
    });
    let nsems = set.as_ref().map_or(0, |r| r.num("nsems"));
    if !waiting || nsems != 3 || procs.exited(0) || procs.exited(1) {
        let where_ = pids
            .iter()
            .map(|&p| {
                let call = crate::procfs::syscall(p).map(crate::procfs::syscall_name);
                format!(
                    "pid {p} in {}",
                    call.unwrap_or_else(|| "no system call".into())
                )
            })
            .collect::<Vec<_>>()
            .join(", ");
        procs.wait_all();
        return Err(Failure::new(format!(
            "ring members 1 and 2 of 3, started without member 0, did not both sleep in \
             semtimedop on a set of 3 semaphores (set: {nsems} semaphores; {where_})"
        ))
        .detail(
            "HINT: each member waits on its own semaphore of the set of ftok(KEYPATH, 'R') \
             with semtimedop, which sleeps in the kernel until the previous member posts \
             (spec §3).",
        )
        .commands(procs.commands()));
    }
    let semid = set.as_ref().map_or(0, |r| r.num("semid"));
    procs.start(ring_spec(ctx, &key, 0, 3, 2, Some(3000)))?;
    let runs = procs.wait_all();
    lines_match(&ring_lines(3, 2), &procs.output(), &procs)?;
    all_ok(&runs, &procs)?;
    ctx.note(format!(
        "{} slept in futex waits mapping /dev/shm/sem.NAME-ping and -pong; ring members 1 and \
         2 (pids {} and {}) slept in semtimedop on set {semid} of 3 semaphores",
        seen.join(" and "),
        pids[0],
        pids[1]
    ));
    Ok(())
}
