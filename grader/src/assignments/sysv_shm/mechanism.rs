//! How the transfer works, as the grader sees it from outside: the header of spec §5.2 read
//! while a transfer is paused, and the kernel's accounting showing the segment carried it.

use std::io::Write;
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use crate::check::{Check, Ctx, Failure};
use crate::expect;
use crate::run::{Input, Output};
use crate::stream::Stream;

use super::common::{
    HEADER, MIB, READY, TRANSFER_HINT, any_exited, ipcs, look, new_key, proc_stat, stream_bytes,
};
use super::transfer::{side, wait_segment};

/// The checks of this family, in the spec's order.
pub(super) fn checks() -> Vec<Check> {
    let secs = Duration::from_secs;
    vec![
        Check::new(
            "transfer-layout",
            4,
            "the header of §5.2, read by the grader while a transfer is paused",
            transfer_layout,
        )
        .limit(secs(10))
        .lesson("§14, §19, §21"),
        Check::new(
            "transfer-uses-segment",
            3,
            "the kernel's accounting shows the segment, not a file or a pipe, carried the stream",
            transfer_uses_segment,
        )
        .limit(secs(15))
        .lesson("§6, §21")
        .on_timeout(TRANSFER_HINT),
    ]
}

/// `pthread_mutex_t`'s `__kind` word in x86-64 glibc's layout: 16 bytes into the mutex, so at
/// offset 40 + 16 of the header (spec §5.2). The bits glibc sets there from the attributes.
const MUTEX_KIND: usize = 40 + 16;

const KIND_ROBUST: u32 = 0x10;

const KIND_PSHARED: u32 = 0x80;

/// A DATA_SIZE that is not a power of two: `written & (D − 1)` is then not `written mod D`.
const ODD_RING: u64 = 100_000;

/// The header of spec §5.2, read through a read-only attachment of the grader's own while the
/// transfer is paused: first with 1000 bytes in the ring and the consumer stopped, then once
/// the consumer has written D + 1500 bytes and waits for more, every byte of the ring where
/// "byte i of the stream is at ring offset i mod DATA_SIZE" puts it (D = 100,000, not a power
/// of two).
fn transfer_layout(ctx: &Ctx) -> Result<(), Failure> {
    let key = new_key(ctx)?;
    let d = ODD_RING;
    let k = 1000usize;
    let total = d + 1500;
    let input = Stream::new(ctx.seed() ^ 0x1a, total);
    let all = stream_bytes(&input, total as usize);
    let data = &all[..k];
    let mut cons =
        ctx.spawn(side(ctx, "svshm-consumer", &key, d, &[]).stdout(Output::Compare(input)))?;
    let mut prod = ctx.spawn(side(ctx, "svshm-producer", &key, d, &[]).stdin(Input::Held))?;
    let (cpid, ppid) = (cons.pid(), prod.pid());
    // The pids the programs know themselves by (in a PID namespace, not the grader's).
    let own = |pid| crate::procfs::own_pid(pid).unwrap_or(pid);
    let (c_own, p_own) = (own(cpid), own(ppid));
    // Both joined: both flag bits set (seen through a read-only attachment of our own).
    let joined = crate::procfs::poll_for(ctx.limit() / 4, || {
        look(&key).is_some_and(|(_, m)| m.u32_at(0) == READY && m.u32_at(4) & 3 == 3)
            || any_exited(&[&cons, &prod])
    });
    ctx.signal(&mut cons, Signal::SIGSTOP);
    let stopped = crate::procfs::poll_for(ctx.limit() / 4, || {
        proc_stat(cpid).is_none_or(|(s, _)| s == 'T' || s == 'Z')
    });
    if let Some(pipe) = prod.stdin() {
        let _ = pipe.write_all(data);
    }
    let filled = crate::procfs::poll_for(ctx.limit() / 4, || {
        look(&key).is_some_and(|(_, m)| m.u64_at(16) == k as u64) || prod.has_exited()
    });
    let seen = look(&key).map(|(seg, m)| {
        (
            seg,
            m.u32_at(0),
            m.u32_at(4),
            m.u64_at(8),
            m.u64_at(16),
            m.u64_at(24),
            m.u32_at(32) as i32,
            m.u32_at(36) as i32,
            m.u32_at(MUTEX_KIND),
            m.read(4096, k),
        )
    });
    ctx.signal(&mut cons, Signal::SIGCONT);
    // The rest of the stream, which wraps round the ring; then the consumer has written it all
    // and both wait (the producer for input, the consumer for data): the ring holds the last
    // D bytes of the stream, byte i at offset i mod D.
    // More than a pipe holds: written by a thread of its own with a copy of the pipe's write
    // end, so that a producer that stops reading cannot block the check (its end closes when
    // the producer's group is ended).
    if let Some(pipe) = prod
        .stdin()
        .and_then(|p| p.as_fd().try_clone_to_owned().ok())
    {
        let rest = all[k..].to_vec();
        std::thread::spawn(move || {
            let _ = std::fs::File::from(pipe).write_all(&rest);
        });
    }
    let drained = crate::procfs::poll_for(ctx.limit() / 4, || {
        look(&key).is_some_and(|(_, m)| m.u64_at(16) == total && m.u64_at(24) == total)
            || any_exited(&[&cons, &prod])
    });
    let ring_after = look(&key).map(|(_, m)| m.read(HEADER as usize, d as usize));
    prod.close_stdin();
    let prod = ctx.wait(prod);
    let cons = ctx.wait(cons);
    let Some((seg, ready, flags, data_size, written, read, p_pid, c_pid, kind, ring)) = seen else {
        return Err(Failure::new(format!(
            "no segment with key {:#010x} while producer and consumer were running",
            key.key
        ))
        .detail(format!("SEGMENTS:\n{}", ipcs()))
        .command(&cons));
    };
    let mut problems = Vec::new();
    let mut want = |ok: bool, what: String| {
        if !ok {
            problems.push(what);
        }
    };
    want(
        seg.size == HEADER + d,
        format!(
            "segment size {} (expected 4096 + {d} = {})",
            seg.size,
            HEADER + d
        ),
    );
    want(
        ready == READY,
        format!("ready {ready:#010x} (expected 0x314d4853)"),
    );
    want(
        flags & 3 == 3 && joined,
        format!("flags {flags:#x} (expected bits 0 and 1, both joined)"),
    );
    want(
        data_size == d,
        format!("data_size {data_size} (expected {d})"),
    );
    want(
        written == k as u64 && filled,
        format!("written {written} (expected {k}: the producer's input so far)"),
    );
    want(
        read == 0 || !stopped,
        format!("read {read} (expected 0: the consumer was stopped)"),
    );
    want(
        p_pid == p_own,
        format!("producer_pid {p_pid} (expected {p_own})"),
    );
    want(
        c_pid == c_own,
        format!("consumer_pid {c_pid} (expected {c_own})"),
    );
    want(
        kind & KIND_ROBUST != 0,
        format!(
            "mutex not robust: glibc's __kind word of the mutex (offset {MUTEX_KIND}) is \
             {kind:#x}, without PTHREAD_MUTEX_ROBUST's bit {KIND_ROBUST:#x} (expected \
             pthread_mutexattr_setrobust(PTHREAD_MUTEX_ROBUST) before pthread_mutex_init)"
        ),
    );
    want(
        kind & KIND_PSHARED != 0,
        format!(
            "mutex not process-shared: glibc's __kind word of the mutex (offset {MUTEX_KIND}) \
             is {kind:#x}, without the process-shared bit {KIND_PSHARED:#x} (expected \
             pthread_mutexattr_setpshared(PTHREAD_PROCESS_SHARED))"
        ),
    );
    want(
        ring == data,
        "the ring at offset 4096 does not hold the stream's first bytes".into(),
    );
    let misplaced = ring_after
        .as_ref()
        .filter(|_| drained)
        .map(|ring| (total - d..total).find(|&i| ring[(i % d) as usize] != all[i as usize]));
    match misplaced {
        None => want(
            false,
            format!(
                "after {total} bytes the header did not show written = read = {total} while \
                 both sides waited"
            ),
        ),
        Some(Some(i)) => want(
            false,
            format!(
                "byte {i} of the stream is not at ring offset {i} mod {d} = {} once the stream \
                 has wrapped round the ring (DATA_SIZE {d} is not a power of two: \
                 `written & (DATA_SIZE - 1)` is not `written % DATA_SIZE`)",
                i % d
            ),
        ),
        Some(None) => {}
    }
    if let Some(first) = problems.first() {
        // The hint for what went wrong: the fields, the mutex's attributes, or the ring.
        let about = |words: &[&str]| {
            problems
                .iter()
                .any(|p| words.iter().any(|w| p.starts_with(w)))
        };
        let mut hints = Vec::new();
        if about(&[
            "segment",
            "ready",
            "flags",
            "data_size",
            "written",
            "read ",
            "producer",
            "consumer",
        ]) {
            hints.push(
                "overlay a #[repr(C)] struct and assert its offsets with offset_of! against the \
                 table of spec §5.2",
            );
        }
        if about(&["mutex"]) {
            hints.push("initialise the mutex with the attributes §5.2 lists");
        }
        if about(&["the ring", "byte "]) {
            hints.push("place byte i of the stream at ring offset i % DATA_SIZE");
        }
        let mut failure = Failure::new(format!("header field: {first}"))
            .detail(format!("ALL PROBLEMS:\n    {}", problems.join("\n    ")));
        if !hints.is_empty() {
            failure = failure.detail(format!("HINT: {}.", hints.join("; ")));
        }
        return Err(failure.command(&prod));
    }
    expect::exit_code(&prod, 0)?;
    expect::exit_code(&cons, 0)?;
    expect::stream_matched(&cons)?;
    ctx.note(format!(
        "header of §5.2 as specified, mutex __kind {kind:#x} (robust, process-shared); after \
         {total} bytes through DATA_SIZE {d} every byte of the ring was at offset i mod {d}"
    ));
    Ok(())
}

/// The segment carries the stream (spec §5.4), as the kernel accounts for it. First, paused
/// mid-transfer (the producer waits for more input, the consumer has written out the 1000
/// bytes it was given): `/proc/sysvipc/shm` lists the segment of
/// the key, 4096 + D bytes, attached twice, created and last attached by the pair (pids as the
/// grader's spawns see them); each side maps it (`/SYSVkey` in `/proc/PID/maps`, its id as
/// the inode) and the two share no other file. Then, for a stream of 4 MiB, the producer's
/// `write` calls and the consumer's `read` calls move less than a quarter of it
/// (`/proc/PID/io`): the bytes went through memory, not through a file or a pipe.
fn transfer_uses_segment(ctx: &Ctx) -> Result<(), Failure> {
    let key = new_key(ctx)?;
    let d = 4096u64;
    let k = 1000usize;
    let data = stream_bytes(&Stream::new(ctx.seed() ^ 0x5e6, k as u64), k);
    let cons = ctx.spawn(side(ctx, "svshm-consumer", &key, d, &[]))?;
    wait_segment(ctx, &key, &cons);
    let mut prod = ctx.spawn(side(ctx, "svshm-producer", &key, d, &[]).stdin(Input::Held))?;
    let (cpid, ppid) = (cons.pid(), prod.pid());
    if let Some(pipe) = prod.stdin() {
        let _ = pipe.write_all(&data);
    }
    let path = crate::procfs::sysv_segment_path(key.key);
    let maps_segment = |pid: i32, id: i64| {
        crate::procfs::maps(pid)
            .into_iter()
            .any(|m| m.shared() && m.file() == path && m.inode as i64 == id)
    };
    // Both attached and mapping the segment: the producer then waits for more input, and
    // neither detaches before its stdin closes.
    let mut row = None;
    let settled = crate::procfs::poll_for(ctx.limit() / 4, || {
        row = crate::procfs::sysvipc("shm")
            .into_iter()
            .find(|r| r.num("key") == i64::from(key.key));
        let both = row.as_ref().is_some_and(|r| {
            r.num("nattch") == 2
                && maps_segment(cpid, r.num("shmid"))
                && maps_segment(ppid, r.num("shmid"))
        });
        // The producer sleeping in `read` again has put the bytes already in its stdin pipe
        // into the ring: whatever holds the ring is mapped by now.
        let waiting = crate::procfs::sleeps_in_call(ppid, libc::SYS_read);
        (both && waiting) || any_exited(&[&cons, &prod])
    });
    // The consumer having written the bytes out has taken them from wherever the ring is, so
    // it maps the ring by now too: it may map it only once it wakes with data, after the
    // producer went back to its `read`.
    if settled {
        crate::procfs::poll_for(ctx.limit() / 4, || {
            crate::procfs::io(cpid).is_some_and(|io| io.written >= k as u64)
                || any_exited(&[&cons, &prod])
        });
    }
    let (cmaps, pmaps) = (crate::procfs::maps(cpid), crate::procfs::maps(ppid));
    prod.close_stdin();
    let prod = ctx.wait(prod);
    let cons = ctx.wait(cons);
    let pair = [cpid, ppid];
    let Some(row) = row.filter(|_| settled) else {
        return Err(Failure::new(format!(
            "no segment with key {:#010x} while producer and consumer were running",
            key.key
        ))
        .detail(format!("SEGMENTS:\n{}", ipcs()))
        .command(&cons));
    };
    let (id, nattch) = (row.num("shmid"), row.num("nattch"));
    let (creator, last) = (row.num("cpid") as i32, row.num("lpid") as i32);
    let mut problems = Vec::new();
    if row.num("size") as u64 != HEADER + d {
        problems.push(format!(
            "the segment has {} bytes, expected 4096 + {d}",
            row.num("size")
        ));
    }
    if nattch != 2 {
        problems.push(format!(
            "the segment had {nattch} attachment(s) mid-transfer, expected 2 (producer and consumer)"
        ));
    }
    if !pair.contains(&creator) || !pair.contains(&last) {
        problems.push(format!(
            "the segment was created by pid {creator} and last attached by pid {last}, not by \
             the consumer (pid {cpid}) and the producer (pid {ppid})"
        ));
    }
    for (who, pid, maps) in [("consumer", cpid, &cmaps), ("producer", ppid, &pmaps)] {
        if !maps
            .iter()
            .any(|m| m.shared() && m.file() == path && m.inode as i64 == id)
        {
            problems.push(format!(
                "the {who} (pid {pid}) does not map segment {id} ({path} in /proc/{pid}/maps)"
            ));
        }
    }
    let others: Vec<String> = crate::procfs::shared_in_common(&cmaps, &pmaps)
        .into_iter()
        .filter(|f| *f != path)
        .collect();
    if !others.is_empty() {
        problems.push(format!(
            "producer and consumer also share {}: the ring must be in the segment",
            others.join(", ")
        ));
    }
    if let Some(first) = problems.first() {
        return Err(Failure::new(first.clone())
            .detail(format!("ALL PROBLEMS:\n    {}", problems.join("\n    ")))
            .detail(format!(
                "SEEN MID-TRANSFER (/proc/sysvipc/shm):\n    segment id {id}, {} bytes, nattch \
                 {nattch}, cpid {creator}, lpid {last}",
                row.num("size")
            ))
            .detail(
                "HINT: the ring is the segment's bytes from offset 4096: the producer reads \
                 stdin straight into it, the consumer writes stdout straight from it (spec §5.4).",
            )
            .command(&prod));
    }
    expect::exit_code(&prod, 0)?;
    expect::exit_code(&cons, 0)?;
    expect::stdout_is(&cons, &data)?;
    // A stream far larger than the ring: how many bytes each side moved through system calls.
    let len = 4 * MIB + 5;
    let input = Stream::new(ctx.seed() ^ 0x5e7, len);
    let cons =
        ctx.spawn(side(ctx, "svshm-consumer", &key, d, &[]).stdout(Output::Compare(input)))?;
    wait_segment(ctx, &key, &cons);
    let prod = ctx.spawn(side(ctx, "svshm-producer", &key, d, &[]).stdin(Input::Stream(input)))?;
    let deadline = Instant::now() + ctx.limit() / 2;
    let prod_io = prod.io_at_exit(deadline);
    let cons_io = cons.io_at_exit(deadline);
    let prod = ctx.wait(prod);
    let cons = ctx.wait(cons);
    expect::stream_matched(&cons)?;
    expect::exit_code(&cons, 0)?;
    expect::exit_code(&prod, 0)?;
    let (Some(pio), Some(cio)) = (prod_io, cons_io) else {
        return Err(Failure::new("the producer or the consumer did not end").command(&prod));
    };
    expect::carried_by_memory(
        len,
        (pio, cio),
        ("producer", "consumer"),
        "segment",
        "the producer reads stdin into the ring and the consumer writes the ring to stdout; \
         nothing else is read or written (spec §5.4).",
        &prod,
    )?;
    ctx.note(format!(
        "segment {id} ({} bytes) attached by consumer pid {cpid} and producer pid {ppid} \
         (nattch 2); of a {len}-byte stream the producer wrote {} bytes, the consumer read {}",
        HEADER + d,
        pio.written,
        cio.read
    ));
    Ok(())
}
