//! How the stream moves: the grader's own side of §4–§6 against the student's, and the
//! kernel's accounting of the object.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::check::{Check, Ctx, Failure};
use crate::expect;
use crate::leaks::DEV_SHM;
use crate::run::{Input, Output};
use crate::stream::Stream;

use super::common::*;
use super::peer;
use super::{KIB, MIB, T};

/// The checks of this family, in the spec's order.
pub(super) fn checks() -> Vec<Check> {
    let secs = Duration::from_secs;
    vec![
        Check::new(
            "layout",
            8,
            "the grader's own sender and receiver (§4–§6) against yours, either order",
            layout,
        )
        .limit(secs(20))
        .lesson("§6, §14")
        .on_timeout(WAIT_HINT),
        Check::new(
            "uses-the-object",
            3,
            "the kernel's accounting shows the shared-memory object, not a file or a pipe, \
             carried the stream",
            uses_the_object,
        )
        .limit(secs(15))
        .lesson("§6, §12")
        .on_timeout(WAIT_HINT),
    ]
}

fn layout(ctx: &Ctx) -> Result<(), Failure> {
    let len = 3 * 64 * KIB + 7;
    let stream = Stream::new(ctx.seed() ^ 0x1a7, len);
    for (student, grader_first) in [
        ("pshm-recv", false),
        ("pshm-recv", true),
        ("pshm-send", false),
        ("pshm-send", true),
    ] {
        let chan = Chan::shm();
        let name = chan.words[0].clone();
        let student_sends = student == "pshm-send";
        let tool_role = if student_sends { "recv" } else { "send" };
        let mine = ctx
            .cmd(student, chan.args(&["--timeout", T, "--ring", "64K"]))
            .stdin(if student_sends {
                Input::Stream(stream)
            } else {
                Input::Null
            })
            .stdout(if student_sends {
                Output::Capture
            } else {
                Output::Compare(stream)
            });
        let theirs = ctx
            .tool("posix-shm-peer", [tool_role, &name, T])
            .stdin(if student_sends {
                Input::Null
            } else {
                Input::Stream(stream)
            })
            .stdout(if student_sends {
                Output::Compare(stream)
            } else {
                Output::Capture
            });
        let (a, b) = if grader_first {
            let t = ctx.spawn(theirs)?;
            poll_until(ctx.limit() / 4, &[&t], || chan.exists());
            (t, ctx.spawn(mine)?)
        } else {
            let s = ctx.spawn(mine)?;
            poll_until(ctx.limit() / 4, &[&s], || chan.exists());
            if s.has_exited() {
                let run = ctx.wait(s);
                return Err(Failure::new(format!(
                    "{student} ended with {} before any peer started, expected it to wait",
                    run.end
                ))
                .detail(stderr_of(&run))
                .command(&run));
            }
            (s, ctx.spawn(theirs)?)
        };
        let (a, b) = (ctx.wait(a), ctx.wait(b));
        let (tool_run, student_run) = if grader_first { (&a, &b) } else { (&b, &a) };
        let who = format!(
            "your {student} against the grader's {}, {} first",
            if student_sends { "receiver" } else { "sender" },
            if grader_first { "the grader" } else { "yours" }
        );
        let fail = |reason: String| {
            Failure::new(reason)
                .detail(format!("GRADER'S SIDE {}", stderr_of(tool_run)))
                .detail(format!("YOUR SIDE {}", stderr_of(student_run)))
                .command(&a).command(&b)
                .detail(
                    "HINT: the grader's side follows §4–§6 to the byte: header fields at \
                     their offsets, magic stored last, 4 slots, state READY → JOINED, the \
                     joiner removes the name before posting `joined`.",
                )
        };
        if tool_run.code() == Some(i32::from(peer::OWN_FAILURE)) {
            return Err(Failure::grader(format!(
                "{who}: the grader's own side failed: {}",
                tool_run.stderr.text().lines().next().unwrap_or("")
            ))
            .command(&a).command(&b));
        }
        if tool_run.code() != Some(0) {
            let first = tool_run
                .stderr
                .text()
                .lines()
                .next()
                .unwrap_or("")
                .to_string();
            return Err(fail(format!("{who}: {first}")));
        }
        if student_run.code() != Some(0) {
            return Err(fail(format!(
                "{who}: yours ended with {}, expected exit status 0",
                student_run.end
            )));
        }
        let receiver = if student_sends { tool_run } else { student_run };
        if let Some(Some(m)) = &receiver.compared {
            return Err(fail(format!("{who}: {m}")));
        }
    }
    Ok(())
}

/// The object of `NAME` carries the stream, as the kernel accounts for it. First, paused
/// mid-stream (the sender waits for more input, the receiver has written out the 1000 bytes it
/// was given): `/dev/shm/NAME` existed with 4096 + ring bytes, and both processes the grader started map that one object shared (`/proc/PID/maps`, same
/// inode, once unlinked too) and share no other file. Then, for a 4 MiB stream, the sender's
/// `write` calls and the receiver's `read` calls move less than a quarter of it
/// (`/proc/PID/io`): the bytes went through the mapping, not a file or a pipe.
fn uses_the_object(ctx: &Ctx) -> Result<(), Failure> {
    let chan = Chan::shm();
    let ring = 64 * KIB;
    let args = chan.args(&["--ring", "64K"]);
    let k = 1000usize;
    let data = {
        use std::io::Read;
        let mut v = vec![0u8; k];
        let _ = Stream::new(ctx.seed() ^ 0x0b1, k as u64)
            .reader()
            .read_exact(&mut v);
        v
    };
    let recv = ctx.spawn(ctx.cmd("pshm-recv", args.clone()))?;
    let mut size = None;
    crate::procfs::poll_for(ctx.limit() / 4, || {
        // Created empty by shm_open, then sized by ftruncate: wait for the size.
        size = chan.entry.metadata().ok().map(|m| m.len()).or(size);
        size == Some(4096 + ring) || recv.has_exited()
    });
    let mut send = ctx.spawn(ctx.cmd("pshm-send", args.clone()).stdin(Input::Held))?;
    let (rpid, spid) = (recv.pid(), send.pid());
    if let Some(pipe) = send.stdin() {
        use std::io::Write;
        let _ = pipe.write_all(&data);
    }
    let object = |pid: i32| {
        crate::procfs::maps(pid)
            .into_iter()
            .find(|m| m.shared() && Path::new(m.file()) == chan.entry)
    };
    // Both map the object, and the sender sleeps in `read` again: the bytes already in its
    // stdin pipe are in whatever holds its slots, which is mapped by now.
    let both = poll_until(ctx.limit() / 4, &[&recv, &send], || {
        matches!((object(rpid), object(spid)), (Some(a), Some(b)) if a.inode == b.inode)
            && crate::procfs::sleeps_in_call(spid, libc::SYS_read)
    });
    // The receiver having written the bytes out has taken them from wherever the slots are, so
    // it maps them by now too, even if it maps them only once it wakes with data.
    if both {
        poll_until(ctx.limit() / 4, &[&recv, &send], || {
            crate::procfs::io(rpid).is_some_and(|io| io.written >= k as u64)
        });
    }
    let (rmaps, smaps) = (crate::procfs::maps(rpid), crate::procfs::maps(spid));
    let (rmap, smap) = (object(rpid), object(spid));
    send.close_stdin();
    let sent = ctx.wait(send);
    let received = ctx.wait(recv);
    let name = &chan.words[0];
    let mut problems = Vec::new();
    match size {
        None => problems.push(format!(
            "{} never existed while the receiver waited for its sender",
            chan.entry.display()
        )),
        Some(n) if n != 4096 + ring => problems.push(format!(
            "{} has {n} bytes, expected 4096 + {ring}",
            chan.entry.display()
        )),
        Some(_) => {}
    }
    for (who, pid, map) in [("receiver", rpid, &rmap), ("sender", spid, &smap)] {
        if map.is_none() {
            problems.push(format!(
                "the {who} (pid {pid}) does not map {} shared (/proc/{pid}/maps)",
                chan.entry.display()
            ));
        }
    }
    if !both && rmap.is_some() && smap.is_some() {
        problems.push(format!(
            "sender and receiver map two different objects named {name}"
        ));
    }
    let entry = chan.entry.to_string_lossy().into_owned();
    let others: Vec<String> = crate::procfs::shared_in_common(&rmaps, &smaps)
        .into_iter()
        .filter(|f| *f != entry)
        .collect();
    if !others.is_empty() {
        problems.push(format!(
            "sender and receiver also share {}: the ring must be in the object",
            others.join(", ")
        ));
    }
    if let Some(first) = problems.first() {
        return Err(Failure::new(first.clone())
            .detail(format!("ALL PROBLEMS:\n    {}", problems.join("\n    ")))
            .detail(
                "HINT: shm_open(NAME) makes /dev/shm/NAME; both sides mmap it MAP_SHARED, and \
                 the sender reads stdin straight into a slot, the receiver writes stdout \
                 straight from one (§5, §6).",
            )
            .command(&sent).command(&received));
    }
    expect::exit_code(&sent, 0)?;
    expect::exit_code(&received, 0)?;
    expect::stdout_is(&received, &data)?;
    // A stream far larger than the ring: how many bytes each side moved through system calls.
    let chan = Chan::shm();
    let args = chan.args(&["--ring", "64K"]);
    let len = 4 * MIB + 5;
    let stream = Stream::new(ctx.seed() ^ 0x0b2, len);
    let recv = ctx.spawn(
        ctx.cmd("pshm-recv", args.clone())
            .stdout(Output::Compare(stream)),
    )?;
    poll_until(ctx.limit() / 4, &[&recv], || chan.exists());
    let send = ctx.spawn(ctx.cmd("pshm-send", args).stdin(Input::Stream(stream)))?;
    let deadline = Instant::now() + ctx.limit() / 2;
    let sio = send.io_at_exit(deadline);
    let rio = recv.io_at_exit(deadline);
    let sent = ctx.wait(send);
    let received = ctx.wait(recv);
    expect::stream_matched(&received)?;
    expect::exit_code(&received, 0)?;
    expect::exit_code(&sent, 0)?;
    let (Some(sio), Some(rio)) = (sio, rio) else {
        return Err(Failure::new("the sender or the receiver did not end").command(&sent));
    };
    expect::carried_by_memory(
        len,
        (sio, rio),
        ("sender", "receiver"),
        "object",
        "the sender reads stdin into the slots and the receiver writes the slots to stdout; \
         nothing else is read or written (§6).",
        &sent,
    )?;
    let inode = rmap.map(|m| m.inode).unwrap_or_default();
    ctx.note(format!(
        "{} ({} bytes, inode {inode}) mapped shared by receiver pid {rpid} and sender pid \
         {spid}; of a {len}-byte stream the sender wrote {} bytes, the receiver read {}",
        chan_display(name),
        4096 + ring,
        sio.written,
        rio.read
    ));
    Ok(())
}

/// `/dev/shm/NAME` for `/NAME`.
fn chan_display(name: &str) -> String {
    format!("{DEV_SHM}{name}")
}
