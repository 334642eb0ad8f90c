//! `sem-pingpong`: two processes take turns through two POSIX named semaphores (spec §2).
//!
//! `NAME-ping` (created with value 1) says "ping may go"; `NAME-pong` (created with value 0)
//! says "pong may go". Each round, a process waits on its own semaphore, writes its line and
//! posts the other's.

use crate::Failure;

// BEGIN SOLUTION
use std::ffi::CString;
use std::time::Duration;

use crate::cli;
use crate::sem::{self, NamedSemaphore};
// END SOLUTION

/// The usage line of `sem-pingpong`, after the program name.
pub const SYNOPSIS: &str = "ping|pong NAME ROUNDS [--timeout-ms MS]";

/// Which side of the handoff this process plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Goes first in every round; never unlinks on success.
    Ping,
    /// Goes second; unlinks both names once ping has posted once.
    Pong,
}

/// A parsed `sem-pingpong` command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `ping` or `pong`.
    pub role: Role,
    /// Base name, `/` then 1 to 199 bytes without `/`; the semaphores are `NAME-ping` and
    /// `NAME-pong`.
    pub name: String,
    /// Rounds, 1 to [`crate::cli::MAX_ROUNDS`].
    pub rounds: u64,
    /// Bound of every wait, in milliseconds.
    pub timeout_ms: u64,
}

/// Largest base NAME, in bytes with its `/`: leaves room for `-ping` and glibc's `sem.`
/// prefix within NAME_MAX (255).
pub const MAX_NAME: usize = 200;

/// Parses the arguments after the program name (spec §2.1).
pub fn parse(args: &[String]) -> Result<Config, Failure> {
    let _ = args;
    // BEGIN SOLUTION todo!("specs/semaphores.md §2.1: parse ROLE NAME ROUNDS [--timeout-ms MS] with cli::split and cli::number")
    let split = cli::split(args, &["--timeout-ms"])?;
    let [role, name, rounds] = split.positional.as_slice() else {
        return Err(Failure::Usage(format!(
            "expected 3 arguments, got {}",
            split.positional.len()
        )));
    };
    let role = match role.as_str() {
        "ping" => Role::Ping,
        "pong" => Role::Pong,
        _ => {
            return Err(Failure::Usage(format!(
                "the role must be ping or pong, got \"{role}\""
            )));
        }
    };
    let bad_name = !name.starts_with('/')
        || name.len() < 2
        || name.len() > MAX_NAME
        || name[1..].contains('/');
    if bad_name {
        return Err(Failure::Usage(format!(
            "NAME must be / followed by 1 to {} bytes without /, got \"{name}\"",
            MAX_NAME - 1
        )));
    }
    let rounds = cli::number("ROUNDS", rounds, 1, cli::MAX_ROUNDS)?;
    let timeout_ms = cli::timeout_ms(&split)?;
    Ok(Config {
        role,
        name: name.clone(),
        rounds,
        timeout_ms,
    })
    // END SOLUTION
}

/// `sem-pingpong`: parses, then plays its role (spec §2.2–§2.4).
pub fn run(args: &[String]) -> Result<(), Failure> {
    let config = parse(args)?;
    let _ = &config;
    // BEGIN SOLUTION todo!("specs/semaphores.md §2.2: open both semaphores, take N turns, unlink as §2.4 says")
    let ping_name = CString::new(format!("{}-ping", config.name))
        .map_err(|_| Failure::Usage("NAME must not contain a NUL byte".into()))?;
    let pong_name = CString::new(format!("{}-pong", config.name))
        .map_err(|_| Failure::Usage("NAME must not contain a NUL byte".into()))?;
    let names = [ping_name.as_c_str(), pong_name.as_c_str()];
    let result = handoff(&config, &names);
    if result.is_err() {
        // On any failure, take both names away so that nothing is left behind (spec §2.4).
        for name in names {
            let _ = sem::unlink(name);
        }
    }
    result
    // END SOLUTION
}

// BEGIN SOLUTION
/// The rounds of one side: `names` is `[NAME-ping, NAME-pong]`.
fn handoff(config: &Config, names: &[&std::ffi::CStr; 2]) -> Result<(), Failure> {
    let open = |name: &std::ffi::CStr, value| {
        NamedSemaphore::open_or_create(name, 0o600, value).map_err(|e| {
            Failure::Runtime(format!(
                "cannot open semaphore {}: {e}",
                name.to_string_lossy()
            ))
        })
    };
    // Both sides open NAME-ping first, then NAME-pong, before their first wait.
    let ping = open(names[0], 1)?;
    let pong = open(names[1], 0)?;
    let (mine, theirs, word, peer) = match config.role {
        Role::Ping => (&ping, &pong, "ping", "pong"),
        Role::Pong => (&pong, &ping, "pong", "ping"),
    };
    let timeout = Duration::from_millis(config.timeout_ms);
    for round in 1..=config.rounds {
        match mine.wait_until(&sem::realtime_after(timeout)) {
            Ok(()) => {}
            Err(nix::errno::Errno::ETIMEDOUT) => {
                return Err(Failure::GaveUp(format!(
                    "gave up after {} ms waiting for {peer} in round {round}",
                    config.timeout_ms
                )));
            }
            Err(e) => return Err(Failure::Runtime(format!("sem_timedwait: {e}"))),
        }
        if config.role == Role::Pong && round == 1 {
            // Ping has posted, so it has opened both semaphores: the names can go now, and a
            // process killed from here on leaves nothing behind (spec §2.4).
            for name in names {
                let _ = sem::unlink(name);
            }
        }
        crate::write_line(&format!("{word} {round}\n"))?;
        theirs
            .post()
            .map_err(|e| Failure::Runtime(format!("sem_post: {e}")))?;
    }
    Ok(())
}
// END SOLUTION
