//! `sem-ring`: K processes pass a token round a ring through one SysV semaphore set
//! (spec §3).
//!
//! The set has K semaphores; semaphore `i` is "process `i` holds the token". Process `i`
//! waits on semaphore `i`, writes its line and adds 1 to semaphore `(i + 1) % K`.

use std::time::Instant;

use crate::Failure;
use crate::sem::SemSet;

// BEGIN SOLUTION
use std::ffi::CString;
use std::time::Duration;

use nix::errno::Errno;

use crate::sem::sembuf;
use crate::{cli, ipc};
// END SOLUTION

/// The usage line of `sem-ring`, after the program name.
pub const SYNOPSIS: &str = "KEYPATH INDEX K ROUNDS [--timeout-ms MS]";

/// The `proj_id` given to `ftok` with KEYPATH: `'R'`.
pub const PROJ_ID: u8 = b'R';

/// A parsed `sem-ring` command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// An existing file; `ftok(KEYPATH, 'R')` is the key of the set.
    pub key_path: String,
    /// This process's place in the ring, 0 to K − 1.
    pub index: u16,
    /// Processes in the ring, 2 to [`crate::cli::MAX_RING`].
    pub k: u16,
    /// Rounds, 1 to [`crate::cli::MAX_ROUNDS`].
    pub rounds: u64,
    /// Bound of every wait, in milliseconds.
    pub timeout_ms: u64,
}

/// Parses the arguments after the program name (spec §3.1).
pub fn parse(args: &[String]) -> Result<Config, Failure> {
    let _ = args;
    // BEGIN SOLUTION todo!("specs/semaphores.md §3.1: parse KEYPATH INDEX K ROUNDS [--timeout-ms MS] with cli::split and cli::number")
    let split = cli::split(args, &["--timeout-ms"])?;
    let [key_path, index, k, rounds] = split.positional.as_slice() else {
        return Err(Failure::Usage(format!(
            "expected 4 arguments, got {}",
            split.positional.len()
        )));
    };
    let k = cli::number("K", k, 2, cli::MAX_RING)?;
    let index = cli::number("INDEX", index, 0, k - 1)?;
    let rounds = cli::number("ROUNDS", rounds, 1, cli::MAX_ROUNDS)?;
    let timeout_ms = cli::timeout_ms(&split)?;
    Ok(Config {
        key_path: key_path.clone(),
        index: index as u16,
        k: k as u16,
        rounds,
        timeout_ms,
    })
    // END SOLUTION
}

/// The SysV key of KEYPATH and `proj_id` (spec §1.5); a missing file is a runtime failure.
pub fn key_of(key_path: &str, proj_id: u8) -> Result<libc::key_t, Failure> {
    let _ = (key_path, proj_id);
    // BEGIN SOLUTION todo!("specs/semaphores.md §3.2: ftok(KEYPATH, proj_id); say which file when it fails")
    let path = CString::new(key_path)
        .map_err(|_| Failure::Usage("KEYPATH must not contain a NUL byte".into()))?;
    ipc::ftok(&path, proj_id)
        .map_err(|e| Failure::Runtime(format!("cannot make a key from {key_path}: {e}")))
    // END SOLUTION
}

/// Waits until the set's creator has initialised it (`sem_otime` ≠ 0) and checks that it has
/// `nsems` semaphores; gives up at `deadline` (spec §3.2). Polls `IPC_STAT` every millisecond:
/// the window it covers is the creator's two calls between `semget` and its first `semop`.
pub fn wait_initialised(set: SemSet, nsems: u16, deadline: Instant) -> Result<(), Failure> {
    let _ = (set, nsems, deadline);
    // BEGIN SOLUTION todo!("specs/semaphores.md §3.2: poll IPC_STAT until sem_otime != 0, bounded by deadline")
    loop {
        let ds = set.stat().map_err(|e| match e {
            Errno::EIDRM | Errno::EINVAL => {
                Failure::GaveUp("the semaphore set was removed before it was initialised".into())
            }
            e => Failure::Runtime(format!("semctl IPC_STAT: {e}")),
        })?;
        if ds.sem_nsems != u64::from(nsems) {
            return Err(Failure::Runtime(format!(
                "the semaphore set has {} semaphores, expected {nsems}",
                ds.sem_nsems
            )));
        }
        if ds.sem_otime != 0 {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(Failure::GaveUp(
                "gave up waiting for the semaphore set to be initialised".into(),
            ));
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    // END SOLUTION
}

/// Creates the set of `key` with `initial` values, or opens it if another process did
/// (spec §3.2). Returns the set and whether this process created it.
///
/// The creator uses `IPC_CREAT | IPC_EXCL`, sets every value with `SETALL` and then adds
/// `initial[0]` with a `semop` on semaphore 0 (values given to `SETALL` for it are 0), which
/// sets `sem_otime`; a process that finds the set already there waits for `sem_otime` ≠ 0.
pub fn create_or_open(
    key: libc::key_t,
    initial: &[u16],
    deadline: Instant,
) -> Result<(SemSet, bool), Failure> {
    let _ = (key, initial, deadline);
    // BEGIN SOLUTION todo!("specs/semaphores.md §3.2: race-free creation: IPC_CREAT | IPC_EXCL, SETALL, first semop; or open and wait")
    let nsems = initial.len() as u16;
    loop {
        match SemSet::create(key, nsems, 0o600) {
            Ok(set) => {
                let mut values = initial.to_vec();
                let first = values[0] as i16;
                values[0] = 0;
                let init = set
                    .set_all(&values)
                    .and_then(|()| set.op_until(&mut [sembuf(0, first, 0)], deadline));
                if let Err(e) = init {
                    let _ = set.remove();
                    return Err(Failure::Runtime(format!(
                        "cannot initialise the semaphore set: {e}"
                    )));
                }
                return Ok((set, true));
            }
            Err(Errno::EEXIST) => match SemSet::open(key) {
                Ok(set) => {
                    return match wait_initialised(set, nsems, deadline) {
                        Ok(()) => Ok((set, false)),
                        // Its creator died before initialising it: nobody else will remove it.
                        Err(failure @ Failure::GaveUp(_)) => {
                            let _ = set.remove();
                            Err(failure)
                        }
                        Err(failure) => Err(failure),
                    };
                }
                // Removed between our two calls: try to create it again.
                Err(Errno::ENOENT) if Instant::now() < deadline => {}
                Err(e) => return Err(Failure::Runtime(format!("semget: {e}"))),
            },
            Err(Errno::ENOSPC) => {
                return Err(Failure::Runtime(
                    "semget: the system limit of semaphore sets or semaphores is reached".into(),
                ));
            }
            Err(e) => return Err(Failure::Runtime(format!("semget: {e}"))),
        }
    }
    // END SOLUTION
}

/// `sem-ring`: parses, joins the ring and passes the token for ROUNDS rounds (spec §3).
pub fn run(args: &[String]) -> Result<(), Failure> {
    let config = parse(args)?;
    let _ = &config;
    // BEGIN SOLUTION todo!("specs/semaphores.md §3.3: join the set, pass the token ROUNDS times, remove the set as §3.4 says")
    let key = key_of(&config.key_path, PROJ_ID)?;
    let timeout = Duration::from_millis(config.timeout_ms);
    let mut initial = vec![0u16; usize::from(config.k)];
    initial[0] = 1;
    let (set, _created) = create_or_open(key, &initial, Instant::now() + timeout)?;
    match pass_token(&config, set, timeout) {
        // The last process writes the last line: it removes the set (spec §3.4).
        Ok(()) if config.index == config.k - 1 => set
            .remove()
            .map_err(|e| Failure::Runtime(format!("semctl IPC_RMID: {e}"))),
        Ok(()) => Ok(()),
        // Already removed by a peer that gave up: nothing left to remove.
        Err(Stop::Removed(failure)) => Err(failure),
        // Any other failure removes the set, which wakes every peer with EIDRM.
        Err(Stop::Failed(failure)) => {
            let _ = set.remove();
            Err(failure)
        }
    }
    // END SOLUTION
}

// BEGIN SOLUTION
/// Why [`pass_token`] stopped early.
enum Stop {
    /// A peer removed the set (we saw `EIDRM` or `EINVAL`).
    Removed(Failure),
    /// Anything else; the set is still there.
    Failed(Failure),
}

/// The rounds of process `config.index`.
fn pass_token(config: &Config, set: SemSet, timeout: Duration) -> Result<(), Stop> {
    let me = config.index;
    let next = (me + 1) % config.k;
    for round in 1..=config.rounds {
        let waited = set.op_until(&mut [sembuf(me, -1, 0)], Instant::now() + timeout);
        match waited {
            Ok(()) => {}
            Err(Errno::EAGAIN) => {
                return Err(Stop::Failed(Failure::GaveUp(format!(
                    "gave up after {} ms waiting for the token in round {round}",
                    config.timeout_ms
                ))));
            }
            Err(Errno::EIDRM | Errno::EINVAL) => {
                return Err(Stop::Removed(Failure::GaveUp(format!(
                    "the semaphore set was removed while waiting in round {round} (a peer gave up)"
                ))));
            }
            Err(e) => return Err(Stop::Failed(Failure::Runtime(format!("semtimedop: {e}")))),
        }
        crate::write_line(&format!("token {round} {me}\n")).map_err(Stop::Failed)?;
        if round == config.rounds && me == config.k - 1 {
            break; // The last line of the run: nobody waits for the token any more.
        }
        match set.op_until(&mut [sembuf(next, 1, 0)], Instant::now() + timeout) {
            Ok(()) => {}
            Err(Errno::EIDRM | Errno::EINVAL) => {
                return Err(Stop::Removed(Failure::GaveUp(format!(
                    "the semaphore set was removed in round {round} (a peer gave up)"
                ))));
            }
            Err(e) => return Err(Stop::Failed(Failure::Runtime(format!("semop: {e}")))),
        }
    }
    Ok(())
}
// END SOLUTION
