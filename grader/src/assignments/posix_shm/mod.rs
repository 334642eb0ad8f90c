//! The `posix-shm` assignment (`specs/posix-shm.md`): `pshm-send` and `pshm-recv` move a byte
//! stream through a POSIX shared-memory object (or a mapped file) holding a ring of slots and
//! three process-shared semaphores (lesson §6, §9, §12–§15).

pub mod needs;
mod ffi;
mod peer;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use crate::check::ensure;
use crate::check::{Assignment, Check, Ctx, Failure, Tool};
use crate::expect;
use crate::leaks::{DEV_SHM, unique_name};
use crate::message;
use crate::run::{Finished, Input, Output, Running};
use crate::stream::Stream;

const KIB: u64 = 1024;
const MIB: u64 = 1024 * 1024;
/// `--timeout` of both sides unless a check says otherwise.
const T: &str = "2000";
const USAGE_SEND: &str = "usage: pshm-send [--ring BYTES] [--timeout MS] (NAME | --file PATH)";
const USAGE_RECV: &str = "usage: pshm-recv [--ring BYTES] [--timeout MS] (NAME | --file PATH)";

/// The assignment and its checks, in the spec's order.
pub fn assignment() -> Assignment {
    let secs = Duration::from_secs;
    Assignment {
        name: "posix-shm",
        title: "POSIX shared memory and memory-mapped files",
        package: "posix-shm",
        binaries: &["pshm-send", "pshm-recv"],
        tools: vec![Tool {
            name: "posix-shm-peer",
            run: peer::main,
        }],
        checks: vec![
            Check::new(
                "transfer-sizes",
                10,
                "0, 1, ring − 1, ring, ring + 1, 3·ring + 7 bytes, rings 4K, 64K, 1M, receiver first",
                transfer_sizes,
            )
            .limit(secs(20))
            .lesson("§6, §12")
            .on_timeout(WAIT_HINT),
            Check::new(
                "either-order",
                5,
                "the same sizes (ring 4K) with the sender first, both at once, and both at once with a slow creator",
                either_order,
            )
            .limit(secs(20))
            .lesson("§13")
            .on_timeout(WAIT_HINT),
            Check::new(
                "large-stream",
                8,
                "1 GiB with the default ring, 16 MiB with a one-page ring, byte for byte",
                large_stream,
            )
            .limit(secs(30))
            .lesson("§9")
            .on_timeout(WAIT_HINT),
            Check::new(
                "file-mode",
                6,
                "`--file PATH`: the sizes with rings 4K and 1M, either order; PATH gone after",
                file_mode,
            )
            .limit(secs(20))
            .lesson("§6, §12")
            .on_timeout(WAIT_HINT),
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
            Check::new(
                "no-leak-success",
                4,
                "the name is gone while the data moves, and after every successful run",
                no_leak_success,
            )
            .limit(secs(20))
            .lesson("§10, §12"),
            Check::new(
                "peer-killed",
                8,
                "SIGKILL one side mid-stream: the other exits 3 `gave up` within T + 1 s",
                peer_killed,
            )
            .limit(secs(10))
            .lesson("§12, §13")
            .on_timeout(BOUND_HINT),
            Check::new(
                "alone",
                4,
                "each program alone, --timeout 300: exit 3 `gave up` in 0.3–1.3 s, name removed",
                alone,
            )
            .limit(secs(5))
            .lesson("§12")
            .on_timeout(BOUND_HINT),
            Check::new(
                "no-busy-wait",
                6,
                "CPU time < 5 % of wall time waiting alone, and while the sender stalls",
                no_busy_wait,
            )
            .limit(secs(10))
            .lesson("§13, §15")
            .on_timeout(BOUND_HINT),
            Check::new(
                "throughput",
                8,
                "256 MiB file → /dev/null, 1 MiB ring: ≥ ⅛ of the grader's memcpy, best of 3",
                throughput,
            )
            .limit(secs(30))
            .lesson("§9"),
            Check::new(
                "bad-names",
                4,
                "`ipclab`, `/`, `/a/b`, `/..`, a 256-byte name: exit 2, `bad name`, usage",
                bad_names,
            )
            .limit(secs(5))
            .lesson("§12"),
            Check::new(
                "bad-options",
                3,
                "missing or doubled operand, unknown option, bad --ring / --timeout: exit 2",
                bad_options,
            )
            .limit(secs(5)),
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
            Check::new(
                "under-load",
                5,
                "transfers and a killed peer with a CPU-bound process on every core",
                under_load,
            )
            .limit(secs(20))
            .lesson("§13")
            .on_timeout(WAIT_HINT),
        ],
    }
}

const WAIT_HINT: &str = "every wait for the peer is a sem_timedwait bounded by --timeout \
(§6.3): a program that never ends usually waits on the wrong semaphore, forgets to post \
`filled`/`free`/`joined`, or misses the END slot (an empty stream is one slot with len 0 and \
END).";
const BOUND_HINT: &str = "a wait for a peer that is gone must end: use sem_timedwait with \
an absolute CLOCK_REALTIME deadline of now + --timeout, never sem_wait (§6.3).";

/// Where one run's channel lives: a fresh shared-memory name or a fresh file path.
#[derive(Clone)]
struct Chan {
    /// The operand words: `NAME`, or `--file PATH`.
    words: Vec<String>,
    /// The file the channel is while it has a name.
    entry: PathBuf,
}

impl Chan {
    fn shm() -> Chan {
        let name = format!("/{}", unique_name("ipclab"));
        Chan {
            entry: Path::new(DEV_SHM).join(&name[1..]),
            words: vec![name],
        }
    }

    fn file(ctx: &Ctx) -> Chan {
        let path = ctx.dir().join(unique_name("chan"));
        Chan {
            words: vec!["--file".into(), path.to_string_lossy().into_owned()],
            entry: path,
        }
    }

    fn args(&self, extra: &[&str]) -> Vec<String> {
        extra
            .iter()
            .map(|s| s.to_string())
            .chain(self.words.iter().cloned())
            .collect()
    }

    fn exists(&self) -> bool {
        self.entry.symlink_metadata().is_ok()
    }
}

/// Polls every millisecond until `what` holds, `running` has exited, or `within` passes.
fn poll_until(within: Duration, running: &[&Running], what: impl Fn() -> bool) -> bool {
    let end = Instant::now() + within;
    loop {
        if what() {
            return true;
        }
        if Instant::now() > end || running.iter().any(|r| r.has_exited()) {
            return what();
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Order {
    ReceiverFirst,
    SenderFirst,
    Together,
    /// Both at once, every `ftruncate` followed by [`CREATOR_DELAY_MS`] of sleep (the
    /// grader's fault library): the joiner finds the object sized but not yet marked.
    TogetherSlowCreator,
}

/// How long the creator is held between `ftruncate` and its mark in `either-order`.
const CREATOR_DELAY_MS: u32 = 200;

/// The stderr block, or a note that it was empty.
fn stderr_of(run: &Finished) -> String {
    format!("STDERR:\n{}", message::block(&run.stderr.text()))
}

/// The two runs as one reproduction recipe.
fn both(first: &Finished, second: &Finished) -> String {
    format!(
        "COMMANDS (in this order, the first in the background):\n    {} &\n    {}",
        first.command, second.command
    )
}

/// Moves `len` generated bytes from `pshm-send` to `pshm-recv` through `chan`, started in
/// `order`, and checks: both exit 0, nothing on stderr, the output is the input, and the
/// channel's name is gone afterwards. `extra` goes on both command lines.
fn transfer(
    ctx: &Ctx,
    chan: &Chan,
    extra: &[&str],
    len: u64,
    order: Order,
) -> Result<(Finished, Finished), Failure> {
    let stream = Stream::new(ctx.seed() ^ len ^ 0x5a, len);
    let args = chan.args(extra);
    let send = || {
        ctx.cmd("pshm-send", args.clone())
            .stdin(Input::Stream(stream))
    };
    let recv = || {
        ctx.cmd("pshm-recv", args.clone())
            .stdout(Output::Compare(stream))
    };
    let (sender, receiver) = match order {
        Order::ReceiverFirst => {
            let r = ctx.spawn(recv())?;
            poll_until(ctx.limit() / 4, &[&r], || chan.exists());
            (ctx.spawn(send())?, r)
        }
        Order::SenderFirst => {
            let s = ctx.spawn(send())?;
            poll_until(ctx.limit() / 4, &[&s], || chan.exists());
            (s, ctx.spawn(recv())?)
        }
        Order::Together => {
            let s = ctx.spawn(send())?;
            (s, ctx.spawn(recv())?)
        }
        Order::TogetherSlowCreator => {
            let slow = |spec: crate::run::Spec| {
                spec.with_faults(crate::faults::Faults::slow_ftruncate(CREATOR_DELAY_MS))
            };
            let s = ctx.spawn(slow(send()))?;
            (s, ctx.spawn(slow(recv()))?)
        }
    };
    let sent = ctx.wait(sender);
    let received = ctx.wait(receiver);
    let (first, second) = match order {
        Order::ReceiverFirst => (&received, &sent),
        _ => (&sent, &received),
    };
    let what = match order {
        Order::TogetherSlowCreator => format!(
            "{len} bytes, {} (both started at once, the creator held {CREATOR_DELAY_MS} ms \
             between ftruncate and its mark)",
            extra.join(" ")
        ),
        _ => format!("{len} bytes, {} ({order:?})", extra.join(" ")),
    };
    for (run, name) in [(&sent, "pshm-send"), (&received, "pshm-recv")] {
        if run.end != crate::run::End::Exited(0) || run.timed_out {
            let failure = Failure::new(format!(
                "{what}: {name} ended with {}, expected exit status 0",
                if run.timed_out {
                    "the time limit".into()
                } else {
                    run.end.to_string()
                }
            ))
            .detail(stderr_of(run))
            .detail(both(first, second));
            return Err(if order == Order::TogetherSlowCreator {
                failure.detail(
                    "HINT: a joiner that finds the object still of size 0, or with `magic` \
                     still 0, waits for the creator's mark, looking again every 1 ms for up to \
                     T (§5.2 step 2): the creator may be descheduled for a while between \
                     ftruncate and its mark.",
                )
            } else {
                failure
            });
        }
    }
    if let Some(Some(mismatch)) = &received.compared {
        return Err(Failure::new(format!("{what}: {mismatch}"))
            .detail("EXPECTED: pshm-recv writes exactly the bytes pshm-send read, in order")
            .detail(both(first, second))
            .detail(
                "HINT: slots are used 0, 1, …, slot_count − 1, 0, … on both sides, the \
                 receiver writes exactly `len` bytes of each, and the END slot may be empty.",
            ));
    }
    for (run, name) in [(&sent, "pshm-send"), (&received, "pshm-recv")] {
        if run.stderr.total != 0 {
            return Err(
                Failure::new(format!("{what}: {name} wrote to stderr on success"))
                    .detail(stderr_of(run))
                    .detail(both(first, second)),
            );
        }
    }
    if chan.exists() {
        return Err(Failure::new(format!(
            "{what}: {} still exists after a successful transfer",
            chan.entry.display()
        ))
        .detail(both(first, second))
        .detail("HINT: the joiner removes the name right after joining (§5.2 step 5, §5.3)."));
    }
    Ok((sent, received))
}

/// The sizes of `transfer-sizes` for a ring of `ring` bytes.
fn sizes(ring: u64) -> [u64; 6] {
    [0, 1, ring - 1, ring, ring + 1, 3 * ring + 7]
}

fn ring_word(ring: u64) -> String {
    if ring.is_multiple_of(MIB) {
        format!("{}M", ring / MIB)
    } else {
        format!("{}K", ring / KIB)
    }
}

fn transfer_sizes(ctx: &Ctx) -> Result<(), Failure> {
    for ring in [4 * KIB, 64 * KIB, MIB] {
        let r = ring_word(ring);
        for len in sizes(ring) {
            transfer(
                ctx,
                &Chan::shm(),
                &["--timeout", T, "--ring", &r],
                len,
                Order::ReceiverFirst,
            )?;
        }
    }
    Ok(())
}

fn either_order(ctx: &Ctx) -> Result<(), Failure> {
    for order in [
        Order::SenderFirst,
        Order::Together,
        Order::TogetherSlowCreator,
    ] {
        for len in sizes(4 * KIB) {
            transfer(
                ctx,
                &Chan::shm(),
                &["--timeout", T, "--ring", "4K"],
                len,
                order,
            )?;
        }
    }
    Ok(())
}

fn large_stream(ctx: &Ctx) -> Result<(), Failure> {
    // 1 GiB through pipes the grader feeds and checks itself with a repeated block: its
    // general stream generator would be the bottleneck.
    let len = 1024 * MIB;
    let block = pattern_block(ctx);
    let chan = Chan::shm();
    let args = chan.args(&["--timeout", T]);
    let grader = |e: nix::Error| Failure::new(format!("grader: pipe: {e}"));
    let flags = nix::fcntl::OFlag::O_CLOEXEC;
    let (in_read, in_write) = nix::unistd::pipe2(flags).map_err(grader)?;
    let (out_read, out_write) = nix::unistd::pipe2(flags).map_err(grader)?;
    let feeder = {
        let block = block.clone();
        std::thread::spawn(move || {
            use std::io::Write;
            let mut f = std::fs::File::from(in_write);
            let mut left = len;
            while left > 0 {
                let n = left.min(PATTERN as u64) as usize;
                if f.write_all(&block[..n]).is_err() {
                    return;
                }
                left -= n as u64;
            }
        })
    };
    let checker =
        std::thread::spawn(move || check_pattern(std::fs::File::from(out_read), &block, len));
    let r = ctx.spawn(
        ctx.cmd("pshm-recv", args.clone())
            .stdout(Output::File(std::fs::File::from(out_write))),
    )?;
    poll_until(ctx.limit() / 4, &[&r], || chan.exists());
    let s = ctx.spawn(
        ctx.cmd("pshm-send", args)
            .stdin(Input::File(std::fs::File::from(in_read))),
    )?;
    let (sent, received) = (ctx.wait(s), ctx.wait(r));
    let _ = feeder.join();
    let compared = checker
        .join()
        .unwrap_or_else(|_| Err("grader: the checker failed".into()));
    expect::exit_code(&sent, 0)?;
    expect::exit_code(&received, 0)?;
    if let Err(m) = compared {
        return Err(Failure::new(format!("1 GiB, default ring: {m}"))
            .detail("EXPECTED: pshm-recv writes exactly the bytes pshm-send read, in order")
            .detail(both(&received, &sent))
            .detail(
                "HINT: positions and lengths are 64- and 32-bit fields (§4.2); keep slot \
                 indices and stream positions apart.",
            ));
    }
    transfer(
        ctx,
        &Chan::shm(),
        &["--timeout", T, "--ring", "4K"],
        16 * MIB,
        Order::ReceiverFirst,
    )?;
    Ok(())
}

/// The generated block a pattern stream repeats.
fn pattern_block(ctx: &Ctx) -> Vec<u8> {
    use std::io::Read;
    let mut block = vec![0u8; PATTERN];
    let _ = Stream::new(ctx.seed() ^ 0x9a77, PATTERN as u64)
        .reader()
        .read_exact(&mut block);
    block
}

/// Reads `input` to its end and compares it with `len` bytes of `block` repeated.
fn check_pattern(mut input: std::fs::File, block: &[u8], len: u64) -> Result<(), String> {
    use std::io::Read;
    let mut buf = vec![0u8; 1 << 20];
    let mut at = 0u64;
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(format!("grader: read: {e}")),
        };
        let mut done = 0;
        while done < n {
            if at >= len {
                return Err(format!("output is longer than the {len} bytes sent"));
            }
            let k = (at % PATTERN as u64) as usize;
            let take = (n - done).min(PATTERN - k).min((len - at) as usize);
            let (want, got) = (&block[k..k + take], &buf[done..done + take]);
            if want != got {
                let i = want.iter().zip(got).position(|(x, y)| x != y).unwrap_or(0);
                return Err(format!(
                    "output differs at byte {}: expected {:#04x}, got {:#04x}",
                    at + i as u64,
                    want[i],
                    got[i]
                ));
            }
            done += take;
            at += take as u64;
        }
    }
    if at != len {
        return Err(format!("output is {at} bytes, expected {len}"));
    }
    Ok(())
}

/// Length of the block a pattern file repeats: a little over 1 MiB and no multiple of any
/// slot size, so that a slot written twice or skipped shows.
const PATTERN: usize = (MIB as usize) + 4093;

/// A tmpfs file of `len` bytes: a generated block of [`PATTERN`] bytes, repeated.
fn pattern_file(ctx: &Ctx, len: u64) -> Result<crate::probe::TempFile, Failure> {
    use std::io::{Read, Write};
    let file = crate::probe::TempFile(Path::new(DEV_SHM).join(unique_name("ipclab-input")));
    let mut block = vec![0u8; PATTERN];
    let _ = Stream::new(ctx.seed() ^ 0x9a77, PATTERN as u64)
        .reader()
        .read_exact(&mut block);
    let grader = |e: std::io::Error| Failure::new(format!("grader: the input file: {e}"));
    let mut f = std::io::BufWriter::with_capacity(
        4 * MIB as usize,
        std::fs::File::create(&file.0).map_err(grader)?,
    );
    let mut left = len;
    while left > 0 {
        let n = left.min(PATTERN as u64) as usize;
        f.write_all(&block[..n]).map_err(grader)?;
        left -= n as u64;
    }
    f.flush().map_err(grader)?;
    Ok(file)
}

fn file_mode(ctx: &Ctx) -> Result<(), Failure> {
    for ring in [4 * KIB, MIB] {
        let r = ring_word(ring);
        for (i, len) in sizes(ring).into_iter().enumerate() {
            let order = if i % 2 == 0 {
                Order::ReceiverFirst
            } else {
                Order::SenderFirst
            };
            transfer(
                ctx,
                &Chan::file(ctx),
                &["--timeout", T, "--ring", &r],
                len,
                order,
            )?;
        }
    }
    Ok(())
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
                .detail(both(&a, &b))
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
            .detail(both(&a, &b)));
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
/// mid-stream (the sender waits for more input): `/dev/shm/NAME` existed with 4096 + ring bytes,
/// and both processes the grader started map that one object shared (`/proc/PID/maps`, same
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
            .detail(both_commands(&sent, &received)));
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

/// The commands of a sender and a receiver, for a failure's details.
fn both_commands(sent: &Finished, received: &Finished) -> String {
    format!("COMMANDS:\n    {}\n    {}", sent.command, received.command)
}

fn no_leak_success(ctx: &Ctx) -> Result<(), Failure> {
    // The name must be gone while a long transfer is still running: watch it mid-way.
    for (chan, extra) in [
        (Chan::shm(), ["--timeout", T, "--ring", "4K"]),
        (Chan::file(ctx), ["--timeout", T, "--ring", "4K"]),
    ] {
        let len = 8 * MIB;
        let stream = Stream::new(ctx.seed() ^ 0x1eaf, len);
        let args = chan.args(&extra);
        let r = ctx.spawn(
            ctx.cmd("pshm-recv", args.clone())
                .stdout(Output::Compare(stream)),
        )?;
        poll_until(ctx.limit() / 4, &[&r], || chan.exists());
        let s = ctx.spawn(ctx.cmd("pshm-send", args).stdin(Input::Stream(stream)))?;
        let gone = poll_until(ctx.limit() / 4, &[&r, &s], || !chan.exists());
        let still_running = !r.has_exited() && !s.has_exited();
        let (received, sent) = (ctx.wait(r), ctx.wait(s));
        if !(gone && still_running) {
            return Err(Failure::new(format!(
                "{} was still there while the data moved (it must go as soon as both sides \
                 have it mapped)",
                chan.entry.display()
            ))
            .detail(both(&received, &sent))
            .detail(
                "HINT: the joiner removes the name right after joining, before any data moves \
                 (§5.2 step 5): from then on nothing is left if either side dies.",
            ));
        }
        expect::exit_code(&sent, 0)?;
        expect::exit_code(&received, 0)?;
        expect::stream_matched(&received)?;
    }
    // And after short runs in either order, shm and file.
    for order in [Order::ReceiverFirst, Order::SenderFirst] {
        transfer(ctx, &Chan::shm(), &["--timeout", T], 1000, order)?;
        transfer(ctx, &Chan::file(ctx), &["--timeout", T], 1000, order)?;
    }
    Ok(())
}

/// Starts a transfer of an endless stream, kills `victim` once the receiver has written
/// 1 MiB, and checks that the survivor exits 3 with `gave up` within `timeout` + 1 s.
fn kill_one(ctx: &Ctx, kill_sender: bool, timeout_ms: u64) -> Result<(), Failure> {
    let chan = Chan::shm();
    let t = timeout_ms.to_string();
    let args = chan.args(&["--timeout", &t, "--ring", "64K"]);
    let out_path = ctx.dir().join(unique_name("out"));
    let out = std::fs::File::create(&out_path)
        .map_err(|e| Failure::new(format!("grader: cannot create {}: {e}", out_path.display())))?;
    let stream = Stream::new(ctx.seed() ^ 0xdead, 1 << 40);
    let r = ctx.spawn(ctx.cmd("pshm-recv", args.clone()).stdout(Output::File(out)))?;
    poll_until(ctx.limit() / 4, &[&r], || chan.exists());
    let s = ctx.spawn(ctx.cmd("pshm-send", args).stdin(Input::Stream(stream)))?;
    let size = || std::fs::metadata(&out_path).map(|m| m.len()).unwrap_or(0);
    let moving = poll_until(ctx.limit() / 4, &[&r, &s], || size() >= MIB);
    let (mut victim, survivor) = if kill_sender { (s, r) } else { (r, s) };
    let killed_at = Instant::now();
    victim.signal_group(Signal::SIGKILL);
    let victim = ctx.wait(victim);
    let survived = ctx.wait(survivor);
    let took = killed_at.elapsed();
    let _ = std::fs::remove_file(&out_path);
    let (vname, sname) = if kill_sender {
        ("pshm-send", "pshm-recv")
    } else {
        ("pshm-recv", "pshm-send")
    };
    let recipe = format!(
        "COMMANDS:\n    {} &\n    {} &\n    # once data flows: kill -9 the {vname}",
        if kill_sender { &survived } else { &victim }.command,
        if kill_sender { &victim } else { &survived }.command
    );
    if !moving {
        return Err(Failure::new(format!(
            "no data reached pshm-recv's stdout (1 MiB) before {vname} was to be killed"
        ))
        .detail(stderr_of(&survived))
        .detail(recipe));
    }
    let bound = Duration::from_millis(timeout_ms) + Duration::from_secs(1).mul_f64(ctx.scale());
    if survived.code() != Some(3) || !survived.stderr.text().contains("gave up") || took > bound {
        return Err(Failure::new(format!(
            "after {vname} was killed, {sname} ended with {} after {:.2} s; expected exit \
             status 3 with `gave up` within {:.1} s (--timeout {timeout_ms} + 1 s)",
            survived.end,
            took.as_secs_f64(),
            bound.as_secs_f64()
        ))
        .detail(stderr_of(&survived))
        .detail(recipe)
        .detail(
            "HINT: a dead peer never posts again: every sem_timedwait ends at its deadline and \
             the program exits 3 (§6.3).",
        ));
    }
    if chan.exists() {
        return Err(Failure::new(format!(
            "{} is left in /dev/shm after {vname} was killed mid-stream",
            chan.entry.display()
        ))
        .detail(recipe)
        .detail("HINT: the joiner removes the name before any data moves (§5.3)."));
    }
    Ok(())
}

fn peer_killed(ctx: &Ctx) -> Result<(), Failure> {
    kill_one(ctx, true, 500)?;
    kill_one(ctx, false, 500)
}

fn alone(ctx: &Ctx) -> Result<(), Failure> {
    let runs: Vec<(Chan, Running)> = ["pshm-send", "pshm-recv"]
        .into_iter()
        .map(|bin| {
            let chan = Chan::shm();
            let spec = ctx.cmd(bin, chan.args(&["--timeout", "300"]));
            ctx.spawn(spec).map(|r| (chan, r))
        })
        .collect::<Result<_, _>>()?;
    for (chan, running) in runs {
        let run = ctx.wait(running);
        let (lo, hi) = (
            Duration::from_millis(300),
            Duration::from_millis(300) + Duration::from_secs(1).mul_f64(ctx.scale()),
        );
        expect::exit_code(&run, 3)?;
        expect::stderr_has(&run, "gave up")?;
        ensure(run.wall >= lo && run.wall <= hi, || {
            Failure::new(format!(
                "gave up after {:.2} s, expected 0.3 to {:.1} s (--timeout 300)",
                run.wall.as_secs_f64(),
                hi.as_secs_f64()
            ))
            .command(&run)
            .detail("HINT: the creator waits on `joined` with sem_timedwait, now + T (§5.1).")
        })?;
        ensure(!chan.exists(), || {
            Failure::new(format!(
                "{} is still there after the program gave up",
                chan.entry.display()
            ))
            .command(&run)
            .detail(
                "HINT: a creator that gives up withdraws (state READY → ABANDONED) and \
                 removes the name it created (§5.1 step 5).",
            )
        })?;
    }
    Ok(())
}

/// CPU over wall time of a finished run, as a fraction.
fn cpu_share(run: &Finished) -> f64 {
    run.cpu.as_secs_f64() / run.wall.as_secs_f64().max(1e-3)
}

fn no_busy_wait(ctx: &Ctx) -> Result<(), Failure> {
    let limit = 0.05 * ctx.scale();
    // A program alone, and a receiver whose sender stalls on a silent stdin, at the same time.
    let lone_chan = Chan::shm();
    let lone = ctx.spawn(ctx.cmd("pshm-recv", lone_chan.args(&["--timeout", "1000"])))?;
    let chan = Chan::shm();
    let args = chan.args(&["--timeout", "3000", "--ring", "64K"]);
    let r = ctx.spawn(
        ctx.cmd("pshm-recv", args.clone())
            .stdout(Output::Compare(Stream::new(7, 5))),
    )?;
    poll_until(ctx.limit() / 4, &[&r], || chan.exists());
    let mut s = ctx.spawn(ctx.cmd("pshm-send", args).stdin(Input::Held))?;
    // Let the meeting happen, then stall the sender 1 s before it sends anything.
    poll_until(ctx.limit() / 4, &[&r, &s], || !chan.exists());
    let stalled = Instant::now();
    let mut stdin_ok = true;
    while stalled.elapsed() < Duration::from_millis(1000) {
        if r.has_exited() || s.has_exited() {
            stdin_ok = false;
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    if let Some(pipe) = s.stdin() {
        use std::io::Write;
        let mut bytes = vec![0u8; 5];
        let _ = std::io::Read::read_exact(&mut Stream::new(7, 5).reader(), &mut bytes);
        stdin_ok &= pipe.write_all(&bytes).is_ok();
    }
    s.close_stdin();
    let lone = ctx.wait(lone);
    let sent = ctx.wait(s);
    let received = ctx.wait(r);
    expect::exit_code(&lone, 3)?;
    ensure(cpu_share(&lone) < limit, || {
        Failure::new(format!(
            "pshm-recv waiting alone for a sender used {:.0} % of a CPU ({:.3} s CPU in {:.2} s), \
             allowed {:.0} %",
            100.0 * cpu_share(&lone),
            lone.cpu.as_secs_f64(),
            lone.wall.as_secs_f64(),
            100.0 * limit
        ))
        .command(&lone)
        .detail("HINT: wait in sem_timedwait, never in a loop that checks a value (§6.3).")
    })?;
    ensure(stdin_ok, || {
        Failure::new("a side ended while the sender's stdin was silent for 1 s (--timeout 3000)")
            .detail(stderr_of(&received))
            .detail(both(&received, &sent))
    })?;
    expect::exit_code(&sent, 0)?;
    expect::exit_code(&received, 0)?;
    expect::stream_matched(&received)?;
    ensure(cpu_share(&received) < limit, || {
        Failure::new(format!(
            "pshm-recv used {:.0} % of a CPU ({:.3} s CPU in {:.2} s) while the sender stalled \
             for 1 s, allowed {:.0} %",
            100.0 * cpu_share(&received),
            received.cpu.as_secs_f64(),
            received.wall.as_secs_f64(),
            100.0 * limit
        ))
        .detail(both(&received, &sent))
        .detail("HINT: wait for `filled` in sem_timedwait, never spin on sem_trywait (§6.3).")
    })
}

fn throughput(ctx: &Ctx) -> Result<(), Failure> {
    const ROUNDS: usize = 3;
    let len = 256 * MIB;
    // The input lives in tmpfs (the grader's /dev/shm), so reading it costs one copy.
    let input = pattern_file(ctx, len)?;
    let mut best = Duration::MAX;
    let mut probe: f64 = 0.0;
    let mut last = None;
    for _ in 0..ROUNDS {
        probe = probe.max(crate::probe::memcpy_bandwidth());
        let chan = Chan::shm();
        let args = chan.args(&["--timeout", T, "--ring", "1M"]);
        let file = std::fs::File::open(&input.0)
            .map_err(|e| Failure::new(format!("grader: cannot open the input file: {e}")))?;
        let null = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/null")
            .map_err(|e| Failure::new(format!("grader: /dev/null: {e}")))?;
        let r = ctx.spawn(
            ctx.cmd("pshm-recv", args.clone())
                .stdout(Output::File(null)),
        )?;
        poll_until(ctx.limit() / 4, &[&r], || chan.exists());
        let s = ctx.spawn(ctx.cmd("pshm-send", args).stdin(Input::File(file)))?;
        let sent = ctx.wait(s);
        let received = ctx.wait(r);
        expect::exit_code(&sent, 0)?;
        expect::exit_code(&received, 0)?;
        best = best.min(sent.wall);
        last = Some((received, sent));
    }
    let rate = len as f64 / best.as_secs_f64().max(1e-9);
    let bound = 0.125 / ctx.scale();
    let gbs = |r: f64| r / 1e9;
    ensure(rate >= bound * probe, || {
        let (r, s) = last.expect("at least one round ran");
        Failure::new(format!(
            "256 MiB moved at {:.2} GB/s, {:.0} % of the grader's memcpy ({:.2} GB/s); \
             at least {:.0} % expected",
            gbs(rate),
            100.0 * rate / probe,
            gbs(probe),
            100.0 * bound
        ))
        .detail(format!(
            "MEASURED (best of {ROUNDS}): transfer {:.2} GB/s, memcpy {:.2} GB/s",
            gbs(rate),
            gbs(probe)
        ))
        .detail(both(&r, &s))
        .detail(
            "HINT: read stdin straight into the slot and write stdout straight from it, in \
             whole slots; no heap buffer, no small reads, no mapping per round (§6, lesson §9).",
        )
    })?;
    ctx.note(format!(
        "256 MiB moved at {:.2} GB/s, {:.0} % of the grader's memcpy (at least {:.0} %)",
        gbs(rate),
        100.0 * rate / probe,
        100.0 * bound
    ));
    Ok(())
}

/// Runs `bin args` and expects exit 2, a first line `bin: …PHRASE…`, the usage line, nothing
/// on stdout and nothing new in /dev/shm.
fn usage_error(ctx: &Ctx, bin: &str, args: &[String], phrase: &str) -> Result<(), Failure> {
    let before = crate::procfs::dev_shm_entries();
    let run = ctx.run(ctx.cmd(bin, args.to_vec()))?;
    expect::exit_code(&run, 2)?;
    expect::stdout_empty(&run)?;
    let text = run.stderr.text();
    let lines: Vec<&str> = text.lines().collect();
    let usage = if bin == "pshm-send" {
        USAGE_SEND
    } else {
        USAGE_RECV
    };
    let ok = lines.len() == 2
        && lines[0].starts_with(&format!("{bin}: "))
        && lines[0].contains(phrase)
        && lines[1] == usage;
    ensure(ok, || {
        Failure::new(format!(
            "expected two lines on stderr: `{bin}: …{phrase}…` then the usage line"
        ))
        .detail(format!(
            "EXPECTED STDERR:\n{}",
            message::block(&format!("{bin}: …{phrase}…\n{usage}\n"))
        ))
        .detail(stderr_of(&run))
        .command(&run)
    })?;
    let added: Vec<String> = crate::procfs::dev_shm_entries()
        .into_iter()
        .filter(|e| !before.contains(e))
        .collect();
    ensure(added.is_empty(), || {
        Failure::new(format!(
            "a malformed command line created {} in /dev/shm",
            added.join(", ")
        ))
        .command(&run)
        .detail("HINT: check the whole command line before any system call (§2.3, §3.1).")
    })
}

fn bad_names(ctx: &Ctx) -> Result<(), Failure> {
    let long = format!("/{}", "n".repeat(255));
    for bin in ["pshm-send", "pshm-recv"] {
        for name in ["ipclab", "/", "/a/b", "/..", long.as_str()] {
            usage_error(
                ctx,
                bin,
                &["--timeout".into(), "300".into(), name.into()],
                "bad name",
            )?;
        }
    }
    // 254 bytes after the slash is the longest good name: it must not be refused as bad.
    let longest = format!(
        "/{}",
        unique_name("x")
            .chars()
            .chain(std::iter::repeat('n'))
            .take(254)
            .collect::<String>()
    );
    let run = ctx.run(ctx.cmd("pshm-send", ["--timeout", "50", &longest]))?;
    ensure(run.code() == Some(3), || {
        Failure::new(
            "a name of \"/\" and 254 bytes is good: alone, pshm-send should give up (exit 3)",
        )
        .detail(stderr_of(&run))
        .command(&run)
    })
}

fn bad_options(ctx: &Ctx) -> Result<(), Failure> {
    let chan = Chan::shm();
    let name = chan.words[0].as_str();
    let w = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<String>>();
    let cases: Vec<(Vec<String>, &str)> = vec![
        (w(&[]), ""),
        (w(&[name, "--file", "x"]), ""),
        (w(&["--x", name]), "--x"),
        (w(&[name, "extra"]), ""),
        (w(&["--ring", "1000", name]), "bad ring size"),
        (w(&["--ring", "2G", name]), "bad ring size"),
        (w(&["--ring", "0", name]), "bad ring size"),
        (w(&["--timeout", "0", name]), "bad timeout"),
        (w(&["--timeout", "3600001", name]), "bad timeout"),
        (w(&["--timeout", "1s", name]), "bad timeout"),
        (w(&[name, "--ring"]), "--ring"),
        (w(&[name, "--timeout"]), "--timeout"),
        (w(&["--file"]), "--file"),
    ];
    for bin in ["pshm-send", "pshm-recv"] {
        // Options after the operand, sizes in either case: a good command line, alone.
        let good = Chan::shm();
        let run = ctx.run(ctx.cmd(bin, good.args(&["--ring", "64k", "--timeout", "50"])))?;
        ensure(run.code() == Some(3), || {
            Failure::new(format!(
                "a good command line was not accepted: alone, {bin} should give up (exit 3), \
                 got {}",
                run.end
            ))
            .detail(stderr_of(&run))
            .command(&run)
        })?;
        for (args, phrase) in &cases {
            usage_error(ctx, bin, args, phrase)?;
        }
    }
    Ok(())
}

/// Runs `bin` on an entry that existed before, and expects exit 1 with `already exists`, the
/// entry byte for byte as it was, and nothing else new in /dev/shm.
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
            .detail(format!(
                "COMMANDS:\n    {} &\n    {}\n    {}",
                sent.command, second.command, received.command
            ))
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

fn under_load(ctx: &Ctx) -> Result<(), Failure> {
    let cpus = nix::sched::CpuSet::count().min(
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
    );
    let mut hogs = Vec::new();
    for cpu in 0..cpus {
        hogs.push(ctx.spawn(ctx.program("sh", ["-c", "while :; do :; done"]).on_cpu(cpu))?);
    }
    let result = (|| {
        for ring in [4 * KIB, MIB] {
            let r = ring_word(ring);
            for len in [0, ring + 1, 3 * ring + 7] {
                transfer(
                    ctx,
                    &Chan::shm(),
                    &["--timeout", T, "--ring", &r],
                    len,
                    Order::ReceiverFirst,
                )?;
            }
        }
        kill_one(ctx, true, 500)
    })();
    for mut hog in hogs {
        hog.signal_group(Signal::SIGKILL);
        ctx.wait(hog);
    }
    result
}
