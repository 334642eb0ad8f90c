//! Part 2, `svshm-counter`: workers adding under a process-shared mutex in the segment, and a
//! segment already there for the key left untouched.

use std::time::Duration;

use crate::check::ensure;
use crate::check::{Check, Ctx, Failure};
use crate::expect;

use super::shm::{self, Attachment};

use super::common::{error_run, in_case, new_key, segment};

const COUNTER_HINT: &str = "a mutex in shared memory must be initialised with \
PTHREAD_PROCESS_SHARED: a process-private one uses private futexes, whose wake-ups never reach \
the other processes, so a waiting worker sleeps forever (spec §4.3, lesson §14).";

/// The checks of this family, in the spec's order.
pub(super) fn checks() -> Vec<Check> {
    let secs = Duration::from_secs;
    vec![
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
    ]
}

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
        Attachment::attach(id, false)
            .map_err(|e| Failure::new(format!("grader: cannot attach its segment: {e}")))?
            .write(0, &marker)
            .map_err(|e| Failure::new(format!("grader: cannot write its segment: {e}")))?;
        let mut args = key.args();
        args.extend(["2".to_string(), "1000".to_string()]);
        let run = ctx.run(ctx.cmd("svshm-counter", args))?;
        error_run(&run, "svshm-counter", 1)?;
        let after = segment(key.key);
        let contents = after
            .filter(|s| s.id == id)
            .and_then(|_| Attachment::attach(id, true).ok())
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
