//! Pipes and the processes at their ends: `pipe2`, `fork`, `dup2`, `execvp`, `waitpid`
//! (lesson §5), on top of `nix`.

use std::ffi::CString;
use std::os::fd::OwnedFd;

use nix::unistd::Pid;

/// A command ready to be executed: its name and arguments as C strings, prepared before `fork`
/// so that the child allocates nothing between `fork` and `execvp`.
pub struct Command {
    /// `argv[0]`, looked up in `PATH` by `execvp`.
    pub name: CString,
    /// The whole `argv`, `name` first.
    pub argv: Vec<CString>,
}

impl Command {
    /// Builds a command from its words; `None` if a word holds a NUL byte or there is none.
    pub fn new(words: &[String]) -> Option<Command> {
        let argv = words
            .iter()
            .map(|w| CString::new(w.as_bytes()).ok())
            .collect::<Option<Vec<_>>>()?;
        Some(Command {
            name: argv.first()?.clone(),
            argv,
        })
    }
}

/// `pipe2(O_CLOEXEC)`—Creates a pipe and returns `(read end, write end)`.
///
/// Both ends are close-on-exec: a child that `execvp`s keeps only what it `dup2`ed onto 0, 1
/// or 2, so no stray descriptor reaches the programs we run (spec §2.3).
pub fn pipe() -> nix::Result<(OwnedFd, OwnedFd)> {
    todo!("specs/pipes.md §2.3: create a pipe whose ends are close-on-exec")
}

/// `fork`, then in the child: `dup2` `stdin`/`stdout` onto 0/1, restore `SIGPIPE`'s default,
/// and `execvp` the command; returns the child's pid to the parent.
///
/// If `execvp` fails the child prints `PROGRAM: NAME: REASON` on stderr and exits 127
/// (spec §2.2). `None` for `stdin`/`stdout` leaves that descriptor as inherited.
pub fn spawn(
    program: &str,
    cmd: &Command,
    stdin: Option<&OwnedFd>,
    stdout: Option<&OwnedFd>,
) -> nix::Result<Pid> {
    let _ = (program, cmd, stdin, stdout);
    todo!(
        "specs/pipes.md §2.2: fork; in the child dup2 the pipe ends onto 0 and 1, reset SIGPIPE and execvp"
    )
}

/// Restores `SIGPIPE` to its default action. Rust programs start with it ignored, and an
/// ignored disposition survives `execvp`: without this, `yes | head -1` would never see
/// `SIGPIPE` kill `yes`.
pub fn default_sigpipe() -> nix::Result<()> {
    todo!("specs/pipes.md §2.3: set SIGPIPE back to SIG_DFL")
}

/// `waitpid(pid, 0)`, retried on `EINTR`—Waits for the child and returns its status as a
/// shell reports it: the exit code, or 128 + the signal's number (spec §2.2).
pub fn wait_status(pid: Pid) -> nix::Result<u8> {
    let _ = pid;
    todo!("specs/pipes.md §2.2: wait for the child; exit code, or 128 + signal")
}
