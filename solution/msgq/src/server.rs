//! `msgq-server` (specs/msgq.md §5): serves requests from one queue until `shutdown`.

use std::collections::VecDeque;
use std::process::ExitCode;
use std::time::Duration;

use crate::cli::Exit;
use crate::msg::Queue;
// BEGIN SOLUTION
use libc::c_long;
use nix::errno::Errno;

use crate::alarm::{self, Deadline, WaitError};
use crate::cli::{self, EXIT_FAILURE, EXIT_USAGE};
use crate::msg::{self, MTYPE_LEN};
use crate::proto::{
    Crc32, HEADER_LEN, HEADER_MSGSZ, MIN_CLIENT_PID, OP_DATA, OP_PUT, OP_SHUTDOWN, OP_SUM,
    OP_UPPER, REQUEST_TYPES, Reply, Request, ST_BAD_REQUEST, ST_BAD_SEGMENT, ST_OK, ST_OVERFLOW,
    ST_UNKNOWN_OP, TYPE_DATA_BASE, TYPE_URGENT, upper_in_place,
};
use crate::sysv_shm::Segment;
// END SOLUTION

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
    // BEGIN SOLUTION todo!("specs/msgq.md §5: parse, open the queue, serve until shutdown")
    let Some(opts) = cli::parse_server(args) else {
        return Exit::new(EXIT_USAGE, cli::SERVER_USAGE).report("msgq-server");
    };
    let exit = match Server::open(&opts) {
        Ok(mut server) => server.serve(),
        Err(exit) => exit,
    };
    exit.report("msgq-server")
    // END SOLUTION
}

impl Server {
    /// Installs the signal handlers, then opens or creates the queue of `ftok(path, id)`.
    pub fn open(opts: &crate::cli::Options) -> Result<Server, Exit> {
        let _ = &opts;
        // BEGIN SOLUTION todo!("specs/msgq.md §5.1: open or create the queue")
        alarm::install().map_err(|e| fail(format!("sigaction: {}", e.desc())))?;
        let key = msg::ftok(&opts.path, opts.id)
            .map_err(|e| fail(format!("ftok {}: {}", opts.path.display(), e.desc())))?;
        let (queue, _created) =
            Queue::open_or_create(key).map_err(|e| fail(format!("msgget: {}", e.desc())))?;
        alarm::remove_on_termination(queue.id);
        let msgmax = match msg::msgmax() {
            Ok(m) => m,
            Err(e) => {
                let _ = msg::remove_id(queue.id);
                return Err(fail(format!("msgctl(IPC_INFO): {}", e.desc())));
            }
        };
        Ok(Server {
            queue,
            msgmax,
            backlog: VecDeque::new(),
            timeout: opts.timeout,
        })
        // END SOLUTION
    }

    /// Serves requests until `shutdown` or a termination signal (both: the queue is removed,
    /// exit 0) or a failure (exit 1, queue removed).
    pub fn serve(&mut self) -> Exit {
        // BEGIN SOLUTION todo!("specs/msgq.md §5.2: the request loop")
        let mut buf = vec![0u8; MTYPE_LEN + self.msgmax];
        let exit = loop {
            if alarm::terminating() {
                break Exit::quiet(0);
            }
            let n = match self.next_request(&mut buf) {
                Ok(n) => n,
                Err(e) => break self.lost(e),
            };
            match self.handle(&mut buf, n) {
                Ok(false) => {}
                Ok(true) => break Exit::quiet(0),
                Err(exit) => break exit,
            }
        };
        let _ = msg::remove_id(self.queue.id);
        exit
        // END SOLUTION
    }

    /// Puts the next request into `buf` and returns the length of its text: the oldest urgent
    /// request, else the oldest normal one, whether in the backlog or on the queue. Blocks
    /// without bound while there is none.
    pub fn next_request(&mut self, buf: &mut [u8]) -> Result<usize, nix::errno::Errno> {
        let _ = &buf;
        // BEGIN SOLUTION todo!("specs/msgq.md §5.2: urgent before normal, backlog included")
        let urgent = self
            .backlog
            .iter()
            .position(|m| m[..MTYPE_LEN] == TYPE_URGENT.to_ne_bytes());
        if let Some(i) = urgent.or(if self.backlog.is_empty() {
            None
        } else {
            Some(0)
        }) {
            if urgent.is_none() {
                // Backlog holds only normal requests: an urgent one on the queue goes first.
                loop {
                    match self.queue.recv(buf, TYPE_URGENT, libc::IPC_NOWAIT) {
                        Ok(n) => return Ok(n),
                        Err(Errno::EINTR) => continue,
                        Err(Errno::ENOMSG) => break,
                        Err(e) => return Err(e),
                    }
                }
            }
            let m = self.backlog.remove(i).expect("index from position");
            buf[..m.len()].copy_from_slice(&m);
            return Ok(m.len() - MTYPE_LEN);
        }
        self.queue.recv_r(buf, -REQUEST_TYPES)
        // END SOLUTION
    }

    /// Serves the request of `n` bytes of text in `buf`; `true` after `shutdown`.
    pub fn handle(&mut self, buf: &mut [u8], n: usize) -> Result<bool, Exit> {
        let _ = (&buf, &n);
        // BEGIN SOLUTION todo!("specs/msgq.md §5.3: check the request, compute, reply")
        if n < HEADER_MSGSZ {
            let mtype = c_long::from_ne_bytes(buf[..MTYPE_LEN].try_into().expect("8 bytes"));
            eprintln!(
                "msgq-server: discarded a message of type {mtype} with {n} bytes of text: too short for a request"
            );
            return Ok(false);
        }
        let req = Request::decode(buf);
        if req.pid < MIN_CLIENT_PID {
            eprintln!(
                "msgq-server: discarded a request from pid {}: no reply type for it",
                req.pid
            );
            return Ok(false);
        }
        let mut reply = Reply {
            mtype: c_long::from(req.pid),
            status: ST_OK,
            op: req.op,
            seq: req.seq,
            ..Reply::default()
        };
        let header_only = n == HEADER_MSGSZ && req.len == 0;
        match req.op {
            OP_SUM if header_only => match req.a.checked_add(req.b) {
                Some(sum) => reply.value = sum,
                None => reply.status = ST_OVERFLOW,
            },
            OP_UPPER if n == HEADER_MSGSZ + req.len as usize => {
                let text = &mut buf[HEADER_LEN..HEADER_LEN + req.len as usize];
                upper_in_place(text);
                reply.len = req.len;
                reply.encode(buf);
                self.send_reply(&buf[..HEADER_LEN + req.len as usize])?;
                return Ok(false);
            }
            OP_SHUTDOWN if header_only => {
                self.send_reply(&header(&reply))?;
                // Removing the queue now would destroy the reply before the client reads it:
                // wait (bounded) for its acknowledgement first.
                let ack = TYPE_DATA_BASE + c_long::from(req.pid);
                match self
                    .queue
                    .recv_until(buf, ack, Deadline::after(self.timeout))
                {
                    Ok(_) | Err(WaitError::TimedOut) => {}
                    Err(e) => return Err(self.stopped(e)),
                }
                return Ok(true);
            }
            OP_PUT if header_only => {
                self.transfer(buf, &req)?;
                return Ok(false);
            }
            OP_SUM | OP_UPPER | OP_SHUTDOWN | OP_PUT | OP_DATA => reply.status = ST_BAD_REQUEST,
            _ => reply.status = ST_UNKNOWN_OP,
        }
        self.send_reply(&header(&reply))?;
        Ok(false)
        // END SOLUTION
    }

    /// Sends `reply` without ever deadlocking on a full queue: when it does not fit, requests
    /// are taken off the queue into the backlog to make room; when the queue holds none, the
    /// send is retried until `--timeout` and then the reply is dropped.
    pub fn send_reply(&mut self, reply: &[u8]) -> Result<(), Exit> {
        let _ = &reply;
        // BEGIN SOLUTION todo!("specs/msgq.md §5.4: reply without deadlocking on a full queue")
        let deadline = Deadline::after(self.timeout);
        loop {
            match self.queue.send(reply, libc::IPC_NOWAIT) {
                Ok(()) => return Ok(()),
                Err(Errno::EAGAIN | Errno::EINTR) => {}
                Err(e) => return Err(self.lost(e)),
            }
            if self.backlog.len() < BACKLOG_MAX {
                let mut m = vec![0u8; MTYPE_LEN + self.msgmax];
                match self.queue.recv(&mut m, -REQUEST_TYPES, libc::IPC_NOWAIT) {
                    Ok(n) => {
                        m.truncate(MTYPE_LEN + n);
                        self.backlog.push_back(m);
                        continue;
                    }
                    Err(Errno::ENOMSG | Errno::EINTR) => {}
                    Err(e) => return Err(self.lost(e)),
                }
            }
            let Some(left) = deadline.remaining() else {
                let to = c_long::from_ne_bytes(reply[..MTYPE_LEN].try_into().expect("8 bytes"));
                eprintln!(
                    "msgq-server: reply to pid {to} dropped: the queue stayed full for {} ms",
                    self.timeout.as_millis()
                );
                return Ok(());
            };
            match self
                .queue
                .send_until(reply, Deadline::after(left.min(FULL_RETRY)))
            {
                Ok(()) => return Ok(()),
                Err(WaitError::TimedOut) => {}
                Err(e) => return Err(self.stopped(e)),
            }
        }
        // END SOLUTION
    }

    /// Serves a `put` (lesson §15, §21): attaches the client's segment, then for each round
    /// waits (bounded) for "ready" (`OP_DATA`), reads the bytes in place and answers "ok".
    pub fn transfer(&mut self, buf: &mut [u8], req: &crate::proto::Request) -> Result<(), Exit> {
        let _ = (&buf, &req);
        // BEGIN SOLUTION todo!("specs/msgq.md §5.5: the server side of a transfer")
        let mut reply = Reply {
            mtype: c_long::from(req.pid),
            status: ST_OK,
            op: OP_PUT,
            seq: req.seq,
            ..Reply::default()
        };
        let size = req.b;
        let segment = match i32::try_from(req.a) {
            Ok(id) if id >= 0 && size > 0 => Segment::attach(id, false)
                .ok()
                .filter(|s| s.len() as u64 >= size as u64),
            _ => None,
        };
        let Some(segment) = segment else {
            reply.status = ST_BAD_SEGMENT;
            return self.send_reply(&header(&reply));
        };
        let mut crc = Crc32::default();
        reply.digest = u64::from(crc.value());
        self.send_reply(&header(&reply))?;
        let data_type = TYPE_DATA_BASE + c_long::from(req.pid);
        loop {
            let n = match self
                .queue
                .recv_until(buf, data_type, Deadline::after(self.timeout))
            {
                Ok(n) => n,
                Err(WaitError::TimedOut) => {
                    eprintln!(
                        "msgq-server: transfer from pid {} abandoned: no data within {} ms",
                        req.pid,
                        self.timeout.as_millis()
                    );
                    return Ok(());
                }
                Err(e) => return Err(self.stopped(e)),
            };
            let data = Request::decode(buf);
            reply.op = OP_DATA;
            reply.seq = data.seq;
            if n != HEADER_MSGSZ || data.op != OP_DATA || data.a < 0 || data.a > size {
                reply.status = ST_BAD_REQUEST;
                eprintln!(
                    "msgq-server: transfer from pid {} abandoned: malformed round",
                    req.pid
                );
                return self.send_reply(&header(&reply));
            }
            crc.update(&segment.as_slice()[..data.a as usize]);
            reply.value += data.a;
            reply.digest = u64::from(crc.value());
            self.send_reply(&header(&reply))?;
            if data.a == 0 {
                return Ok(());
            }
        }
        // END SOLUTION
    }
    // BEGIN SOLUTION

    /// The exit for a failed call on the queue.
    fn lost(&self, e: Errno) -> Exit {
        match e {
            Errno::EIDRM | Errno::EINVAL => self.stopped(WaitError::Removed),
            e => fail(format!("queue: {}", e.desc())),
        }
    }

    /// The exit for a wait that ended without success.
    fn stopped(&self, e: WaitError) -> Exit {
        match e {
            _ if alarm::terminating() => Exit::quiet(0),
            WaitError::Terminated => Exit::quiet(0),
            WaitError::Removed => fail("the queue was removed while the server was using it"),
            WaitError::TimedOut => fail("timed out"),
            WaitError::Sys(e) => fail(format!("queue: {}", e.desc())),
        }
    }
    // END SOLUTION
}
// BEGIN SOLUTION

/// A runtime failure.
fn fail(message: impl Into<String>) -> Exit {
    Exit::new(EXIT_FAILURE, message)
}

/// `reply` as a header-only message.
fn header(reply: &Reply) -> [u8; HEADER_LEN] {
    let mut buf = [0u8; HEADER_LEN];
    reply.encode(&mut buf);
    buf
}
// END SOLUTION
