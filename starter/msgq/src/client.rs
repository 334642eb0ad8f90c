//! `msgq-client` (specs/msgq.md §4): sends requests and prints the replies.

use std::process::ExitCode;
use std::time::Duration;

use crate::cli::{Command, Exit};
use crate::msg::Queue;

/// What the client keeps between requests.
#[derive(Debug)]
pub struct Client {
    /// The queue, opened or created.
    pub queue: Queue,
    /// Whether this client created the queue; if so, and no reply ever came, it removes the
    /// queue when it gives up.
    pub created: bool,
    /// Whether any reply has arrived.
    pub replied: bool,
    /// This process's pid: the type of its replies.
    pub pid: i32,
    /// The system's limit on the text of one message (`msgmax`).
    pub msgmax: usize,
    /// The bound of every wait for the server (`--timeout`).
    pub timeout: Duration,
    /// Added to a line number to make a request's `seq`: differs between runs so that a stale
    /// reply to an earlier process with the same pid is recognised.
    pub seq_base: u64,
    /// Receive buffer: `mtype` plus `msgmax` bytes.
    pub buf: Vec<u8>,
}

/// Runs `msgq-client` with `args` (without the program name).
pub fn run(args: &[String]) -> ExitCode {
    let _ = &args;
    todo!("specs/msgq.md §4: parse, open the queue, run the command")
}

impl Client {
    /// Installs the signal handlers, then opens or creates the queue of `ftok(path, id)`.
    pub fn open(opts: &crate::cli::Options) -> Result<Client, Exit> {
        let _ = &opts;
        todo!("specs/msgq.md §4.1: open or create the queue")
    }

    /// `sum`, `upper` or `shutdown` from the command line: one request, one line out.
    pub fn single(&mut self, urgent: bool, command: &Command) -> Result<(), Exit> {
        let _ = (&urgent, &command);
        todo!("specs/msgq.md §4.2: one request from the command line")
    }

    /// `session`: each standard-input line is a request, answered before the next is sent.
    pub fn session(&mut self) -> Result<(), Exit> {
        todo!("specs/msgq.md §4.4: session")
    }

    /// `batch`: every line is sent before any reply is awaited (except when the queue is
    /// full); replies are printed in the order they arrive, each after its line number.
    pub fn batch(&mut self) -> Result<(), Exit> {
        todo!("specs/msgq.md §4.5: batch")
    }

    /// `put SEGSIZE` (lesson §15, §21): creates a segment of `size` bytes, has the server
    /// attach it, then moves standard input through it in rounds of at most `size` bytes:
    /// fill, send "ready" (`OP_DATA`), wait for "ok". Prints the byte count and CRC-32.
    pub fn put(&mut self, size: usize, urgent: bool) -> Result<(), Exit> {
        let _ = (&size, &urgent);
        todo!("specs/msgq.md §4.3: the client side of a transfer")
    }
}
