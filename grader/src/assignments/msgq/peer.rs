//! The grader's own client and server of the `msgq` wire format (specs/msgq.md §3), written
//! from the spec alone, run as helper tools: `grader tool msgq-peer MODE PATH ARGS…`.
//!
//! Modes: `client-suite` (every op against a server, replies compared to the byte),
//! `garbage-silent` (malformed messages no reply may follow), `garbage` (malformed messages
//! answered with errors, then a request that must still be answered), `server` (a strict server
//! that checks every message a client sends), `priority N` (queues N mixed requests, then
//! checks the order of the replies), `ping N` (N round trips, for the latency probe), `put N`
//! (a client's transfer of its stdin through a segment of N bytes, every reply checked).
//! `--id N` first: the `ftok` project id (default 1), as the programs' `--id`.
//! Exit 0: all as specified; 1: a mismatch, described on stdout; 3: no answer in time.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use super::ffi::{self, MTYPE_LEN};

pub const HEADER: usize = 48;
pub const OP_SUM: u32 = 1;
pub const OP_UPPER: u32 = 2;
pub const OP_SHUTDOWN: u32 = 3;
pub const OP_PUT: u32 = 4;
pub const OP_DATA: u32 = 5;
pub const DATA_BASE: i64 = 1 << 32;

/// A header, request or reply: the six fields after `mtype` are laid out alike (§3.1, §3.2).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Header {
    pub mtype: i64,
    pub pid_or_status: i32,
    pub op: u32,
    pub seq: u64,
    pub a: i64,
    pub b: i64,
    pub len: u32,
    pub reserved: u32,
}

impl Header {
    pub fn encode(&self, text: &[u8]) -> Vec<u8> {
        let mut m = Vec::with_capacity(HEADER + text.len());
        m.extend_from_slice(&self.mtype.to_le_bytes());
        m.extend_from_slice(&self.pid_or_status.to_le_bytes());
        m.extend_from_slice(&self.op.to_le_bytes());
        m.extend_from_slice(&self.seq.to_le_bytes());
        m.extend_from_slice(&self.a.to_le_bytes());
        m.extend_from_slice(&self.b.to_le_bytes());
        m.extend_from_slice(&self.len.to_le_bytes());
        m.extend_from_slice(&self.reserved.to_le_bytes());
        m.extend_from_slice(text);
        m
    }

    pub fn decode(m: &[u8]) -> Header {
        let mut full = [0u8; HEADER];
        let n = m.len().min(HEADER);
        full[..n].copy_from_slice(&m[..n]);
        let g8 = |at: usize| <[u8; 8]>::try_from(&full[at..at + 8]).expect("8 bytes");
        let g4 = |at: usize| <[u8; 4]>::try_from(&full[at..at + 4]).expect("4 bytes");
        Header {
            mtype: i64::from_le_bytes(g8(0)),
            pid_or_status: i32::from_le_bytes(g4(8)),
            op: u32::from_le_bytes(g4(12)),
            seq: u64::from_le_bytes(g8(16)),
            a: i64::from_le_bytes(g8(24)),
            b: i64::from_le_bytes(g8(32)),
            len: u32::from_le_bytes(g4(40)),
            reserved: u32::from_le_bytes(g4(44)),
        }
    }
}

/// CRC-32 (zlib), bitwise: the grader's own, independent of any table.
pub fn crc32(state: u32, bytes: &[u8]) -> u32 {
    let mut c = !state;
    for &b in bytes {
        c ^= u32::from(b);
        for _ in 0..8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
        }
    }
    !c
}

/// `msgmax` of this machine.
pub fn msgmax() -> usize {
    std::fs::read_to_string("/proc/sys/kernel/msgmax")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(8192)
}

struct Peer {
    id: i32,
    pid: i32,
    timeout: Duration,
    buf: Vec<u8>,
}

/// How a mode ends: `Err((code, message))`.
type Outcome = Result<(), (u8, String)>;

fn mismatch(message: impl Into<String>) -> (u8, String) {
    (1, message.into())
}

impl Peer {
    fn open(path: &Path, id: u8, timeout: Duration) -> Result<Peer, (u8, String)> {
        ffi::install_alarm();
        let key = ffi::ftok(path, id).map_err(|e| (2, format!("ftok: {e}")))?;
        let id = ffi::open_or_create(key).map_err(|e| (2, format!("msgget: {e}")))?;
        Ok(Peer {
            id,
            pid: std::process::id() as i32,
            timeout,
            buf: vec![0u8; MTYPE_LEN + msgmax()],
        })
    }

    fn send(&self, msg: &[u8]) -> Outcome {
        let deadline = Instant::now() + self.timeout;
        ffi::bounded(deadline, || ffi::msgsnd(self.id, msg, 0))
            .map_err(|e| (3, format!("could not send within the timeout: {e}")))
    }

    /// Receives one message of `msgtyp`; returns its bytes, `mtype` included.
    fn recv(&mut self, msgtyp: i64, what: &str) -> Result<Vec<u8>, (u8, String)> {
        let deadline = Instant::now() + self.timeout;
        let (id, buf) = (self.id, &mut self.buf);
        let n = ffi::bounded(deadline, || ffi::msgrcv(id, buf, msgtyp, libc::MSG_NOERROR))
            .map_err(|e| {
                (
                    3,
                    format!(
                        "no {what} (type {msgtyp}) within {} ms: {e}",
                        self.timeout.as_millis()
                    ),
                )
            })?;
        Ok(self.buf[..MTYPE_LEN + n].to_vec())
    }

    fn request(&self, urgent: bool, op: u32, seq: u64) -> Header {
        Header {
            mtype: if urgent { 1 } else { 2 },
            pid_or_status: self.pid,
            op,
            seq,
            ..Header::default()
        }
    }

    fn reply(&self, status: i32, op: u32, seq: u64, value: i64, text: &[u8]) -> Vec<u8> {
        Header {
            mtype: i64::from(self.pid),
            pid_or_status: status,
            op,
            seq,
            a: value,
            b: 0,
            len: text.len() as u32,
            reserved: 0,
        }
        .encode(text)
    }

    /// Sends `msg`, then expects exactly `expected` as the reply (§3.2), to the byte.
    fn exchange(&mut self, case: &str, msg: &[u8], expected: &[u8]) -> Outcome {
        self.send(msg)?;
        let got = self.recv(i64::from(self.pid), &format!("reply to {case}"))?;
        if got != expected {
            return Err(mismatch(format!(
                "{case}: the reply differs from the specified one\n{}",
                describe(expected, &got)
            )));
        }
        Ok(())
    }
}

/// A field-by-field comparison of two messages.
pub fn describe(expected: &[u8], got: &[u8]) -> String {
    let (e, g) = (Header::decode(expected), Header::decode(got));
    let mut out = format!(
        "    expected {} bytes of text, got {}\n",
        expected.len().saturating_sub(MTYPE_LEN),
        got.len().saturating_sub(MTYPE_LEN)
    );
    let fields: [(&str, i128, i128); 8] = [
        ("mtype", e.mtype.into(), g.mtype.into()),
        ("status", e.pid_or_status.into(), g.pid_or_status.into()),
        ("op", e.op.into(), g.op.into()),
        ("seq", e.seq.into(), g.seq.into()),
        ("value", e.a.into(), g.a.into()),
        ("digest", e.b.into(), g.b.into()),
        ("len", e.len.into(), g.len.into()),
        ("reserved", e.reserved.into(), g.reserved.into()),
    ];
    for (name, want, have) in fields {
        if want != have {
            out.push_str(&format!("    {name}: expected {want}, got {have}\n"));
        }
    }
    if expected.get(HEADER..) != got.get(HEADER..) {
        out.push_str(&format!(
            "    text: expected {:?}, got {:?}\n",
            String::from_utf8_lossy(expected.get(HEADER..).unwrap_or_default()),
            String::from_utf8_lossy(got.get(HEADER..).unwrap_or_default())
        ));
    }
    out
}

/// `grader tool msgq-peer [--id N] MODE PATH TIMEOUT_MS [N]`.
pub fn main(args: &[String]) -> ExitCode {
    let (id, args) = match args {
        [flag, n, rest @ ..] if flag == "--id" => (n.parse::<u8>().ok(), rest),
        _ => (Some(1), args),
    };
    let (Some(id), Some(mode), Some(path), Some(ms)) = (
        id,
        args.first(),
        args.get(1),
        args.get(2).and_then(|s| s.parse::<u64>().ok()),
    ) else {
        eprintln!("usage: grader tool msgq-peer [--id N] MODE PATH TIMEOUT_MS [N]");
        return ExitCode::from(2);
    };
    let n: u64 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(0);
    let timeout = Duration::from_millis(ms);
    let result =
        Peer::open(Path::new(path), id, timeout).and_then(|mut peer| match mode.as_str() {
            "client-suite" => client_suite(&mut peer),
            "garbage-silent" => garbage_silent(&mut peer, n),
            "garbage" => garbage(&mut peer),
            "server" => server(&mut peer),
            "priority" => priority(&mut peer, n),
            "ping" => ping(&mut peer, n),
            "put" => put(&mut peer, n),
            _ => Err((2, format!("unknown mode {mode}"))),
        });
    let _ = std::io::stdout().flush();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err((code, message)) => {
            println!("{message}");
            ExitCode::from(code)
        }
    }
}

/// A client's `put` (§4.3) of standard input through a segment of `size` bytes: every reply
/// compared to the byte, the server's count and CRC against the grader's own.
fn put(p: &mut Peer, size: u64) -> Outcome {
    use std::io::Read;
    let mut segment = ffi::PrivateSegment::create(size as usize)
        .map_err(|e| (2, format!("shmget of {size} bytes: {e}")))?;
    let id = segment.id();
    let seq = (u64::from(p.pid as u32) << 32) + 77;
    let mut r = p.request(false, OP_PUT, seq);
    (r.a, r.b) = (i64::from(id), size as i64);
    let want = p.reply(0, OP_PUT, seq, 0, b"");
    p.exchange("PUT", &r.encode(b""), &want)?;
    let (mut total, mut crc) = (0i64, 0u32);
    let mut stdin = std::io::stdin().lock();
    loop {
        let room = segment.as_mut_slice();
        let mut n = 0;
        while n < room.len() {
            match stdin.read(&mut room[n..]) {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err((2, format!("stdin: {e}"))),
            }
        }
        crc = crc32(crc, &room[..n]);
        total += n as i64;
        let ready = Header {
            mtype: DATA_BASE + i64::from(p.pid),
            op: OP_DATA,
            a: n as i64,
            b: 0,
            ..r
        };
        let mut ok = Header::decode(&p.reply(0, OP_DATA, seq, total, b""));
        ok.b = i64::from(crc);
        p.exchange(
            &format!("DATA round of {n} bytes ({total} so far)"),
            &ready.encode(b""),
            &ok.encode(b""),
        )?;
        if n == 0 {
            return Ok(());
        }
    }
}

fn client_suite(p: &mut Peer) -> Outcome {
    let base = u64::from(p.pid as u32) << 32;
    // sum, normal and urgent.
    let mut r = p.request(false, OP_SUM, base + 1);
    (r.a, r.b) = (2, -7);
    let want = p.reply(0, OP_SUM, base + 1, -5, b"");
    p.exchange("SUM 2 + -7", &r.encode(b""), &want)?;
    let mut r = p.request(true, OP_SUM, base + 2);
    (r.a, r.b) = (i64::MIN, i64::MAX);
    let want = p.reply(0, OP_SUM, base + 2, -1, b"");
    p.exchange("urgent SUM i64::MIN + i64::MAX", &r.encode(b""), &want)?;
    // overflow.
    let mut r = p.request(false, OP_SUM, base + 3);
    (r.a, r.b) = (i64::MAX, 1);
    let want = p.reply(3, OP_SUM, base + 3, 0, b"");
    p.exchange("SUM i64::MAX + 1 (overflow)", &r.encode(b""), &want)?;
    // upper, with spaces, non-ASCII and NUL bytes; then empty.
    let text = b"hello, World \xc3\xa9\x00z~{";
    let mut r = p.request(false, OP_UPPER, base + 4);
    r.len = text.len() as u32;
    let want = p.reply(0, OP_UPPER, base + 4, 0, b"HELLO, WORLD \xc3\xa9\x00Z~{");
    p.exchange("UPPER of 19 bytes", &r.encode(text), &want)?;
    let r = p.request(false, OP_UPPER, base + 5);
    let want = p.reply(0, OP_UPPER, base + 5, 0, b"");
    p.exchange("UPPER of the empty text", &r.encode(b""), &want)?;
    // errors.
    let r = p.request(false, 9, base + 6);
    let want = p.reply(2, 9, base + 6, 0, b"");
    p.exchange("op 9 (unknown)", &r.encode(b""), &want)?;
    let mut r = p.request(false, OP_SUM, base + 7);
    (r.a, r.b, r.len) = (1, 1, 3);
    let want = p.reply(1, OP_SUM, base + 7, 0, b"");
    p.exchange(
        "SUM with 3 bytes of text (bad size)",
        &r.encode(b"abc"),
        &want,
    )?;
    let mut r = p.request(false, OP_UPPER, base + 8);
    r.len = 10;
    let want = p.reply(1, OP_UPPER, base + 8, 0, b"");
    p.exchange(
        "UPPER announcing 10 bytes, carrying 5",
        &r.encode(b"abcde"),
        &want,
    )?;
    let r = p.request(false, OP_DATA, base + 9);
    let want = p.reply(1, OP_DATA, base + 9, 0, b"");
    p.exchange("DATA sent as a request", &r.encode(b""), &want)?;
    // shutdown and its acknowledgement.
    let r = p.request(false, OP_SHUTDOWN, base + 10);
    let want = p.reply(0, OP_SHUTDOWN, base + 10, 0, b"");
    p.exchange("SHUTDOWN", &r.encode(b""), &want)?;
    let mut ack = p.request(false, OP_SHUTDOWN, base + 10);
    ack.mtype = DATA_BASE + i64::from(p.pid);
    p.send(&ack.encode(b""))
}

/// How many messages `garbage-silent` knows: four too short for a header, four requests from
/// pids below 3.
pub const GARBAGE_SILENT: u64 = 8;

/// Message `which` of those no reply may follow: too short for a header (0–3), or a request
/// from pid 0, 1, 2 or -5 (4–7; a reply typed 1 or 2 would be a request, taken by the server
/// itself). One message a run, so that whether the server sent anything after it is for the
/// check to see in the queue's accounting once the server has taken it.
fn garbage_silent(p: &mut Peer, which: u64) -> Outcome {
    let base = u64::from(p.pid as u32) << 32;
    let (shorts, pids) = ([0usize, 1, 20, 39], [0, 1, 2, -5]);
    if let Some(&short) = shorts.get(which as usize) {
        let mut m = 2i64.to_le_bytes().to_vec();
        m.extend(std::iter::repeat_n(0xA5u8, short));
        return p.send(&m);
    }
    let Some(&pid) = pids.get(which as usize - shorts.len()) else {
        return Err((2, format!("no garbage message {which}")));
    };
    let mut r = p.request(false, OP_SUM, base + 100 + which);
    (r.pid_or_status, r.a, r.b) = (pid, 1, 2);
    p.send(&r.encode(b""))
}

fn garbage(p: &mut Peer) -> Outcome {
    let base = u64::from(p.pid as u32) << 32;
    // Answered with an error: every byte garbage but the pid and op, a length that lies, a
    // full-size message of an unknown op, an urgent unknown op.
    let mut r = p.request(false, OP_UPPER, base + 1);
    r.len = 1_000_000;
    let want = p.reply(1, OP_UPPER, base + 1, 0, b"");
    p.exchange("UPPER announcing 1000000 bytes", &r.encode(b"xyz"), &want)?;
    let mut r = p.request(false, 77, base + 2);
    r.len = (msgmax() - 40) as u32;
    let text = vec![0xFFu8; msgmax() - 40];
    let want = p.reply(2, 77, base + 2, 0, b"");
    p.exchange("op 77 with msgmax bytes of text", &r.encode(&text), &want)?;
    let mut r = p.request(false, OP_SHUTDOWN, base + 3);
    r.len = 4;
    let want = p.reply(1, OP_SHUTDOWN, base + 3, 0, b"");
    p.exchange("SHUTDOWN with 4 bytes of text", &r.encode(b"stop"), &want)?;
    let mut r = p.request(false, OP_PUT, base + 4);
    (r.a, r.b) = (-1, 4096);
    let want = p.reply(4, OP_PUT, base + 4, 0, b"");
    p.exchange("PUT of segment id -1", &r.encode(b""), &want)?;
    // Still serving.
    let mut r = p.request(false, OP_SUM, base + 5);
    (r.a, r.b) = (40, 2);
    let want = p.reply(0, OP_SUM, base + 5, 42, b"");
    p.exchange("SUM 40 + 2 after the garbage", &r.encode(b""), &want)?;
    let (left, _) = ffi::msg_stat(p.id).map_err(|e| (2, format!("IPC_STAT: {e}")))?;
    if left != 0 {
        return Err(mismatch(format!(
            "{left} message(s) left on the queue after the garbage: a reply to a pid below 3 \
             is typed as a request, and no message too short to be a request may be answered"
        )));
    }
    Ok(())
}

/// Sends `n` requests, every third urgent, then expects replies urgent first, each kind in
/// order.
fn priority(p: &mut Peer, n: u64) -> Outcome {
    let mut order = Vec::new();
    for i in 1..=n {
        let urgent = i % 3 == 0;
        let mut r = p.request(urgent, OP_SUM, i);
        (r.a, r.b) = (i as i64, 0);
        p.send(&r.encode(b""))?;
        order.push((urgent, i));
    }
    order.sort_by_key(|&(urgent, i)| (!urgent, i));
    let want: Vec<u64> = order.iter().map(|&(_, i)| i).collect();
    let mut got = Vec::new();
    for _ in 0..n {
        let m = p.recv(i64::from(p.pid), "reply")?;
        got.push(Header::decode(&m).seq);
    }
    if got != want {
        return Err(mismatch(format!(
            "replies came in the order {got:?}\nexpected (urgent requests 3, 6, 9, … first): \
             {want:?}"
        )));
    }
    Ok(())
}

/// `n` SUM round trips, then SHUTDOWN with its acknowledgement.
fn ping(p: &mut Peer, n: u64) -> Outcome {
    for i in 1..=n {
        let mut r = p.request(false, OP_SUM, i);
        (r.a, r.b) = (i as i64, 1);
        p.send(&r.encode(b""))?;
        let mut m = p.recv(i64::from(p.pid), "reply")?;
        while Header::decode(&m).seq != i {
            m = p.recv(i64::from(p.pid), "reply")?;
        }
        if Header::decode(&m).a != i as i64 + 1 {
            return Err(mismatch("wrong sum"));
        }
    }
    let r = p.request(false, OP_SHUTDOWN, n + 1);
    p.send(&r.encode(b""))?;
    p.recv(i64::from(p.pid), "reply to SHUTDOWN")?;
    let mut ack = r;
    ack.mtype = DATA_BASE + i64::from(p.pid);
    p.send(&ack.encode(b""))
}

/// A strict server: checks every message against §3 and §4, serves it, and stops after a
/// SHUTDOWN and its acknowledgement, removing the queue. The first SUM of each client is
/// preceded by a stale reply (wrong `seq`) that the client must drop. Prints one line per
/// request served.
fn server(p: &mut Peer) -> Outcome {
    let result = serve(p);
    let _ = ffi::msg_remove(p.id);
    result
}

fn serve(p: &mut Peer) -> Outcome {
    let mut stale_sent = std::collections::BTreeSet::new();
    loop {
        let deadline = Instant::now() + Duration::from_secs(60);
        let (id, buf) = (p.id, &mut p.buf);
        let n = ffi::bounded(deadline, || ffi::msgrcv(id, buf, -2, libc::MSG_NOERROR))
            .map_err(|e| (3, format!("no request: {e}")))?;
        let m = p.buf[..MTYPE_LEN + n].to_vec();
        let h = Header::decode(&m);
        let (_, sender) = ffi::msg_stat(p.id).map_err(|e| (2, format!("IPC_STAT: {e}")))?;
        let kind = if h.mtype == 1 { "urgent" } else { "normal" };
        let what = format!("{kind} request op {} from pid {}", h.op, h.pid_or_status);
        let bad = |why: String| mismatch(format!("{what}: {why}"));
        if n < 40 {
            return Err(bad(format!("{n} bytes of text, a header is 40")));
        }
        if h.pid_or_status != sender {
            return Err(bad(format!(
                "the pid field says {}, the sender is pid {sender}",
                h.pid_or_status
            )));
        }
        if h.reserved != 0 {
            return Err(bad(format!("reserved is {}, not 0", h.reserved)));
        }
        let header_only = |ab_zero: bool| -> Outcome {
            if n != 40 || h.len != 0 {
                return Err(bad(format!(
                    "{n} bytes of text and len {}: expected 40 and 0",
                    h.len
                )));
            }
            if ab_zero && (h.a != 0 || h.b != 0) {
                return Err(bad(format!("a = {}, b = {}: expected 0 and 0", h.a, h.b)));
            }
            Ok(())
        };
        let to = Header {
            mtype: i64::from(h.pid_or_status),
            op: h.op,
            seq: h.seq,
            ..Header::default()
        };
        match h.op {
            OP_SUM => {
                header_only(false)?;
                if stale_sent.insert(h.pid_or_status) {
                    let stale = Header {
                        seq: h.seq ^ 0x5555,
                        a: 666,
                        ..to
                    };
                    p.send(&stale.encode(b""))?;
                }
                let reply = match h.a.checked_add(h.b) {
                    Some(v) => Header { a: v, ..to },
                    None => Header {
                        pid_or_status: 3,
                        ..to
                    },
                };
                p.send(&reply.encode(b""))?;
                println!("{what}: sum {} {}", h.a, h.b);
            }
            OP_UPPER => {
                if n != 40 + h.len as usize || h.a != 0 || h.b != 0 {
                    return Err(bad(format!(
                        "{n} bytes of text, len {}, a {}, b {}: expected 40 + len, 0, 0",
                        h.len, h.a, h.b
                    )));
                }
                let text = m[HEADER..].to_ascii_uppercase();
                p.send(&Header { len: h.len, ..to }.encode(&text))?;
                println!("{what}: upper of {} bytes", h.len);
            }
            OP_SHUTDOWN => {
                header_only(true)?;
                p.send(&to.encode(b""))?;
                let ack = p.recv(DATA_BASE + i64::from(h.pid_or_status), "acknowledgement")?;
                let a = Header::decode(&ack);
                let want = Header {
                    mtype: DATA_BASE + i64::from(h.pid_or_status),
                    ..h
                }
                .encode(b"");
                if ack != want {
                    return Err(bad(format!(
                        "the acknowledgement of SHUTDOWN differs from the specified one \
                         (a header typed 2^32 + pid, op 3, the same seq)\n{}",
                        describe(&want, &ack)
                    )));
                }
                println!("{what}: shutdown, acknowledged with seq {}", a.seq);
                return Ok(());
            }
            OP_PUT => {
                header_only(false)?;
                transfer(p, &h, &to)?;
                println!("{what}: put through a segment of {} bytes", h.b);
            }
            op => return Err(bad(format!("op {op} is no request"))),
        }
    }
}

fn transfer(p: &mut Peer, h: &Header, to: &Header) -> Outcome {
    let Ok(id) = i32::try_from(h.a) else {
        return Err(mismatch(format!("PUT: segment id {} out of range", h.a)));
    };
    let segment = ffi::ReadOnlySegment::attach(id)
        .map_err(|e| mismatch(format!("PUT: cannot attach segment {id}: {e}")))?;
    rounds(p, h, to, &segment)
}

fn rounds(p: &mut Peer, h: &Header, to: &Header, segment: &ffi::ReadOnlySegment) -> Outcome {
    let size = segment.len();
    if h.b <= 0 || size < h.b as usize {
        return Err(mismatch(format!(
            "PUT: b = {} but the segment holds {size} bytes",
            h.b
        )));
    }
    p.send(&Header { op: OP_PUT, ..*to }.encode(b""))?;
    let (mut total, mut crc) = (0i64, 0u32);
    loop {
        let m = p.recv(DATA_BASE + i64::from(h.pid_or_status), "DATA round")?;
        let d = Header::decode(&m);
        let want = Header {
            mtype: DATA_BASE + i64::from(h.pid_or_status),
            op: OP_DATA,
            b: 0,
            a: d.a,
            ..*h
        };
        if m.len() != HEADER || d.a < 0 || d.a > h.b || m != want.encode(b"") {
            return Err(mismatch(format!(
                "a DATA round differs from the specified one (typed 2^32 + pid, op 5, the \
                 PUT's seq, 0 ≤ a ≤ SEGSIZE, b = 0)\n{}",
                describe(&want.encode(b""), &m)
            )));
        }
        crc = crc32(crc, &segment.as_slice()[..d.a as usize]);
        total += d.a;
        let ok = Header {
            op: OP_DATA,
            a: total,
            b: i64::from(crc),
            ..*to
        };
        p.send(&ok.encode(b""))?;
        if d.a == 0 {
            return Ok(());
        }
    }
}
