//! Runtime errors: an entry that existed before, a second sender, a bad `--file` path.

use std::path::Path;
use std::time::Duration;

use crate::check::ensure;
use crate::check::{Check, Ctx, Failure};
use crate::expect;
use crate::leaks::unique_name;
use crate::run::{Input, Output};
use crate::stream::Stream;

use super::T;
use super::common::*;

/// The checks of this family, in the spec's order.
pub(super) fn checks() -> Vec<Check> {
    let secs = Duration::from_secs;
    vec![
        Check::new(
            "existing-object",
            6,
            "foreign, all-zero and empty /dev/shm entries, an existing PATH: exit 1, untouched",
            existing_object,
        )
        .limit(secs(10))
        .lesson("§12"),
        Check::new(
            "same-role",
            3,
            "a second sender on a waiting sender's channel: exit 1 `already has a sender`",
            same_role,
        )
        .limit(secs(10))
        .lesson("§13"),
        Check::new(
            "bad-file-path",
            2,
            "--file in a missing directory, or a directory: exit 1, nothing created",
            bad_file_path,
        )
        .limit(secs(5))
        .lesson("§12"),
    ]
}

/// Makes `path` hold `content` as another run of the same user would have left it: mode 0600
/// (§5.1), owned by the user the programs run as.
fn plant(ctx: &Ctx, path: &Path, content: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    if let Some((uid, gid)) = ctx.user() {
        std::os::unix::fs::fchown(&file, Some(uid), Some(gid))?;
    }
    file.write_all(content)
}

/// Runs `bin` on an entry that existed before, and expects exit 1 with `already exists`, the
/// entry byte for byte as it was, and nothing else new in /dev/shm.
fn refuse_existing(
    ctx: &Ctx,
    bin: &str,
    chan: &Chan,
    content: &[u8],
    timeout: &str,
) -> Result<(), Failure> {
    plant(ctx, &chan.entry, content).map_err(|e| {
        Failure::new(format!(
            "grader: cannot write {}: {e}",
            chan.entry.display()
        ))
    })?;
    let before = crate::procfs::dev_shm_entries();
    let run = ctx.run(ctx.cmd(bin, chan.args(&["--timeout", timeout])))?;
    let after = std::fs::read(&chan.entry).ok();
    let added: Vec<String> = crate::procfs::dev_shm_entries()
        .into_iter()
        .filter(|e| !before.contains(e))
        .collect();
    let _ = std::fs::remove_file(&chan.entry);
    let what = if content.is_empty() {
        "an empty entry".to_string()
    } else if content.iter().all(|&b| b == 0) {
        format!("an all-zero entry of {} bytes", content.len())
    } else {
        format!("an entry holding {} foreign bytes", content.len())
    };
    let hint = "HINT: create with O_CREAT | O_EXCL; a joiner never writes to an object it has \
                not joined (§5.2), and never removes a name that existed before.";
    expect::exit_code(&run, 1).map_err(|f| f.detail(format!("ON: {what}")).detail(hint))?;
    let text = run.stderr.text();
    ensure(
        text.lines().count() == 1
            && text.starts_with(&format!("{bin}: "))
            && text.contains("already exists"),
        || {
            Failure::new(format!(
                "{what}: expected one line `{bin}: … already exists …`"
            ))
            .detail(stderr_of(&run))
            .command(&run)
        },
    )?;
    ensure(after.as_deref() == Some(content), || {
        Failure::new(format!(
            "{what} was {} by {bin}",
            if after.is_none() {
                "removed"
            } else {
                "changed"
            }
        ))
        .command(&run)
        .detail(hint)
    })?;
    ensure(added.is_empty(), || {
        Failure::new(format!("{what}: {bin} left {} behind", added.join(", "))).command(&run)
    })
}

fn existing_object(ctx: &Ctx) -> Result<(), Failure> {
    let foreign: Vec<u8> = b"mine, not a pshm channel\n".repeat(400);
    let zero = vec![0u8; 4096 + 4096];
    for bin in ["pshm-send", "pshm-recv"] {
        refuse_existing(ctx, bin, &Chan::shm(), &foreign, T)?;
        refuse_existing(ctx, bin, &Chan::shm(), &zero, "300")?;
        refuse_existing(ctx, bin, &Chan::shm(), b"", "300")?;
        refuse_existing(ctx, bin, &Chan::file(ctx), &foreign, T)?;
    }
    Ok(())
}

fn same_role(ctx: &Ctx) -> Result<(), Failure> {
    let chan = Chan::shm();
    let len = 3 * 4096 + 7;
    let stream = Stream::new(ctx.seed() ^ 0x5e, len);
    let first = ctx.spawn(
        ctx.cmd(
            "pshm-send",
            chan.args(&["--timeout", "3000", "--ring", "4K"]),
        )
        .stdin(Input::Stream(stream)),
    )?;
    poll_until(ctx.limit() / 4, &[&first], || chan.exists());
    let second = ctx.run(
        ctx.cmd(
            "pshm-send",
            chan.args(&["--timeout", "300", "--ring", "4K"]),
        )
        .stdin(Input::Bytes(b"intruder".to_vec())),
    )?;
    let recv = ctx.spawn(
        ctx.cmd("pshm-recv", chan.args(&["--timeout", T]))
            .stdout(Output::Compare(stream)),
    )?;
    let received = ctx.wait(recv);
    let sent = ctx.wait(first);
    let hint = "HINT: a joiner checks `creator` in the header: the same role as its own is \
                exit 1 `already has a sender` (§5.2 step 3), before it touches `state`.";
    expect::exit_code(&second, 1).map_err(|f| f.detail(hint))?;
    expect::stderr_has(&second, "already has a sender").map_err(|f| f.detail(hint))?;
    ensure(
        sent.code() == Some(0) && received.code() == Some(0) && received.compared == Some(None),
        || {
            Failure::new(
                "after a second sender was refused, the first sender's stream did not reach a \
                 receiver intact",
            )
            .detail(format!("FIRST SENDER {}", stderr_of(&sent)))
            .detail(format!("RECEIVER {}", stderr_of(&received)))
            .command(&sent)
            .command(&received)
            .detail(hint)
        },
    )
}

fn bad_file_path(ctx: &Ctx) -> Result<(), Failure> {
    let missing = ctx.dir().join("no-such-dir").join("chan");
    let dir = ctx.dir().join(unique_name("a-dir"));
    std::fs::create_dir(&dir)
        .map_err(|e| Failure::new(format!("grader: cannot create {}: {e}", dir.display())))?;
    for bin in ["pshm-send", "pshm-recv"] {
        for (path, phrase) in [(&missing, Some("cannot create")), (&dir, None)] {
            let run = ctx.run(ctx.cmd(
                bin,
                [
                    "--timeout".into(),
                    "300".into(),
                    "--file".into(),
                    path.to_string_lossy().into_owned(),
                ],
            ))?;
            expect::exit_code(&run, 1)?;
            expect::stderr_starts(&run, &format!("{bin}: "))?;
            if let Some(p) = phrase {
                expect::stderr_has(&run, p).map_err(|f| {
                    f.detail("HINT: only EEXIST sends the creator on to join (§5.1 step 1).")
                })?;
            }
            let created = missing.parent().is_some_and(|p| p.exists())
                || std::fs::read_dir(&dir).map(|d| d.count()).unwrap_or(0) != 0;
            ensure(!created, || {
                Failure::new(format!("{bin} created something for a bad --file PATH")).command(&run)
            })?;
        }
    }
    Ok(())
}
