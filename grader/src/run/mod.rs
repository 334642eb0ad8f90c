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

mod drain;
mod shown;
mod spawn;
mod wait;

use drain::{Bounded, Sink, drain};
pub use shown::{Display, Made, Rendered, Shown, Stdin};
pub use spawn::spawn;
pub use wait::{end_descendants, end_group, reap_orphans};

pub use crate::message::shell_quote;
pub use crate::procfs::{
    Doing, Leftover, descendants, fd_target, group_members, ignores_signal, open_fds,
};

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
                format!("printf '{}' | {command}", shown::printf_text(b))
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
    /// The part of `cpu` spent in the kernel (system calls, page faults).
    pub kernel: Duration,
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
    /// Whether it was ended early because it could no longer move ([`crate::stuck`]):
    /// `timed_out` is set too, and `at_limit` says what each process waited for.
    pub stuck: bool,
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

/// Makes the grader the child subreaper of everything it starts, so that a process whose
/// parent exits is handed to the grader, which then finds and ends it. Sets close-on-exec on
/// every descriptor it inherited.
pub fn init() {
    let _ = nix::sys::prctl::set_child_subreaper(true);
    let _ = sys::cloexec_from_3();
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
