//! `sem-mutex`: a SysV binary semaphore used as a mutex around a counter in a SysV segment
//! (spec §4).
//!
//! `init` creates a one-semaphore set (value 1: free) and an 8-byte segment (counter 0);
//! every `add` takes the semaphore (−1), adds 1 to the counter with a plain load and store,
//! and gives it back (+1), both with `SEM_UNDO`; `finish` prints the counter and removes both.

use std::time::Duration;

use crate::{Failure, ring};

// BEGIN SOLUTION
use std::time::Instant;

use nix::errno::Errno;

use crate::cli;
use crate::sem::{SemSet, sembuf};
use crate::sysv_shm::{COUNTER_SIZE, Segment};
// END SOLUTION

/// The usage line of `sem-mutex`, after the program name.
pub const SYNOPSIS: &str = "init KEYPATH | add KEYPATH TIMES [--timeout-ms MS] [--hold-ms MS] | finish KEYPATH [--timeout-ms MS]";

/// The `proj_id` given to `ftok` with KEYPATH, for both the set and the segment: `'M'`.
pub const PROJ_ID: u8 = b'M';

/// What one `sem-mutex` invocation does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Create the set and the segment.
    Init,
    /// Add 1 to the counter `times` times, each under the semaphore.
    Add {
        /// Increments, 1 to [`crate::cli::MAX_ROUNDS`].
        times: u64,
        /// If set: after the first take, write `holding\n` and sleep this long before going on.
        hold_ms: Option<u64>,
    },
    /// Print the counter and remove the set and the segment.
    Finish,
}

/// A parsed `sem-mutex` command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `init`, `add` or `finish`.
    pub command: Command,
    /// An existing file; `ftok(KEYPATH, 'M')` is the key of the set and of the segment.
    pub key_path: String,
    /// Bound of every wait, in milliseconds.
    pub timeout_ms: u64,
}

/// Parses the arguments after the program name (spec §4.1).
pub fn parse(args: &[String]) -> Result<Config, Failure> {
    let _ = args;
    // BEGIN SOLUTION todo!("specs/semaphores.md §4.1: parse init|add|finish and its arguments with cli::split and cli::number")
    let split = cli::split(args, &["--timeout-ms", "--hold-ms"])?;
    let (command, key_path) = match split.positional.as_slice() {
        [cmd, key_path] if cmd == "init" || cmd == "finish" => {
            if split.options.iter().any(|(name, _)| name != "--timeout-ms")
                || cmd == "init" && !split.options.is_empty()
            {
                return Err(Failure::Usage(format!("{cmd} takes no such option")));
            }
            let command = if cmd == "init" {
                Command::Init
            } else {
                Command::Finish
            };
            (command, key_path)
        }
        [cmd, key_path, times] if cmd == "add" => {
            let times = cli::number("TIMES", times, 1, cli::MAX_ROUNDS)?;
            let hold_ms = match split.option("--hold-ms") {
                Some(text) => Some(cli::number("--hold-ms", text, 0, cli::MAX_MS)?),
                None => None,
            };
            (Command::Add { times, hold_ms }, key_path)
        }
        [cmd, ..] if ["init", "add", "finish"].contains(&cmd.as_str()) => {
            return Err(Failure::Usage(format!(
                "wrong number of arguments for {cmd}"
            )));
        }
        [cmd, ..] => {
            return Err(Failure::Usage(format!(
                "the command must be init, add or finish, got \"{cmd}\""
            )));
        }
        [] => return Err(Failure::Usage("missing command".into())),
    };
    Ok(Config {
        command,
        key_path: key_path.clone(),
        timeout_ms: cli::timeout_ms(&split)?,
    })
    // END SOLUTION
}

/// `sem-mutex`: parses and runs one command (spec §4.2–§4.5).
pub fn run(args: &[String]) -> Result<(), Failure> {
    let config = parse(args)?;
    let key = ring::key_of(&config.key_path, PROJ_ID)?;
    let timeout = Duration::from_millis(config.timeout_ms);
    match config.command {
        Command::Init => init(key),
        Command::Add { times, hold_ms } => add(key, times, hold_ms, timeout),
        Command::Finish => finish(key, timeout),
    }
}

/// `sem-mutex init`: creates the set (value 1) and the zeroed segment; if either exists
/// already, fails and leaves what was there alone (spec §4.2).
pub fn init(key: libc::key_t) -> Result<(), Failure> {
    let _ = key;
    // BEGIN SOLUTION todo!("specs/semaphores.md §4.2: create the set and the segment with IPC_EXCL, free the semaphore with a first semop")
    let set = SemSet::create(key, 1, 0o600).map_err(|e| match e {
        Errno::EEXIST => Failure::Runtime("a semaphore set already exists for this key".into()),
        e => Failure::Runtime(format!("semget: {e}")),
    })?;
    let segment = match Segment::create(key, COUNTER_SIZE, 0o600) {
        Ok(segment) => segment,
        Err(e) => {
            let _ = set.remove();
            return Err(match e {
                Errno::EEXIST => {
                    Failure::Runtime("a shared memory segment already exists for this key".into())
                }
                e => Failure::Runtime(format!("shmget: {e}")),
            });
        }
    };
    // No SEM_UNDO here: the +1 that frees the mutex must outlive this process. The first
    // semop also sets sem_otime, which tells `add` and `finish` the set is ready.
    let ready = set
        .set_all(&[0])
        .and_then(|()| set.op_until(&mut [sembuf(0, 1, 0)], Instant::now()));
    if let Err(e) = ready {
        let _ = set.remove();
        let _ = segment.remove();
        return Err(Failure::Runtime(format!(
            "cannot initialise the semaphore: {e}"
        )));
    }
    Ok(())
    // END SOLUTION
}

/// `sem-mutex add`: adds 1 to the counter `times` times, each time under the semaphore
/// (spec §4.3).
pub fn add(
    key: libc::key_t,
    times: u64,
    hold_ms: Option<u64>,
    timeout: Duration,
) -> Result<(), Failure> {
    let _ = (key, times, hold_ms, timeout);
    // BEGIN SOLUTION todo!("specs/semaphores.md §4.3: open both objects, then take, increment, give back TIMES times, with SEM_UNDO")
    let (set, segment) = open(key, timeout)?;
    let mapping = segment
        .attach()
        .map_err(|e| Failure::Runtime(format!("shmat: {e}")))?;
    let counter = mapping.counter();
    for i in 0..times {
        lock(set, timeout)?;
        if i == 0
            && let Some(ms) = hold_ms
        {
            crate::write_line("holding\n")?;
            std::thread::sleep(Duration::from_millis(ms));
        }
        // A plain read-modify-write: only the semaphore keeps another process out of here.
        let value = counter.load(std::sync::atomic::Ordering::Relaxed);
        counter.store(value + 1, std::sync::atomic::Ordering::Relaxed);
        unlock(set)?;
    }
    Ok(())
    // END SOLUTION
}

/// `sem-mutex finish`: takes the semaphore, prints the counter, and removes the set and the
/// segment, also when it gives up waiting (spec §4.4).
pub fn finish(key: libc::key_t, timeout: Duration) -> Result<(), Failure> {
    let _ = (key, timeout);
    // BEGIN SOLUTION todo!("specs/semaphores.md §4.4: take the semaphore, print the counter, remove both objects whatever happens")
    let (set, segment) = open(key, timeout)?;
    let result = (|| {
        lock(set, timeout)?;
        let mapping = segment
            .attach()
            .map_err(|e| Failure::Runtime(format!("shmat: {e}")))?;
        let value = mapping.counter().load(std::sync::atomic::Ordering::Relaxed);
        crate::write_line(&format!("{value}\n"))
    })();
    let removed_set = set.remove();
    let removed_segment = segment.remove();
    result?;
    removed_set.map_err(|e| Failure::Runtime(format!("semctl IPC_RMID: {e}")))?;
    removed_segment.map_err(|e| Failure::Runtime(format!("shmctl IPC_RMID: {e}")))
    // END SOLUTION
}

// BEGIN SOLUTION
/// Opens the set (waiting, bounded, for `init` to have freed it) and the segment.
fn open(key: libc::key_t, timeout: Duration) -> Result<(SemSet, Segment), Failure> {
    let set = SemSet::open(key).map_err(|e| match e {
        Errno::ENOENT => Failure::Runtime("no semaphore set for this key (run init first)".into()),
        e => Failure::Runtime(format!("semget: {e}")),
    })?;
    ring::wait_initialised(set, 1, Instant::now() + timeout)?;
    let segment = Segment::open(key).map_err(|e| match e {
        Errno::ENOENT => {
            Failure::Runtime("no shared memory segment for this key (run init first)".into())
        }
        e => Failure::Runtime(format!("shmget: {e}")),
    })?;
    Ok((set, segment))
}

/// Takes the binary semaphore (−1 with `SEM_UNDO`): blocks while it is 0.
fn lock(set: SemSet, timeout: Duration) -> Result<(), Failure> {
    let deadline = Instant::now() + timeout;
    match set.op_until(&mut [sembuf(0, -1, libc::SEM_UNDO)], deadline) {
        Ok(()) => Ok(()),
        Err(Errno::EAGAIN) => Err(Failure::GaveUp(format!(
            "gave up after {} ms waiting for the semaphore",
            timeout.as_millis()
        ))),
        Err(Errno::EIDRM | Errno::EINVAL) => Err(Failure::GaveUp(
            "the semaphore set was removed while waiting for it".into(),
        )),
        Err(e) => Err(Failure::Runtime(format!("semtimedop: {e}"))),
    }
}

/// Gives the binary semaphore back (+1 with `SEM_UNDO`, which cancels the −1's adjustment).
fn unlock(set: SemSet) -> Result<(), Failure> {
    set.op_until(&mut [sembuf(0, 1, libc::SEM_UNDO)], Instant::now())
        .map_err(|e| match e {
            Errno::EIDRM | Errno::EINVAL => {
                Failure::GaveUp("the semaphore set was removed while holding it".into())
            }
            e => Failure::Runtime(format!("semop: {e}")),
        })
}
// END SOLUTION
