//! `msgq-server` (specs/msgq.md §5): serves requests from one queue until `shutdown`.

use std::collections::VecDeque;
use std::process::ExitCode;
use std::time::Duration;

use crate::cli::Exit;
use crate::msg::Queue;

/// Most requests held in memory, taken off a full queue to make room for a reply.
pub const BACKLOG_MAX: usize = 256;
/// While the queue is full and holds no request, the server retries its reply this often.
pub const FULL_RETRY: Duration = Duration::from_millis(10);

/// What the server keeps between requests.
#[derive(Debug)]
pub struct Server {
    /// The queue, created or adopted; removed on `shutdown` and on termination signals.
    pub queue: Queue,
    /// The system's limit on the text of one message (`msgmax`).
    pub msgmax: usize,
    /// Requests taken off a full queue, oldest first, not served yet.
    pub backlog: VecDeque<Vec<u8>>,
    /// The bound of every wait for a client (`--timeout`).
    pub timeout: Duration,
}

/// Runs `msgq-server` with `args` (without the program name).
pub fn run(args: &[String]) -> ExitCode {
    let _ = &args;
    todo!("specs/msgq.md §5: parse, open the queue, serve until shutdown")
}

impl Server {
    /// Installs the signal handlers, then opens or creates the queue of `ftok(path, id)`.
    pub fn open(opts: &crate::cli::Options) -> Result<Server, Exit> {
        let _ = &opts;
        todo!("specs/msgq.md §5.1: open or create the queue")
    }

    /// Serves requests until `shutdown` or a termination signal (both: the queue is removed,
    /// exit 0) or a failure (exit 1, queue removed).
    pub fn serve(&mut self) -> Exit {
        todo!("specs/msgq.md §5.2: the request loop")
    }

    /// Puts the next request into `buf` and returns the length of its text: the oldest urgent
    /// request, else the oldest normal one, whether in the backlog or on the queue. Blocks
    /// without bound while there is none.
    pub fn next_request(&mut self, buf: &mut [u8]) -> Result<usize, nix::errno::Errno> {
        let _ = &buf;
        todo!("specs/msgq.md §5.2: urgent before normal, backlog included")
    }

    /// Serves the request of `n` bytes of text in `buf`; `true` after `shutdown`.
    pub fn handle(&mut self, buf: &mut [u8], n: usize) -> Result<bool, Exit> {
        let _ = (&buf, &n);
        todo!("specs/msgq.md §5.3: check the request, compute, reply")
    }

    /// Sends `reply` without ever deadlocking on a full queue: when it does not fit, requests
    /// are taken off the queue into the backlog to make room; when the queue holds none, the
    /// send is retried until `--timeout` and then the reply is dropped.
    pub fn send_reply(&mut self, reply: &[u8]) -> Result<(), Exit> {
        let _ = &reply;
        todo!("specs/msgq.md §5.4: reply without deadlocking on a full queue")
    }

    /// Serves a `put` (lesson §15, §21): attaches the client's segment, then for each round
    /// waits (bounded) for "ready" (`OP_DATA`), reads the bytes in place and answers "ok".
    pub fn transfer(&mut self, buf: &mut [u8], req: &crate::proto::Request) -> Result<(), Exit> {
        let _ = (&buf, &req);
        todo!("specs/msgq.md §5.5: the server side of a transfer")
    }
}
