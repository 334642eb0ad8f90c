//! Expectations on a finished run, each a `Result` whose failure says what was expected, what
//! was seen, and how to reproduce it. Checks chain them with `?`.

use crate::check::Failure;
use crate::message;
use crate::run::{End, Finished};

/// The run exited with `code`.
pub fn exit_code(run: &Finished, code: i32) -> Result<(), Failure> {
    if run.end == End::Exited(code) && !run.timed_out {
        return Ok(());
    }
    let actual = if run.timed_out {
        "it was still running at the time limit".to_string()
    } else {
        run.end.to_string()
    };
    Err(
        Failure::new(format!("expected exit status {code}, got {actual}"))
            .detail(stderr_block(run))
            .command(run),
    )
}

/// The run's stdout is exactly `expected`.
pub fn stdout_is(run: &Finished, expected: &[u8]) -> Result<(), Failure> {
    if run.stdout.bytes == expected && !run.stdout.truncated() {
        return Ok(());
    }
    Err(Failure::new("stdout differs from the expected output")
        .detail(format!(
            "EXPECTED STDOUT:\n{}",
            message::block(&String::from_utf8_lossy(expected))
        ))
        .detail(format!(
            "ACTUAL STDOUT:\n{}",
            message::block(&run.stdout.text())
        ))
        .command(run))
}

/// The run wrote nothing on stdout.
pub fn stdout_empty(run: &Finished) -> Result<(), Failure> {
    if run.stdout.total == 0 {
        return Ok(());
    }
    Err(Failure::new(format!(
        "expected no output on stdout, got {} bytes",
        run.stdout.total
    ))
    .detail(format!(
        "ACTUAL STDOUT:\n{}",
        message::block(&run.stdout.text())
    ))
    .command(run))
}

/// The run's stderr contains `needle`.
pub fn stderr_has(run: &Finished, needle: &str) -> Result<(), Failure> {
    if run.stderr.text().contains(needle) {
        return Ok(());
    }
    Err(Failure::new(format!("expected {needle:?} on stderr"))
        .detail(stderr_block(run))
        .command(run))
}

/// The run's stderr starts with `prefix` (after leading whitespace).
pub fn stderr_starts(run: &Finished, prefix: &str) -> Result<(), Failure> {
    if run.stderr.text().trim_start().starts_with(prefix) {
        return Ok(());
    }
    Err(
        Failure::new(format!("expected stderr to start with {prefix:?}"))
            .detail(stderr_block(run))
            .command(run),
    )
}

/// The run's compared stdout matched its expected stream byte for byte.
pub fn stream_matched(run: &Finished) -> Result<(), Failure> {
    match &run.compared {
        Some(None) => Ok(()),
        Some(Some(mismatch)) => Err(Failure::new(mismatch.to_string())
            .detail(stderr_block(run))
            .command(run)),
        None => Err(Failure::new("stdout was not compared (a grader bug)")),
    }
}

/// The run left no process behind in its group: every child was waited for.
pub fn no_leftovers(run: &Finished) -> Result<(), Failure> {
    if run.leftovers.is_empty() {
        return Ok(());
    }
    let list: Vec<String> = run
        .leftovers
        .iter()
        .map(|l| {
            let state = if l.zombie {
                "exited, never waited for (a zombie)"
            } else {
                "still running"
            };
            format!("    pid {} ({}): {state}", l.pid, l.comm)
        })
        .collect();
    Err(Failure::new(format!(
        "the program exited leaving {} process(es) it did not wait for",
        run.leftovers.len()
    ))
    .detail(format!("LEFT BEHIND:\n{}", list.join("\n")))
    .command(run))
}

/// The stderr block for details, or nothing when stderr was empty.
fn stderr_block(run: &Finished) -> String {
    if run.stderr.total == 0 {
        return String::new();
    }
    format!("STDERR:\n{}", message::block(&run.stderr.text()))
}

/// A bound on the `read` calls a program made to read a regular file, which answers every
/// call in full: their number tells the size of the reads it asked for, whatever the machine's
/// speed.
pub struct ReadCalls<'a> {
    /// The program, as the failure names it (its name, or its role in the check).
    pub who: &'a str,
    /// What it read (`an 8 MiB file`).
    pub input: &'a str,
    /// The most calls allowed.
    pub allowed: u64,
    /// What the bound asks, in words (`reads of at least 64 KiB`).
    pub asks: &'a str,
    /// Where the count was read, for the failure (`/proc/PID/io of … at its exit`).
    pub source: &'a str,
    /// The hint of the failure, without `HINT: `.
    pub hint: &'a str,
}

impl ReadCalls<'_> {
    /// Holds `io` (the kernel's accounting, read before the program was reaped) to the bound;
    /// the number of calls it made, `None` where the kernel does not account (no
    /// `/proc/PID/io`), which applies no bound. `run` reproduces it.
    pub fn check(
        &self,
        io: Option<crate::procfs::Io>,
        run: &Finished,
    ) -> Result<Option<u64>, Failure> {
        let Some(io) = io else {
            return Ok(None);
        };
        let calls = io.read_calls;
        if calls <= self.allowed {
            return Ok(Some(calls));
        }
        Err(Failure::new(format!(
            "{} made {calls} read calls to read {} (allowed: {}, {})",
            self.who, self.input, self.allowed, self.asks
        ))
        .detail(format!(
            "MEASURED ({}): syscr {calls}, rchar {}: {} bytes per read on average",
            self.source,
            io.read,
            io.read / calls.max(1)
        ))
        .detail(format!("HINT: {}", self.hint))
        .command(run))
    }
}

/// The two sides of a `len`-byte stream, the writer into a shared `object` and the reader out
/// of it, moved at most a quarter of it with `read` and `write` system calls (their
/// `/proc/PID/io`): the rest went through memory, not through a file or a pipe. `names` are
/// the two programs' roles, `hint` says where the bytes should go, `run` reproduces it.
pub fn carried_by_memory(
    len: u64,
    (writer, reader): (crate::procfs::Io, crate::procfs::Io),
    names: (&str, &str),
    object: &str,
    hint: &str,
    run: &Finished,
) -> Result<(), Failure> {
    let bound = len / 4;
    if writer.written <= bound && reader.read <= bound {
        return Ok(());
    }
    Err(Failure::new(format!(
        "of a {len}-byte stream, the {} wrote {} bytes and the {} read {} bytes with system \
         calls: the stream went through a file or a pipe, not the {object}",
        names.0, writer.written, names.1, reader.read
    ))
    .detail(format!("HINT: {hint}"))
    .command(run))
}
