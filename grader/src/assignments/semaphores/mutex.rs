//! Part 3, `sem-mutex`: a counter in a SysV segment guarded by a binary semaphore taken and
//! given back with `SEM_UNDO`: exact under contention, released when its holder dies, and
//! both objects removed by `finish`.

use std::time::{Duration, Instant};

use crate::check::ensure;
use crate::check::{Check, Ctx, Failure};
use crate::expect;
use crate::leaks::{Object, Snapshot};
use crate::run::{Finished, Spec};
use crate::sys::IpcKind;

use super::common::{Procs, all_ok, describe, fresh_key, gave_up, sysv_added};
use super::probe;

const UNDO_HINT: &str = "take and give back with SEM_UNDO so that the kernel releases the \
semaphore of a process that dies holding it (spec §4.3).";

/// The checks of this family, in the spec's order.
pub(super) fn checks() -> Vec<Check> {
    let secs = Duration::from_secs;
    vec![
        Check::new(
            "mutex-exact",
            10,
            "init, 4 × add 25000 at once, finish prints 100000",
            mutex_exact,
        )
        .limit(secs(15))
        .lesson("§13, §15"),
        Check::new(
            "mutex-sem-undo",
            10,
            "the holder killed while holding: the blocked adds complete, finish prints 2000",
            mutex_sem_undo,
        )
        .limit(secs(8))
        .lesson("§15")
        .on_timeout(UNDO_HINT),
        Check::new(
            "mutex-cleanup",
            5,
            "finish removes set and segment, also when it gives up; init/add errors exit 1",
            mutex_cleanup,
        )
        .limit(secs(6))
        .lesson("§11, §18"),
    ]
}

fn mutex_spec(ctx: &Ctx, args: &[&str]) -> Spec {
    ctx.cmd("sem-mutex", args.iter().map(|a| a.to_string()))
}

/// Runs `sem-mutex ARGS` alone and returns it.
fn mutex_run(ctx: &Ctx, args: &[&str]) -> Result<Finished, Failure> {
    ctx.run(mutex_spec(ctx, args))
}

fn mutex_init(ctx: &Ctx, key: &str) -> Result<(), Failure> {
    let run = mutex_run(ctx, &["init", key])?;
    expect::exit_code(&run, 0)?;
    expect::stdout_empty(&run)
}

fn mutex_finish(ctx: &Ctx, key: &str, expected: u64, what: &str) -> Result<(), Failure> {
    let run = mutex_run(ctx, &["finish", key])?;
    expect::exit_code(&run, 0)?;
    expect::stdout_is(&run, format!("{expected}\n").as_bytes())
        .map_err(|f| f.detail(format!("HINT: {what}")))
}

/// The set and segment `init` makes for `key` (`ftok(KEYPATH, 'M')`, spec §4.1) live until
/// `finish` removes them. When a check fails after a successful `init`, the grader removes
/// what is still there of that key before it reports the failure: the check returned before
/// its `finish` (or after a `finish` already judged wrong), so those objects are not counted
/// as the program's leak on top of the failure. Whether `finish` removes both is what
/// `mutex-cleanup` judges, on its own runs; what a failing `init` leaves stays counted. A
/// failure to remove is said in the failure's details.
fn removing_on_failure<T>(key: &str, result: Result<T, Failure>) -> Result<T, Failure> {
    let Err(failure) = result else {
        return result;
    };
    let mine = match probe::ftok(key, b'M') {
        Ok(k) => i64::from(k),
        Err(e) => {
            return Err(failure.detail(format!(
                "(the grader could not remove the set and segment of this KEYPATH: ftok: {e})"
            )));
        }
    };
    let mut failure = failure;
    for object in Snapshot::take().objects() {
        if let Object::SysV {
            kind: IpcKind::Sem | IpcKind::Shm,
            key,
            ..
        } = object
            && *key == mine
            && let Err(e) = object.remove()
        {
            failure = failure.detail(format!("(the grader could not remove {object}: {e})"));
        }
    }
    Err(failure)
}

fn mutex_exact(ctx: &Ctx) -> Result<(), Failure> {
    let key = fresh_key(ctx)?;
    mutex_init(ctx, &key)?;
    removing_on_failure(&key, mutex_exact_on(ctx, &key))
}

/// mutex-exact once `init` has succeeded.
fn mutex_exact_on(ctx: &Ctx, key: &str) -> Result<(), Failure> {
    let mut procs = Procs::new(ctx, "out")?;
    for _ in 0..4 {
        procs.start(mutex_spec(ctx, &["add", key, "25000"]))?;
    }
    let runs = procs.wait_all();
    all_ok(&runs, &procs)?;
    // Every take/give pair carries SEM_UNDO (spec §4.3): once the adds have exited, nobody
    // holds the semaphore and nothing is left to undo, so it is back at init's 1.
    let value = probe::sysv_value(key, b'M', 0);
    ensure(matches!(value, Ok(1)), || {
        Failure::new(format!(
            "after the 4 adds exited the semaphore of ftok(KEYPATH, 'M') was {}, expected 1",
            match &value {
                Ok(v) => v.to_string(),
                Err(e) => format!("unreadable ({e})"),
            }
        ))
        .detail(
            "HINT: take (-1) and give back (+1) both with SEM_UNDO, so that the kernel's \
             adjustment for the process is 0 again after each pair; with SEM_UNDO on the take \
             only, each add that exits adds TIMES to the semaphore (spec §4.3).",
        )
        .commands(procs.commands())
    })?;
    mutex_finish(
        ctx,
        key,
        100_000,
        "4 × add 25000 ran at once: every increment must happen with the semaphore taken, \
         and the semaphore must start at 1 (one holder at a time).",
    )
}

fn mutex_sem_undo(ctx: &Ctx) -> Result<(), Failure> {
    let key = fresh_key(ctx)?;
    mutex_init(ctx, &key)?;
    removing_on_failure(&key, mutex_sem_undo_on(ctx, &key))
}

/// mutex-sem-undo once `init` has succeeded.
fn mutex_sem_undo_on(ctx: &Ctx, key: &str) -> Result<(), Failure> {
    let mut procs = Procs::new(ctx, "out")?;
    let holder = procs.start(mutex_spec(ctx, &["add", key, "5", "--hold-ms", "60000"]))?;
    let holding = crate::procfs::poll_until(Instant::now() + ctx.limit() / 4, || {
        procs.output() == "holding\n" || procs.exited(holder)
    });
    if !holding || procs.exited(holder) {
        procs.end(holder);
        let run = procs.wait(holder).clone();
        return Err(Failure::new(format!(
            "`add --hold-ms` did not print exactly \"holding\\n\" and wait (output: {:?})",
            procs.output()
        ))
        .command(&run));
    }
    let a = procs.start(mutex_spec(
        ctx,
        &["add", key, "1000", "--timeout-ms", "2000"],
    ))?;
    let b = procs.start(mutex_spec(
        ctx,
        &["add", key, "1000", "--timeout-ms", "2000"],
    ))?;
    // Let both reach their wait (asleep in the kernel) before the holder dies.
    crate::procfs::poll_until(Instant::now() + Duration::from_millis(500), || {
        [a, b]
            .iter()
            .all(|&i| procs.exited(i) || crate::procfs::state(procs.pid(i)) == Some('S'))
    });
    procs.kill(holder);
    procs.wait(holder);
    for i in [a, b] {
        let run = procs.wait(i).clone();
        expect::exit_code(&run, 0).map_err(|f| {
            f.detail(
                "(this add was waiting while the holder, `add --hold-ms`, was killed with \
                 SIGKILL)",
            )
            .detail(format!("HINT: {UNDO_HINT}"))
            .commands(procs.commands())
        })?;
    }
    mutex_finish(
        ctx,
        key,
        2000,
        "the killed holder had not incremented; the two adds of 1000 had to complete.",
    )
}

fn mutex_cleanup(ctx: &Ctx) -> Result<(), Failure> {
    let kinds = [IpcKind::Sem, IpcKind::Shm];
    let before = Snapshot::take();
    let key = fresh_key(ctx)?;
    mutex_init(ctx, &key)?;
    let run = removing_on_failure(&key, init_twice(ctx, &key))?;
    let left = describe(&sysv_added(&before, &kinds));
    ensure(left.is_empty(), || {
        Failure::new("finish left SysV objects behind")
            .detail(format!("LEFT BEHIND:\n    {}", left.join("\n    ")))
            .command(&run)
    })?;
    // finish gives up while a holder keeps the semaphore: it must still remove both.
    let key = fresh_key(ctx)?;
    mutex_init(ctx, &key)?;
    let mut procs = Procs::new(ctx, "out")?;
    let holder = procs.start(mutex_spec(ctx, &["add", &key, "1", "--hold-ms", "60000"]))?;
    crate::procfs::poll_until(Instant::now() + ctx.limit() / 4, || {
        procs.output() == "holding\n" || procs.exited(holder)
    });
    let fin = procs.start(mutex_spec(ctx, &["finish", &key, "--timeout-ms", "200"]))?;
    let run = procs.wait(fin).clone();
    procs.end(holder);
    procs.wait(holder);
    gave_up(&run, 3, "sem-mutex")
        .map_err(|f| f.detail("(finish while another add held the semaphore)"))?;
    let left = describe(&sysv_added(&before, &kinds));
    ensure(left.is_empty(), || {
        Failure::new("finish gave up (exit 3) but left SysV objects behind")
            .detail(format!("LEFT BEHIND:\n    {}", left.join("\n    ")))
            .command(&run)
            .detail(
                "HINT: finish removes the set and the segment also when it gives up (spec §4.4).",
            )
    })?;
    // add and finish before init.
    let key = fresh_key(ctx)?;
    for args in [
        vec!["add", key.as_str(), "1", "--timeout-ms", "200"],
        vec!["finish", key.as_str(), "--timeout-ms", "200"],
    ] {
        let run = mutex_run(ctx, &args)?;
        gave_up(&run, 1, "sem-mutex").map_err(|f| f.detail("(no init was run for this key)"))?;
    }
    Ok(())
}

/// mutex-cleanup's first part once `init` has succeeded: add 10, init again (exit 1, and what
/// exists is left alone: finish still prints 10); the second init's run.
fn init_twice(ctx: &Ctx, key: &str) -> Result<Finished, Failure> {
    let run = mutex_run(ctx, &["add", key, "10"])?;
    expect::exit_code(&run, 0)?;
    let run = mutex_run(ctx, &["init", key])?;
    gave_up(&run, 1, "sem-mutex")
        .map_err(|f| f.detail("(init on a key whose set and segment exist)"))?;
    mutex_finish(
        ctx,
        key,
        10,
        "a second init must fail and leave the existing objects alone",
    )?;
    Ok(run)
}
