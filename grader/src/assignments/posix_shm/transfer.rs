//! Streams of every size through the channel, in every order, by name or by file.

use std::time::Duration;

use crate::check::{Check, Ctx, Failure};
use crate::expect;
use crate::run::{Input, Output};
use crate::stream::Stream;

use super::common::*;
use super::{KIB, MIB, T};

/// The checks of this family, in the spec's order.
pub(super) fn checks() -> Vec<Check> {
    let secs = Duration::from_secs;
    vec![
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
    ]
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
            .command(&received).command(&sent)
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
pub(super) const PATTERN: usize = (MIB as usize) + 4093;

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
