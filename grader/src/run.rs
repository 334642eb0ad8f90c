//! Running a student's program as a real process: its own process group, stdin fed and
//! stdout/stderr drained by threads so that no pipe can deadlock (and that stop once the run
//! is over, whoever still holds the pipes), a time limit enforced on the whole group (TERM, a
//! grace period, then KILL), output captured up to a cap, and the exit status, signal, CPU
//! time and leftover processes recorded.

use std::ffi::OsString;
use std::fmt;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

use crate::confine::{self, Sandbox};
use crate::faults::{self, Faults};
use crate::stream::{Comparer, Mismatch, Stream};
use crate::sys;

/// Bytes of stdout or stderr kept for the report; the rest is counted and dropped.
pub const OUTPUT_CAP: usize = 64 * 1024;
/// After TERM, how long the group has to exit before KILL.
pub const GRACE: Duration = Duration::from_millis(300);
/// After the program exits, how long its descendants may keep its output open.
pub const OUTPUT_LINGER: Duration = Duration::from_millis(100);
/// How long the threads that feed stdin and drain stdout and stderr take at most to notice
/// that the run is over: they never block longer than this in one system call.
const IO_TICK: Duration = Duration::from_millis(20);
/// Once the run is over, how long a drain still reads what its pipe holds (a process that
/// escaped the group may keep writing; it is not waited for).
const DRAIN_AFTER_END: Duration = Duration::from_millis(200);

/// What a run reads on stdin.
pub enum Input {
    /// `/dev/null`.
    Null,
    /// These bytes, then end-of-file.
    Bytes(Vec<u8>),
    /// A generated stream, then end-of-file.
    Stream(Stream),
    /// An open file (shared between runs, for instance).
    File(File),
    /// `n` zero bytes, then end-of-file: the cheapest input, for throughput checks.
    Zeros(u64),
    /// A pipe the check holds: write to it with [`Running::stdin`], close it with
    /// [`Running::close_stdin`] (or let the run end).
    Held,
}

/// Where a run's stdout goes.
pub enum Output {
    /// Captured up to [`OUTPUT_CAP`].
    Capture,
    /// Compared, as it streams, with an expected stream.
    Compare(Stream),
    /// An open file (several runs may share one).
    File(File),
    /// Counted and dropped: the cheapest output, for throughput checks.
    Count,
}

/// A process to start.
pub struct Spec {
    /// The program's path.
    pub program: PathBuf,
    /// Its arguments, without `argv[0]`.
    pub args: Vec<OsString>,
    /// Variables added to the grader's environment.
    pub env: Vec<(OsString, OsString)>,
    /// Its working directory (the check's own temporary directory).
    pub cwd: PathBuf,
    /// Its stdin.
    pub stdin: Input,
    /// Its stdout (stderr is always captured).
    pub stdout: Output,
    /// Whether to pin the process (and what it starts) to one CPU.
    pub cpu: Option<usize>,
    /// Limits and user to run under ([`Ctx`](crate::check::Ctx) sets the check's).
    pub sandbox: Option<Sandbox>,
    /// Faults to inject into the program ([`crate::faults`]).
    pub faults: Option<Faults>,
}

impl Spec {
    /// A run of `program` with no arguments, stdin from `/dev/null`, stdout captured.
    pub fn new(program: impl Into<PathBuf>, cwd: impl Into<PathBuf>) -> Spec {
        Spec {
            program: program.into(),
            args: Vec::new(),
            env: Vec::new(),
            cwd: cwd.into(),
            stdin: Input::Null,
            stdout: Output::Capture,
            cpu: None,
            sandbox: None,
            faults: None,
        }
    }

    /// Preloads the fault-injection library into the program (and into whatever it runs from
    /// the same folder): short reads and writes, `EINTR` (see [`crate::faults`]).
    pub fn with_faults(mut self, faults: Faults) -> Spec {
        self.faults = Some(faults);
        self
    }

    /// Adds arguments.
    pub fn args<I, S>(mut self, args: I) -> Spec
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Sets stdin.
    pub fn stdin(mut self, input: Input) -> Spec {
        self.stdin = input;
        self
    }

    /// Sets stdout.
    pub fn stdout(mut self, output: Output) -> Spec {
        self.stdout = output;
        self
    }

    /// Adds an environment variable.
    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Spec {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Runs the process under `sandbox`'s limits and user.
    pub fn sandbox(mut self, sandbox: Sandbox) -> Spec {
        self.sandbox = Some(sandbox);
        self
    }

    /// Pins the process to one CPU.
    pub fn on_cpu(mut self, cpu: usize) -> Spec {
        self.cpu = Some(cpu);
        self
    }

    /// The command line, quoted for a POSIX shell, to reproduce the run by hand.
    /// With the environment the check set (fault injection included) in front, and what stdin
    /// was: exactly where a shell can say it (`/dev/null`, zeros, a few bytes), else in words.
    pub fn command_line(&self) -> String {
        let mut words: Vec<String> = Vec::new();
        let faults = self.faults.map(|f| {
            f.env(
                Path::new(faults::LIBRARY),
                self.program.parent().unwrap_or(Path::new("/")),
            )
        });
        for (key, value) in self.env.iter().chain(faults.iter().flatten()) {
            words.push(format!(
                "{}={}",
                key.to_string_lossy(),
                shell_quote(&value.to_string_lossy())
            ));
        }
        words.extend(
            std::iter::once(self.program.as_os_str())
                .chain(self.args.iter().map(|a| a.as_os_str()))
                .map(|w| shell_quote(&w.to_string_lossy())),
        );
        let command = words.join(" ");
        match &self.stdin {
            Input::Null => format!("{command} < /dev/null"),
            Input::Zeros(n) => format!("head -c {n} /dev/zero | {command}"),
            Input::Bytes(b) if b.len() <= 256 => {
                let text: String = b
                    .iter()
                    .map(|&c| match c {
                        b'\\' => "\\\\".to_string(),
                        b'%' => "%%".to_string(),
                        b' '..=b'~' if c != b'\'' => (c as char).to_string(),
                        _ => format!("\\{c:03o}"),
                    })
                    .collect();
                format!("printf '{text}' | {command}")
            }
            Input::Bytes(b) => format!("{command}  # stdin: {} bytes the check made", b.len()),
            Input::Stream(st) => format!(
                "{command}  # stdin: a {}-byte stream the grader generates (seed {})",
                st.len, st.seed
            ),
            Input::File(_) => format!("{command}  # stdin: a file the check made"),
            Input::Held => format!("{command}  # stdin: a pipe the check wrote to as it went"),
        }
    }
}

/// Quotes one word for a POSIX shell, leaving plain words as they are.
pub fn shell_quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./=:,+@%".contains(&b));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// Captured output: the first [`OUTPUT_CAP`] bytes and the total length.
#[derive(Debug, Clone, Default)]
pub struct Captured {
    /// The bytes kept.
    pub bytes: Vec<u8>,
    /// How many bytes were written in all.
    pub total: u64,
}

impl Captured {
    /// The kept bytes as text, invalid UTF-8 replaced.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes).into_owned()
    }

    /// Whether more was written than kept.
    pub fn truncated(&self) -> bool {
        self.total > self.bytes.len() as u64
    }
}

/// How a process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// It exited with this code.
    Exited(i32),
    /// A signal ended it; `by_grader` if the grader sent it (time limit, or a check's kill).
    Signaled { signal: i32, by_grader: bool },
}

impl fmt::Display for End {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            End::Exited(code) => write!(f, "exit status {code}"),
            End::Signaled { signal, .. } => write!(f, "{}", signal_name(*signal)),
        }
    }
}

/// "signal 11 (SIGSEGV)".
pub fn signal_name(signal: i32) -> String {
    match Signal::try_from(signal) {
        Ok(s) => format!("signal {signal} ({})", s.as_str()),
        Err(_) => format!("signal {signal}"),
    }
}

/// A process left in the run's group after the program itself exited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leftover {
    /// Its pid.
    pub pid: i32,
    /// Its command name (`/proc/PID/comm`).
    pub comm: String,
    /// Whether it had exited and waited to be reaped (a zombie) rather than still running.
    pub zombie: bool,
}

/// What a run did.
#[derive(Debug, Clone)]
pub struct Finished {
    /// The command line, to reproduce it.
    pub command: String,
    /// How it ended.
    pub end: End,
    /// Whether the time limit ended it.
    pub timed_out: bool,
    /// Wall time from start to exit.
    pub wall: Duration,
    /// CPU time of the process and of the descendants it waited for.
    pub cpu: Duration,
    /// Its stdout, when captured.
    pub stdout: Captured,
    /// Its stderr.
    pub stderr: Captured,
    /// For a compared stdout: `Some(None)` if it matched, `Some(Some(m))` at the first mismatch.
    pub compared: Option<Option<Mismatch>>,
    /// Processes of its group still there when it exited.
    pub leftovers: Vec<Leftover>,
    /// What each process of its group was doing when the time limit came (empty if it ended
    /// in time): what a timed-out check waited for.
    pub at_limit: Vec<Doing>,
}

/// What a process was doing at a run's time limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Doing {
    /// `pid N (name): running…` or `…: sleeping in read (pipe_read)`, for the report.
    pub line: String,
    /// Whether it was running on a CPU rather than waiting.
    pub running: bool,
}

impl Finished {
    /// The exit code, if it exited.
    pub fn code(&self) -> Option<i32> {
        match self.end {
            End::Exited(code) => Some(code),
            End::Signaled { .. } => None,
        }
    }

    /// The message of a `todo!()` the program panicked on, if it did.
    pub fn todo_message(&self) -> Option<String> {
        let text = self.stderr.text();
        if !text.contains("panicked at") {
            return None;
        }
        let line = text.lines().find(|l| l.contains("not yet implemented"))?;
        let message = line
            .split_once("not yet implemented: ")
            .map(|(_, m)| m)
            .unwrap_or("");
        Some(message.trim().to_string())
    }
}

/// A started process.
pub struct Running {
    command: String,
    child: Child,
    pidfd: std::os::fd::OwnedFd,
    started: Instant,
    killed: Option<Signal>,
    held: Option<std::process::ChildStdin>,
    stdin: Option<thread::JoinHandle<()>>,
    /// Set when the run is over: the feeder and the drains stop then, whoever still holds
    /// their pipes (a process that left the group with `setsid` and neither reads nor closes).
    over: Arc<AtomicBool>,
    stdout: Option<mpsc::Receiver<(Captured, Option<Option<Mismatch>>)>>,
    stderr: mpsc::Receiver<(Captured, Option<Option<Mismatch>>)>,
}

/// Starts `spec` in a process group of its own.
pub fn spawn(spec: Spec) -> io::Result<Running> {
    let command = spec.command_line();
    let mut cmd = Command::new(&spec.program);
    cmd.args(&spec.args)
        .current_dir(&spec.cwd)
        .env("RUST_BACKTRACE", "0")
        .env("LC_ALL", "C")
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .process_group(0)
        .stderr(Stdio::piped());
    if let Some(sandbox) = spec.sandbox {
        confine::apply(&mut cmd, sandbox);
    }
    if let Some(f) = spec.faults {
        // A check that asked for faults and runs without them would pass for nothing: this is
        // the grader's failure, reported as such.
        let library = faults::library().unwrap_or_else(|| {
            panic!(
                "the fault-injection library {} is not built: run `cargo build --release`",
                faults::LIBRARY
            )
        });
        let only = spec.program.parent().unwrap_or(Path::new("/"));
        cmd.envs(f.env(&library, only));
    }
    match &spec.stdin {
        Input::Null => cmd.stdin(Stdio::null()),
        Input::File(f) => cmd.stdin(f.try_clone()?),
        Input::Bytes(_) | Input::Stream(_) | Input::Zeros(_) | Input::Held => {
            cmd.stdin(Stdio::piped())
        }
    };
    match &spec.stdout {
        Output::File(f) => cmd.stdout(f.try_clone()?),
        Output::Capture | Output::Compare(_) | Output::Count => cmd.stdout(Stdio::piped()),
    };
    // The clock starts before the fork, so that a run's wall time is never shorter than the
    // time the program itself measured (a program that waits 300 ms takes 300 ms or more).
    let started = Instant::now();
    // A pinned run is forked from this thread pinned to its CPU: the program inherits the
    // affinity before it runs, and so does every process it starts, however early.
    let mut child = pinned(spec.cpu, || confine::in_check_namespace(|| cmd.spawn()))?;
    let pid = child.id() as i32;
    let pidfd = sys::pidfd_open(pid)?;
    let mut held = None;
    let mut stdin = None;
    let over = Arc::new(AtomicBool::new(false));
    if let Some(pipe) = child.stdin.take() {
        match spec.stdin {
            Input::Held => held = Some(pipe),
            input => {
                let mut pipe = Bounded::new(pipe, over.clone());
                stdin = Some(thread::spawn(move || {
                    let _ = match input {
                        Input::Bytes(bytes) => pipe.write_all(&bytes),
                        Input::Stream(stream) => stream.write_to(&mut pipe),
                        Input::Zeros(n) => write_zeros(&mut pipe, n),
                        Input::Null | Input::File(_) | Input::Held => Ok(()),
                    };
                }));
            }
        }
    }
    let stdout = child.stdout.take().map(|pipe| {
        let pipe = Bounded::new(pipe, over.clone());
        match spec.stdout {
            Output::Compare(stream) => drain(pipe, Sink::Compare(stream)),
            Output::Count => drain(pipe, Sink::Count),
            _ => drain(pipe, Sink::Capture),
        }
    });
    let stderr = child.stderr.take().expect("stderr is piped");
    let stderr = drain(Bounded::new(stderr, over.clone()), Sink::Capture);
    Ok(Running {
        command,
        child,
        pidfd,
        started,
        killed: None,
        held,
        stdin,
        over,
        stdout,
        stderr,
    })
}

/// Runs `f` with the calling thread pinned to `cpu` (if any), then restores its affinity. Best
/// effort: a machine with one CPU has nothing to choose.
fn pinned<T>(cpu: Option<usize>, f: impl FnOnce() -> T) -> T {
    use nix::sched::{CpuSet, sched_getaffinity, sched_setaffinity};
    let this = Pid::from_raw(0);
    let Some(cpu) = cpu else {
        return f();
    };
    let before = sched_getaffinity(this).ok();
    let mut set = CpuSet::new();
    if set.set(cpu % CpuSet::count()).is_ok() {
        let _ = sched_setaffinity(this, &set);
    }
    let result = f();
    if let Some(before) = before {
        let _ = sched_setaffinity(this, &before);
    }
    result
}

type Drained = (Captured, Option<Option<Mismatch>>);

/// Writes `n` zero bytes; a reader that stops early ends it without error.
fn write_zeros(out: &mut impl Write, mut n: u64) -> io::Result<()> {
    let zeros = vec![0u8; crate::stream::CHUNK];
    while n > 0 {
        let take = n.min(zeros.len() as u64) as usize;
        match out.write_all(&zeros[..take]) {
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return Ok(()),
            other => other?,
        }
        n -= take as u64;
    }
    Ok(())
}

/// One end of a pipe to the program, made non-blocking, whose reads and writes wait in `poll`
/// for at most [`IO_TICK`] at a time and give up once the run is `over`: a write then fails
/// as a broken pipe would (the feeder stops as when the program stops reading), a read ends
/// as at end-of-file once the pipe is empty, or [`DRAIN_AFTER_END`] after the end. No
/// thread of the grader waits on a pipe longer than the run lasts, whoever else holds it.
struct Bounded<P> {
    pipe: P,
    over: Arc<AtomicBool>,
    ended_at: Option<Instant>,
}

impl<P: std::os::fd::AsFd> Bounded<P> {
    fn new(pipe: P, over: Arc<AtomicBool>) -> Bounded<P> {
        use nix::fcntl::{FcntlArg, OFlag, fcntl};
        // The grader's end of the pipe is a file description of its own: the program's end
        // stays blocking.
        if let Ok(flags) = fcntl(pipe.as_fd(), FcntlArg::F_GETFL) {
            let flags = OFlag::from_bits_retain(flags) | OFlag::O_NONBLOCK;
            let _ = fcntl(pipe.as_fd(), FcntlArg::F_SETFL(flags));
        }
        Bounded {
            pipe,
            over,
            ended_at: None,
        }
    }

    /// Waits until the pipe is ready for `events` or [`IO_TICK`] has passed.
    fn tick(&self, events: nix::poll::PollFlags) {
        use nix::poll::{PollFd, PollTimeout, poll};
        let mut fds = [PollFd::new(self.pipe.as_fd(), events)];
        let ms = PollTimeout::try_from(IO_TICK.as_millis() as i32).unwrap_or(PollTimeout::MAX);
        let _ = poll(&mut fds, ms);
    }

    fn over(&self) -> bool {
        self.over.load(Ordering::Relaxed)
    }
}

impl<P: std::os::fd::AsFd + Write> Write for Bounded<P> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        loop {
            if self.over() {
                return Err(io::ErrorKind::BrokenPipe.into());
            }
            match self.pipe.write(buf) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.tick(nix::poll::PollFlags::POLLOUT)
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                other => return other,
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<P: std::os::fd::AsFd + Read> Read for Bounded<P> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.over() {
                let ended_at = *self.ended_at.get_or_insert_with(Instant::now);
                if ended_at.elapsed() > DRAIN_AFTER_END {
                    return Ok(0);
                }
            }
            match self.pipe.read(buf) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if self.over() {
                        return Ok(0);
                    }
                    self.tick(nix::poll::PollFlags::POLLIN)
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                other => return other,
            }
        }
    }
}

/// What [`drain`] does with the bytes.
enum Sink {
    Capture,
    Compare(Stream),
    Count,
}

/// Reads a pipe to its end on a thread of its own: captured, compared with a stream, or only
/// counted.
fn drain(mut pipe: impl Read + Send + 'static, sink: Sink) -> mpsc::Receiver<Drained> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut captured = Captured::default();
        let keep = matches!(sink, Sink::Capture);
        let mut comparer = match &sink {
            Sink::Compare(stream) => Some(Comparer::new(stream)),
            _ => None,
        };
        let mut buf = vec![0u8; crate::stream::CHUNK];
        loop {
            match pipe.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    captured.total += n as u64;
                    match comparer.as_mut() {
                        Some(c) => {
                            let _ = c.write_all(&buf[..n]);
                        }
                        None if keep => {
                            let room = OUTPUT_CAP.saturating_sub(captured.bytes.len());
                            captured.bytes.extend_from_slice(&buf[..n.min(room)]);
                        }
                        None => {}
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => break,
            }
        }
        let _ = tx.send((captured, comparer.map(Comparer::finish)));
    });
    rx
}

impl Running {
    /// The process's pid (also its process group's id).
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// The held stdin pipe ([`Input::Held`]), while it is open.
    pub fn stdin(&mut self) -> Option<&mut std::process::ChildStdin> {
        self.held.as_mut()
    }

    /// Closes the held stdin pipe: the program reads end-of-file.
    pub fn close_stdin(&mut self) {
        self.held = None;
    }

    /// Time since it started.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// Sends `signal` to the whole group, as the check's own action (not a crash).
    pub fn signal_group(&mut self, signal: Signal) {
        self.killed = Some(signal);
        let _ = killpg(Pid::from_raw(self.pid()), signal);
    }

    /// Waits (until `deadline`) for the process to exit, and reads its `/proc/PID/io` before
    /// it is reaped: the bytes it moved through `read` and `write` in its whole life.
    pub fn io_at_exit(&self, deadline: Instant) -> Option<crate::procfs::Io> {
        crate::procfs::poll_until(deadline, || self.has_exited());
        crate::procfs::io(self.pid())
    }

    /// Whether the process has exited (it is not reaped yet).
    pub fn has_exited(&self) -> bool {
        sys::wait_readable(&self.pidfd, Duration::ZERO).unwrap_or(true)
    }

    /// Waits for the process until `deadline`, then ends its group (TERM, [`GRACE`], KILL);
    /// collects its output and whatever processes it left in its group, and kills those.
    pub fn wait(mut self, deadline: Instant) -> Finished {
        let pid = self.pid();
        let mut timed_out = false;
        let mut at_limit = Vec::new();
        let reaped = loop {
            if let Ok(Some(r)) = sys::wait4_nohang(pid) {
                break r;
            }
            let now = Instant::now();
            if now >= deadline && !timed_out {
                timed_out = true;
                at_limit = doing(pid);
                self.killed = Some(Signal::SIGTERM);
                let _ = killpg(Pid::from_raw(pid), Signal::SIGTERM);
                if !sys::wait_readable(&self.pidfd, GRACE).unwrap_or(false) {
                    self.killed = Some(Signal::SIGKILL);
                    let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
                    // The process itself too, should it have moved to another group: it is
                    // not reaped, so the pid is still its own.
                    let _ = nix::sys::signal::kill(Pid::from_raw(pid), Signal::SIGKILL);
                }
                continue;
            }
            let left = if timed_out {
                Duration::from_millis(50)
            } else {
                deadline - now
            };
            let _ = sys::wait_readable(&self.pidfd, left);
        };
        let wall = self.started.elapsed();
        self.held = None;
        let leftovers = group_members(pid);
        // Descendants that still hold stdout or stderr get a moment to finish writing.
        let linger = Instant::now() + OUTPUT_LINGER;
        let stderr_early = self.stderr.recv_timeout(OUTPUT_LINGER);
        let stdout_early = self
            .stdout
            .as_ref()
            .map(|rx| rx.recv_timeout(linger.saturating_duration_since(Instant::now())));
        end_group(pid);
        // What is left holding the pipes escaped the group: the drains take what the pipes
        // hold and stop, the feeder stops (none of them waits for such a process).
        self.over.store(true, Ordering::Relaxed);
        let stderr = stderr_early
            .or_else(|_| self.stderr.recv_timeout(Duration::from_secs(2)))
            .map(|(c, _)| c)
            .unwrap_or_default();
        let (stdout, compared) = match (stdout_early, self.stdout.as_ref()) {
            (Some(Ok(d)), _) => d,
            (Some(Err(_)), Some(rx)) => rx.recv_timeout(Duration::from_secs(2)).unwrap_or_default(),
            _ => Default::default(),
        };
        if let Some(feeder) = self.stdin.take() {
            // The run is over: the feeder's next write fails at once, or within one tick of a
            // write that waits for room in the pipe.
            let _ = feeder.join();
        }
        let status = reaped.status;
        let end = if libc::WIFSIGNALED(status) {
            let signal = libc::WTERMSIG(status);
            End::Signaled {
                signal,
                by_grader: self.killed.is_some_and(|s| s as i32 == signal),
            }
        } else {
            End::Exited(libc::WEXITSTATUS(status))
        };
        Finished {
            command: std::mem::take(&mut self.command),
            end,
            timed_out,
            at_limit,
            wall,
            cpu: reaped.cpu,
            stdout,
            stderr,
            compared,
            leftovers,
        }
    }
}

impl Drop for Running {
    /// A run dropped without [`Running::wait`] (a check that returned early, whose group
    /// [`crate::check::Ctx`] ends) stops its feeder and drains too.
    fn drop(&mut self) {
        self.over.store(true, Ordering::Relaxed);
    }
}

/// The processes whose process group is `pgid`, read from `/proc`.
pub fn group_members(pgid: i32) -> Vec<Leftover> {
    crate::procfs::processes()
        .into_iter()
        .filter(|p| p.pgrp == pgid)
        .map(|p| Leftover {
            pid: p.pid,
            comm: p.comm,
            zombie: p.state == 'Z',
        })
        .collect()
}

/// What each process of group `pgid` is doing, a line each: running, or sleeping in which
/// system call and kernel wait (`/proc/PID/syscall`, `/proc/PID/wchan`).
fn doing(pgid: i32) -> Vec<Doing> {
    crate::procfs::processes()
        .into_iter()
        .filter(|p| p.pgrp == pgid)
        .map(|p| {
            let what = match p.state {
                'R' => "running on a CPU".to_string(),
                'Z' => "exited, not yet waited for by its parent".to_string(),
                'T' | 't' => "stopped".to_string(),
                _ => match crate::procfs::syscall(p.pid) {
                    Some(nr) => format!(
                        "sleeping in {} ({})",
                        crate::procfs::syscall_name(nr),
                        crate::procfs::wchan(p.pid)
                    ),
                    None => format!("state {}", p.state),
                },
            };
            Doing {
                line: format!("pid {} ({}): {what}", p.pid, p.comm),
                running: p.state == 'R',
            }
        })
        .collect()
}

/// Kills every process of group `pgid` and reaps those that were handed to the grader (it is
/// the child subreaper of everything it starts).
pub fn end_group(pgid: i32) {
    let group = Pid::from_raw(pgid);
    let _ = killpg(group, Signal::SIGKILL);
    let give_up = Instant::now() + Duration::from_secs(2);
    loop {
        while let Ok(status) = nix::sys::wait::waitpid(
            Pid::from_raw(-pgid),
            Some(nix::sys::wait::WaitPidFlag::WNOHANG),
        ) {
            if status == nix::sys::wait::WaitStatus::StillAlive {
                break;
            }
        }
        if group_members(pgid).is_empty() || Instant::now() > give_up {
            return;
        }
        thread::sleep(Duration::from_millis(5));
    }
}

/// Reaps every exited child of the grader that nobody else will wait for: processes of
/// finished groups reparented to it. Call only when no run is in progress.
pub fn reap_orphans() {
    use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
    while let Ok(status) = waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
        if status == WaitStatus::StillAlive {
            break;
        }
    }
}

/// Kills every descendant of the grader and reaps them, until none is left (or 10 s have
/// passed). Being the child subreaper, the grader inherits every process its runs orphaned,
/// even one that left its process group with `setsid`: when no run is in progress, every
/// descendant is a leftover. Call only between checks.
pub fn end_descendants() {
    let me = std::process::id() as i32;
    let give_up = Instant::now() + Duration::from_secs(10);
    loop {
        let found = descendants(me);
        if found.is_empty() || Instant::now() > give_up {
            return;
        }
        for pid in found {
            let _ = nix::sys::signal::kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
        reap_orphans();
        thread::sleep(Duration::from_millis(5));
        reap_orphans();
    }
}

/// The live descendants of `ancestor`, from the parent links in `/proc` and the children of
/// every thread (`/proc/PID/task/*/children`, where the kernel has it). A process whose main
/// thread exited while another thread lives on reads as a zombie in `/proc/PID/stat` and is
/// alive ([`crate::procfs::stat`]): it is found, and so are its children. Zombies (processes
/// whose every thread has exited) are walked through but not listed.
pub fn descendants(ancestor: i32) -> Vec<i32> {
    use std::collections::{BTreeSet, HashMap};
    let all = crate::procfs::processes();
    let live: HashMap<i32, bool> = all.iter().map(|p| (p.pid, p.state != 'Z')).collect();
    let mut children: HashMap<i32, BTreeSet<i32>> = HashMap::new();
    for p in &all {
        children.entry(p.ppid).or_default().insert(p.pid);
    }
    let mut found = BTreeSet::new();
    let mut seen = BTreeSet::from([ancestor]);
    let mut next = vec![ancestor];
    while let Some(pid) = next.pop() {
        let mut kids = children.get(&pid).cloned().unwrap_or_default();
        kids.extend(crate::procfs::thread_children(pid));
        for kid in kids {
            if !seen.insert(kid) {
                continue;
            }
            if live.get(&kid).copied().unwrap_or(true) {
                found.insert(kid);
            }
            next.push(kid);
        }
    }
    found.into_iter().collect()
}

/// Makes the grader the child subreaper of everything it starts, so that a process whose
/// parent exits is handed to the grader, which then finds and ends it. Sets close-on-exec on
/// every descriptor it inherited.
pub fn init() {
    let _ = nix::sys::prctl::set_child_subreaper(true);
    let _ = sys::cloexec_from_3();
}

/// What descriptor `fd` of process `pid` refers to, as `/proc/PID/fd/FD` shows it
/// (`pipe:[12345]`), for checks that must know whether a program passed a pipe on.
pub fn fd_target(pid: i32, fd: i32) -> Option<String> {
    std::fs::read_link(format!("/proc/{pid}/fd/{fd}"))
        .ok()
        .map(|p| p.to_string_lossy().into_owned())
}

/// The open descriptors of process `pid` and what each refers to, from `/proc/PID/fd`.
pub fn open_fds(pid: i32) -> Vec<(i32, String)> {
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return Vec::new();
    };
    let mut fds: Vec<(i32, String)> = dir
        .flatten()
        .filter_map(|e| {
            let fd = e.file_name().to_str()?.parse().ok()?;
            Some((fd, fd_target(pid, fd).unwrap_or_default()))
        })
        .collect();
    fds.sort();
    fds
}

/// Whether process `pid` ignores `signal`, from the `SigIgn` mask of `/proc/PID/status`.
pub fn ignores_signal(pid: i32, signal: i32) -> Option<bool> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let mask = status
        .lines()
        .find_map(|l| l.strip_prefix("SigIgn:"))?
        .trim();
    let mask = u64::from_str_radix(mask, 16).ok()?;
    Some(mask & (1 << (signal - 1)) != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The command shown to reproduce a run says what stdin was and sets what the check set.
    #[test]
    fn the_command_to_reproduce_carries_stdin_and_environment() {
        let spec = |input| {
            Spec::new("/bin/pipeline", "/tmp")
                .args(["cat", "|", "wc -c"])
                .stdin(input)
        };
        assert_eq!(
            spec(Input::Null).command_line(),
            "/bin/pipeline cat '|' 'wc -c' < /dev/null"
        );
        assert_eq!(
            spec(Input::Zeros(4096)).command_line(),
            "head -c 4096 /dev/zero | /bin/pipeline cat '|' 'wc -c'"
        );
        assert_eq!(
            spec(Input::Bytes(b"it's 100%\n".to_vec())).command_line(),
            "printf 'it\\047s 100%%\\012' | /bin/pipeline cat '|' 'wc -c'"
        );
        let faulty = spec(Input::Null)
            .env("KEY", "a b")
            .with_faults(Faults::all(7))
            .command_line();
        assert!(
            faulty.starts_with(&format!(
                "KEY='a b' LD_PRELOAD={} IPCLAB_FAULTS_RATE=0.25 IPCLAB_FAULTS_SEED=7",
                faults::LIBRARY
            )),
            "{faulty}"
        );
    }
}
