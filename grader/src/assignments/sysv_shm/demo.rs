//! Part 1, `svshm-demo`: a string left in a segment that outlives its writer, overwritten,
//! and the demo's errors.

use std::time::Duration;

use crate::check::ensure;
use crate::check::{Check, Ctx, Failure};
use crate::expect;
use crate::run::{Finished, Spec};

use super::common::{Key, error_run, ipcs, new_key, segment};

/// The checks of this family, in the spec's order.
pub(super) fn checks() -> Vec<Check> {
    let secs = Duration::from_secs;
    vec![
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
    ]
}

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
