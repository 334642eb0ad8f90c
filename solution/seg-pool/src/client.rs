//! `segpool-client` (specs/seg-pool.md §4): takes a free segment, fills it with a chunk of
//! standard input, hands it to the server with the chunk's length, and again until end of
//! input; then tells the server it is done.

use std::process::ExitCode;

use crate::cli::{self, CLIENT_USAGE, ClientArgs};
// BEGIN SOLUTION
use std::io::Read;

use nix::errno::Errno;

use crate::cli::{FAILURE, GAVE_UP};
use crate::msg::{self, Queue};
use crate::proto::{self, DONE, FREE, FULL, MSG_LEN, Message};
use crate::sysv_shm::Segment;
// END SOLUTION

const ME: &str = "segpool-client";

/// The client's `main`: parses the command line, sends its input, and returns the exit status.
pub fn run(args: &[String]) -> ExitCode {
    let args = match cli::parse_client(args) {
        Ok(args) => args,
        Err(message) => return cli::usage(ME, CLIENT_USAGE, message),
    };
    match send_input(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err((status, message)) => cli::fail(ME, status, message),
    }
}

/// Sends standard input as §4.2 says; an error is the exit status (1 or 3) and its message.
pub fn send_input(args: &ClientArgs) -> Result<(), (u8, String)> {
    let _ = &args;
    // BEGIN SOLUTION todo!("specs/seg-pool.md §4.2: take, fill and hand in segments")
    let failed = |what: &str, e: Errno| (FAILURE, format!("{what}: {}", e.desc()));
    let key = msg::ftok(&args.path, args.proj)
        .map_err(|e| failed(&format!("ftok {}", args.path.display()), e))?;
    let queue = Queue::open(key).map_err(|e| match e {
        Errno::ENOENT => (
            FAILURE,
            format!(
                "no server: no queue for {} and project id {}",
                args.path.display(),
                args.proj
            ),
        ),
        e => failed("msgget", e),
    })?;
    // A read at least as large as its buffer bypasses it: the bytes go straight into the
    // segment.
    let mut stdin = std::io::stdin().lock();
    let mut attached: Vec<Segment> = Vec::new();
    loop {
        let free = take(&queue)?;
        let at = match attached.iter().position(|s| s.id == free.id) {
            Some(at) => at,
            None => {
                let segment = Segment::attach(free.id, true).map_err(|e| failed("shmat", e))?;
                attached.push(segment);
                attached.len() - 1
            }
        };
        let segment = &mut attached[at];
        let cap = (free.len as usize).min(segment.len());
        let filled = match fill(&mut stdin, &mut segment.as_mut_slice()[..cap]) {
            Ok(filled) => filled,
            Err(e) => {
                let _ = send(&queue, free);
                return Err((FAILURE, format!("read from stdin: {e}")));
            }
        };
        if filled == 0 {
            send(&queue, free)?;
            break;
        }
        send(
            &queue,
            Message {
                mtype: FULL,
                id: free.id,
                len: filled as u32,
            },
        )?;
        if filled < cap {
            break;
        }
    }
    send(
        &queue,
        Message {
            mtype: DONE,
            id: std::process::id() as i32,
            len: 0,
        },
    )
    // END SOLUTION
}
// BEGIN SOLUTION

/// Waits for a free segment; the queue removed is status 3.
fn take(queue: &Queue) -> Result<Message, (u8, String)> {
    let mut buf = [0u8; MSG_LEN];
    loop {
        match queue.recv(&mut buf, FREE, 0) {
            Ok(n) => {
                return proto::decode(&buf, n)
                    .ok_or_else(|| (FAILURE, format!("a message of {n} bytes, not 8")));
            }
            Err(Errno::EINTR) => continue,
            Err(Errno::EIDRM | Errno::EINVAL) => {
                return Err((GAVE_UP, "gave up: the server went away".into()));
            }
            Err(e) => return Err((FAILURE, format!("msgrcv: {}", e.desc()))),
        }
    }
}

/// Reads until `buf` is full or end of input; the bytes read.
fn fill(input: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match input.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// Sends one message, retrying `EINTR`; the queue removed is status 3.
fn send(queue: &Queue, message: Message) -> Result<(), (u8, String)> {
    let msg = proto::encode(message);
    loop {
        match queue.send(&msg) {
            Err(Errno::EINTR) => continue,
            Err(Errno::EIDRM | Errno::EINVAL) => {
                return Err((GAVE_UP, "gave up: the server went away".into()));
            }
            Err(e) => return Err((FAILURE, format!("msgsnd: {}", e.desc()))),
            Ok(()) => return Ok(()),
        }
    }
}
// END SOLUTION
