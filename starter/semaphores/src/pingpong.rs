//! `sem-pingpong`: two processes take turns through two POSIX named semaphores (spec §2).
//!
//! `NAME-ping` (created with value 1) says "ping may go"; `NAME-pong` (created with value 0)
//! says "pong may go". Each round, a process waits on its own semaphore, writes its line and
//! posts the other's.

use crate::Failure;

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
    todo!(
        "specs/semaphores.md §2.1: parse ROLE NAME ROUNDS [--timeout-ms MS] with cli::split and cli::number"
    )
}

/// `sem-pingpong`: parses, then plays its role (spec §2.2–§2.4).
pub fn run(args: &[String]) -> Result<(), Failure> {
    let config = parse(args)?;
    let _ = &config;
    todo!("specs/semaphores.md §2.2: open both semaphores, take N turns, unlink as §2.4 says")
}
