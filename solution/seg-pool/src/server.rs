//! `segpool-server` (specs/seg-pool.md §3): creates the queue and the pool, puts every
//! segment on the free list, writes out each chunk a client hands in and frees its segment,
//! and once CLIENTS clients are done removes the queue and the segments.

use std::process::ExitCode;

use crate::cli::{self, SERVER_USAGE, ServerArgs};
// BEGIN SOLUTION
use std::io::Write;

use nix::errno::Errno;

use crate::alarm::{self, WaitError};
use crate::cli::{FAILURE, GAVE_UP};
use crate::msg::{self, Queue};
use crate::proto::{self, DONE, FREE, FULL, MSG_LEN, Message, TO_SERVER};
use crate::sysv_shm::Segment;
// END SOLUTION

const ME: &str = "segpool-server";

/// The server's `main`: parses the command line, serves, and returns the exit status.
pub fn run(args: &[String]) -> ExitCode {
    let args = match cli::parse_server(args) {
        Ok(args) => args,
        Err(message) => return cli::usage(ME, SERVER_USAGE, message),
    };
    match serve(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err((status, message)) => cli::fail(ME, status, message),
    }
}

/// Serves as §3.2–3.3 say; an error is the exit status (1 or 3) and its message. Whatever
/// this run created is removed on every path.
pub fn serve(args: &ServerArgs) -> Result<(), (u8, String)> {
    let _ = &args;
    // BEGIN SOLUTION todo!("specs/seg-pool.md §3.2: create the queue and the pool, serve, remove")
    let failed = |what: &str, e: Errno| (FAILURE, format!("{what}: {}", e.desc()));
    alarm::install().map_err(|e| failed("sigaction", e))?;
    let key = msg::ftok(&args.path, args.proj)
        .map_err(|e| failed(&format!("ftok {}", args.path.display()), e))?;
    let queue = Queue::create(key).map_err(|e| match e {
        Errno::EEXIST => (
            FAILURE,
            format!(
                "a queue already exists for {} and project id {}",
                args.path.display(),
                args.proj
            ),
        ),
        e => failed("msgget", e),
    })?;
    let mut pool = Vec::with_capacity(args.segments);
    let result =
        fill_pool(args, &queue, &mut pool).and_then(|()| serve_clients(args, &queue, &mut pool));
    let _ = queue.remove();
    for segment in &pool {
        let _ = segment.mark_removed();
    }
    drop(pool);
    result
    // END SOLUTION
}
// BEGIN SOLUTION

/// Creates every segment of the pool, then puts each on the free list (§3.2).
fn fill_pool(
    args: &ServerArgs,
    queue: &Queue,
    pool: &mut Vec<Segment>,
) -> Result<(), (u8, String)> {
    for _ in 0..args.segments {
        let segment = Segment::create_private(args.seg_size).map_err(|e| {
            (
                FAILURE,
                format!("shmget of {} bytes: {}", args.seg_size, e.desc()),
            )
        })?;
        pool.push(segment);
    }
    for segment in pool.iter() {
        send(queue, FREE, segment.id, args.seg_size as u32)?;
    }
    Ok(())
}

/// Writes out every chunk and frees its segment, until CLIENTS clients are done (§3.3).
fn serve_clients(
    args: &ServerArgs,
    queue: &Queue,
    pool: &mut [Segment],
) -> Result<(), (u8, String)> {
    let mut out = std::io::stdout().lock();
    let mut done = 0;
    while done < args.clients {
        let mut buf = [0u8; MSG_LEN];
        let n = alarm::within(args.timeout, || queue.recv(&mut buf, TO_SERVER, 0)).map_err(
            |e| match e {
                WaitError::TimedOut => (
                    GAVE_UP,
                    format!(
                        "gave up: no message from a client for {} ms",
                        args.timeout.as_millis()
                    ),
                ),
                WaitError::Sys(e) => (FAILURE, format!("msgrcv: {}", e.desc())),
            },
        )?;
        let message = proto::decode(&buf, n)
            .ok_or_else(|| (FAILURE, format!("a message of {n} bytes, not 8")))?;
        match message.mtype {
            FULL => {
                let at = pool
                    .iter()
                    .position(|s| s.id == message.id)
                    .ok_or_else(|| {
                        (
                            FAILURE,
                            format!("segment {} is not in the pool", message.id),
                        )
                    })?;
                let len = message.len as usize;
                if len == 0 || len > pool[at].len() {
                    return Err((FAILURE, format!("a chunk of {len} bytes")));
                }
                out.write_all(&pool[at].as_slice()[..len])
                    .and_then(|()| out.flush())
                    .map_err(|e| (FAILURE, format!("write to stdout: {e}")))?;
                let id = pool[at].id;
                send(queue, FREE, id, args.seg_size as u32)?;
            }
            DONE => done += 1,
            other => return Err((FAILURE, format!("a message of type {other}"))),
        }
    }
    Ok(())
}

/// Sends one message, retrying `EINTR`.
fn send(queue: &Queue, mtype: libc::c_long, id: i32, len: u32) -> Result<(), (u8, String)> {
    let msg = proto::encode(Message { mtype, id, len });
    loop {
        match queue.send(&msg) {
            Err(Errno::EINTR) => continue,
            Err(e) => return Err((FAILURE, format!("msgsnd: {}", e.desc()))),
            Ok(()) => return Ok(()),
        }
    }
}
// END SOLUTION
