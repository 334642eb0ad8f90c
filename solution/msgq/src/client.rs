//! `msgq-client` (specs/msgq.md §4): sends requests and prints the replies.

use std::process::ExitCode;
use std::time::Duration;

use crate::cli::{Command, Exit};
use crate::msg::Queue;
// BEGIN SOLUTION
use std::collections::HashMap;
use std::io::{BufRead, Read, Write};
use std::time::{SystemTime, UNIX_EPOCH};

use libc::c_long;
use nix::errno::Errno;

use crate::alarm::{self, Deadline, WaitError};
use crate::cli::{self, EXIT_FAILURE, EXIT_GAVE_UP, EXIT_USAGE};
use crate::msg::{self, MTYPE_LEN};
use crate::proto::{
    HEADER_LEN, HEADER_MSGSZ, MIN_CLIENT_PID, OP_DATA, OP_PUT, OP_SHUTDOWN, OP_SUM, OP_UPPER,
    ST_OK, TYPE_DATA_BASE, TYPE_NORMAL, TYPE_URGENT, status_name,
};
use crate::sysv_shm::Segment;
// END SOLUTION

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
    // BEGIN SOLUTION todo!("specs/msgq.md §4: parse, open the queue, run the command")
    let Some((opts, command)) = cli::parse_client(args) else {
        return Exit::new(EXIT_USAGE, cli::CLIENT_USAGE).report("msgq-client");
    };
    let mut client = match Client::open(&opts) {
        Ok(c) => c,
        Err(exit) => return exit.report("msgq-client"),
    };
    let result = match command {
        Command::Put(size) => client.put(size, opts.urgent),
        Command::Session => client.session(),
        Command::Batch => client.batch(),
        command => client.single(opts.urgent, &command),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(exit) => exit.report("msgq-client"),
    }
    // END SOLUTION
}

impl Client {
    /// Installs the signal handlers, then opens or creates the queue of `ftok(path, id)`.
    pub fn open(opts: &crate::cli::Options) -> Result<Client, Exit> {
        let _ = &opts;
        // BEGIN SOLUTION todo!("specs/msgq.md §4.1: open or create the queue")
        let pid = std::process::id() as i32;
        if pid < MIN_CLIENT_PID {
            return Err(fail(format!(
                "pid {pid} cannot be a reply type: it would collide with request types"
            )));
        }
        alarm::install().map_err(|e| fail(format!("sigaction: {}", e.desc())))?;
        let key = msg::ftok(&opts.path, opts.id)
            .map_err(|e| fail(format!("ftok {}: {}", opts.path.display(), e.desc())))?;
        let msgmax = msg::msgmax().map_err(|e| fail(format!("msgctl(IPC_INFO): {}", e.desc())))?;
        let (queue, created) =
            Queue::open_or_create(key).map_err(|e| fail(format!("msgget: {}", e.desc())))?;
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        Ok(Client {
            queue,
            created,
            replied: false,
            pid,
            msgmax,
            timeout: opts.timeout,
            seq_base: u64::from(nanos) << 32,
            buf: vec![0u8; MTYPE_LEN + msgmax],
        })
        // END SOLUTION
    }

    /// `sum`, `upper` or `shutdown` from the command line: one request, one line out.
    pub fn single(&mut self, urgent: bool, command: &Command) -> Result<(), Exit> {
        let _ = (&urgent, &command);
        // BEGIN SOLUTION todo!("specs/msgq.md §4.2: one request from the command line")
        if let Command::Upper(text) = command {
            self.check_length(text)?;
        }
        let seq = self.seq_base + 1;
        let msg = self.encode(urgent, command, seq);
        self.send(&msg)?;
        let status = self.await_reply(seq)?;
        if status != ST_OK {
            return Err(fail(format!("server error: {}", status_name(status))));
        }
        if *command == Command::Shutdown {
            self.acknowledge(seq)?;
        }
        let line = self.format(command);
        write_line(&line)
        // END SOLUTION
    }

    /// `session`: each standard-input line is a request, answered before the next is sent.
    pub fn session(&mut self) -> Result<(), Exit> {
        // BEGIN SOLUTION todo!("specs/msgq.md §4.4: session")
        let mut errors = false;
        let stdin = std::io::stdin();
        let mut input = stdin.lock();
        let mut line = Vec::new();
        for number in 1u64.. {
            line.clear();
            let n = input
                .read_until(b'\n', &mut line)
                .map_err(|e| fail(format!("standard input: {e}")))?;
            if n == 0 {
                break;
            }
            if line.last() == Some(&b'\n') {
                line.pop();
            }
            let out = match cli::parse_line(&line) {
                None => b"error: bad-line".to_vec(),
                Some((_, Command::Upper(t))) if self.check_length(&t).is_err() => {
                    b"error: too-long".to_vec()
                }
                Some((urgent, command)) => {
                    let seq = self.seq_base + number;
                    let msg = self.encode(urgent, &command, seq);
                    self.send(&msg)?;
                    match self.await_reply(seq)? {
                        ST_OK if command == Command::Shutdown => {
                            self.acknowledge(seq)?;
                            self.format(&command)
                        }
                        ST_OK => self.format(&command),
                        status => format!("error: {}", status_name(status)).into_bytes(),
                    }
                }
            };
            errors |= out.starts_with(b"error: ");
            write_line(&out)?;
        }
        if errors {
            Err(Exit::quiet(EXIT_FAILURE))
        } else {
            Ok(())
        }
        // END SOLUTION
    }

    /// `batch`: every line is sent before any reply is awaited (except when the queue is
    /// full); replies are printed in the order they arrive, each after its line number.
    pub fn batch(&mut self) -> Result<(), Exit> {
        // BEGIN SOLUTION todo!("specs/msgq.md §4.5: batch")
        let mut input = Vec::new();
        std::io::stdin()
            .lock()
            .read_to_end(&mut input)
            .map_err(|e| fail(format!("standard input: {e}")))?;
        if input.last() == Some(&b'\n') {
            input.pop();
        }
        let mut errors = false;
        let mut outstanding: HashMap<u64, Command> = HashMap::new();
        let lines: Vec<&[u8]> = if input.is_empty() {
            Vec::new()
        } else {
            input.split(|&b| b == b'\n').collect()
        };
        for (i, line) in lines.into_iter().enumerate() {
            let number = i as u64 + 1;
            let (urgent, command) = match cli::parse_line(line) {
                None => {
                    errors = true;
                    write_line(format!("{number} error: bad-line").as_bytes())?;
                    continue;
                }
                Some((_, Command::Upper(t))) if self.check_length(&t).is_err() => {
                    errors = true;
                    write_line(format!("{number} error: too-long").as_bytes())?;
                    continue;
                }
                Some(parsed) => parsed,
            };
            let seq = self.seq_base + number;
            let msg = self.encode(urgent, &command, seq);
            loop {
                match self.queue.send(&msg, libc::IPC_NOWAIT) {
                    Ok(()) => break,
                    Err(Errno::EINTR) => continue,
                    Err(Errno::EAGAIN) if !outstanding.is_empty() => {
                        errors |= self.print_batch_reply(&mut outstanding)?;
                    }
                    Err(Errno::EAGAIN) => {
                        self.send(&msg)?;
                        break;
                    }
                    Err(e) => return Err(self.give_up(wait_error(e), "sending")),
                }
            }
            outstanding.insert(seq, command);
        }
        while !outstanding.is_empty() {
            errors |= self.print_batch_reply(&mut outstanding)?;
        }
        if errors {
            Err(Exit::quiet(EXIT_FAILURE))
        } else {
            Ok(())
        }
        // END SOLUTION
    }

    /// `put SEGSIZE` (lesson §15, §21): creates a segment of `size` bytes, has the server
    /// attach it, then moves standard input through it in rounds of at most `size` bytes:
    /// fill, send "ready" (`OP_DATA`), wait for "ok". Prints the byte count and CRC-32.
    pub fn put(&mut self, size: usize, urgent: bool) -> Result<(), Exit> {
        let _ = (&size, &urgent);
        // BEGIN SOLUTION todo!("specs/msgq.md §4.3: the client side of a transfer")
        let mut segment = Segment::create_private(size)
            .map_err(|e| fail(format!("shmget of {size} bytes: {}", e.desc())))?;
        // Linux lets the server attach a segment already marked for removal, and the kernel
        // destroys it when the last process detaches or dies: nothing can be left behind.
        segment
            .mark_removed()
            .map_err(|e| fail(format!("shmctl(IPC_RMID): {}", e.desc())))?;
        let seq = self.seq_base + 1;
        let mut req = crate::proto::Request {
            mtype: if urgent { TYPE_URGENT } else { TYPE_NORMAL },
            pid: self.pid,
            op: OP_PUT,
            seq,
            a: i64::from(segment.id),
            b: size as i64,
            ..Default::default()
        };
        let mut msg = [0u8; HEADER_LEN];
        req.encode(&mut msg);
        self.send(&msg)?;
        let status = self.await_reply(seq)?;
        if status != ST_OK {
            return Err(fail(format!("server error: {}", status_name(status))));
        }
        let stdin = std::io::stdin();
        let mut input = stdin.lock();
        let mut total: u64 = 0;
        req.mtype = TYPE_DATA_BASE + c_long::from(self.pid);
        req.op = OP_DATA;
        req.b = 0;
        loop {
            let n = fill(&mut input, segment.as_mut_slice())
                .map_err(|e| fail(format!("standard input: {e}")))?;
            req.a = n as i64;
            req.encode(&mut msg);
            self.send(&msg)?;
            let status = self.await_reply(seq)?;
            if status != ST_OK {
                return Err(fail(format!("server error: {}", status_name(status))));
            }
            total += n as u64;
            if n == 0 {
                break;
            }
        }
        let reply = crate::proto::Reply::decode(&self.buf);
        if reply.value as u64 != total {
            return Err(fail(format!(
                "the server counted {} bytes, {total} were sent",
                reply.value
            )));
        }
        write_line(format!("{total} {:08x}", reply.digest as u32).as_bytes())
        // END SOLUTION
    }
    // BEGIN SOLUTION

    /// Refuses a text that would not fit in one message.
    fn check_length(&self, text: &[u8]) -> Result<(), Exit> {
        let limit = self.msgmax.saturating_sub(HEADER_MSGSZ);
        if text.len() > limit {
            return Err(fail(format!(
                "text of {} bytes refused: a message holds at most {limit} bytes of text \
                 (msgmax {} minus the {HEADER_MSGSZ}-byte header)",
                text.len(),
                self.msgmax
            )));
        }
        Ok(())
    }

    /// The whole message of a `sum`, `upper` or `shutdown` request.
    fn encode(&self, urgent: bool, command: &Command, seq: u64) -> Vec<u8> {
        let mut req = crate::proto::Request {
            mtype: if urgent { TYPE_URGENT } else { TYPE_NORMAL },
            pid: self.pid,
            seq,
            ..Default::default()
        };
        let text: &[u8] = match command {
            Command::Sum(a, b) => {
                (req.op, req.a, req.b) = (OP_SUM, *a, *b);
                &[]
            }
            Command::Upper(text) => {
                (req.op, req.len) = (OP_UPPER, text.len() as u32);
                text
            }
            _ => {
                req.op = OP_SHUTDOWN;
                &[]
            }
        };
        let mut msg = vec![0u8; HEADER_LEN + text.len()];
        req.encode(&mut msg);
        msg[HEADER_LEN..].copy_from_slice(text);
        msg
    }

    /// The output line for the successful reply in `self.buf`.
    fn format(&self, command: &Command) -> Vec<u8> {
        let reply = crate::proto::Reply::decode(&self.buf);
        match command {
            Command::Sum(..) => reply.value.to_string().into_bytes(),
            Command::Upper(_) => self.buf[HEADER_LEN..HEADER_LEN + reply.len as usize].to_vec(),
            _ => b"ok".to_vec(),
        }
    }

    /// Sends `msg`, waiting (bounded) while the queue is full.
    fn send(&mut self, msg: &[u8]) -> Result<(), Exit> {
        self.queue
            .send_until(msg, Deadline::after(self.timeout))
            .map_err(|e| self.give_up(e, "sending"))
    }

    /// Waits (bounded) for the reply to `seq`, leaves it in `self.buf`, returns its status.
    /// Replies to other `seq`s (stale ones) are dropped.
    fn await_reply(&mut self, seq: u64) -> Result<i32, Exit> {
        let deadline = Deadline::after(self.timeout);
        loop {
            let n = self
                .queue
                .recv_until(&mut self.buf, c_long::from(self.pid), deadline)
                .map_err(|e| self.give_up(e, "waiting for a reply"))?;
            let reply = crate::proto::Reply::decode(&self.buf);
            if n < HEADER_MSGSZ || n != HEADER_MSGSZ + reply.len as usize {
                return Err(fail(format!("malformed reply of {n} bytes")));
            }
            if reply.seq == seq {
                self.replied = true;
                return Ok(reply.status);
            }
            eprintln!("msgq-client: dropped a stale reply");
        }
    }

    /// Tells the server that the reply to `shutdown` has been read, so that it may remove
    /// the queue: a header typed `TYPE_DATA_BASE + pid` with `op = OP_SHUTDOWN`.
    fn acknowledge(&mut self, seq: u64) -> Result<(), Exit> {
        let ack = crate::proto::Request {
            mtype: TYPE_DATA_BASE + c_long::from(self.pid),
            pid: self.pid,
            op: OP_SHUTDOWN,
            seq,
            ..Default::default()
        };
        let mut msg = [0u8; HEADER_LEN];
        ack.encode(&mut msg);
        self.send(&msg)
    }

    /// Waits for one reply of a batch and prints it; `true` if it was an error.
    fn print_batch_reply(&mut self, outstanding: &mut HashMap<u64, Command>) -> Result<bool, Exit> {
        let deadline = Deadline::after(self.timeout);
        loop {
            let n = self
                .queue
                .recv_until(&mut self.buf, c_long::from(self.pid), deadline)
                .map_err(|e| self.give_up(e, "waiting for a reply"))?;
            let reply = crate::proto::Reply::decode(&self.buf);
            if n < HEADER_MSGSZ || n != HEADER_MSGSZ + reply.len as usize {
                return Err(fail(format!("malformed reply of {n} bytes")));
            }
            let Some(command) = outstanding.remove(&reply.seq) else {
                eprintln!("msgq-client: dropped a stale reply");
                continue;
            };
            self.replied = true;
            let number = reply.seq.wrapping_sub(self.seq_base);
            let mut line = format!("{number} ").into_bytes();
            let error = reply.status != ST_OK;
            if error {
                line.extend_from_slice(format!("error: {}", status_name(reply.status)).as_bytes());
            } else if command == Command::Shutdown {
                self.acknowledge(reply.seq)?;
                line.extend_from_slice(&self.format(&command));
            } else {
                line.extend_from_slice(&self.format(&command));
            }
            write_line(&line)?;
            return Ok(error);
        }
    }

    /// The exit after a wait for the server failed; removes the queue if this client created
    /// it and never heard from a server.
    fn give_up(&self, e: WaitError, doing: &str) -> Exit {
        if self.created && !self.replied {
            let _ = msg::remove_id(self.queue.id);
        }
        let ms = self.timeout.as_millis();
        match e {
            WaitError::TimedOut => Exit::new(
                EXIT_GAVE_UP,
                format!("no answer from the server within {ms} ms ({doing})"),
            ),
            WaitError::Removed => Exit::new(
                EXIT_GAVE_UP,
                format!("the queue was removed ({doing}): the server has gone"),
            ),
            WaitError::Terminated => fail("interrupted by a signal"),
            WaitError::Sys(e) => fail(format!("queue: {} ({doing})", e.desc())),
        }
    }
    // END SOLUTION
}
// BEGIN SOLUTION

/// A runtime failure.
fn fail(message: impl Into<String>) -> Exit {
    Exit::new(EXIT_FAILURE, message)
}

/// Maps the error of a non-blocking send to the errors of a wait.
fn wait_error(e: Errno) -> WaitError {
    match e {
        Errno::EIDRM | Errno::EINVAL => WaitError::Removed,
        e => WaitError::Sys(e),
    }
}

/// Writes `line` and a newline to standard output, flushed so that a reader sees it at once.
fn write_line(line: &[u8]) -> Result<(), Exit> {
    let mut out = std::io::stdout().lock();
    out.write_all(line)
        .and_then(|()| out.write_all(b"\n"))
        .and_then(|()| out.flush())
        .map_err(|e| fail(format!("standard output: {e}")))
}

/// Reads until `buf` is full or the input ends; returns the number of bytes read.
fn fill(input: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match input.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}
// END SOLUTION
