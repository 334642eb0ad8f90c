//! The command line (spec §2), names (§3) and messages; the exit codes are in [`crate::exit`].

use std::ffi::CString;
use std::fmt;
use std::os::fd::AsFd;
use std::time::Duration;

use crate::Failure;
use crate::ring::{Channel, MAX_RING, PAGE};

/// Ring size when `--ring` is not given: 1 MiB.
pub const DEFAULT_RING: u64 = 1 << 20;
/// Bound of every wait for the peer when `--timeout` is not given, in milliseconds.
pub const DEFAULT_TIMEOUT_MS: u64 = 10_000;
/// Largest `--timeout`, in milliseconds (one hour).
pub const MAX_TIMEOUT_MS: u64 = 3_600_000;

/// Which program this is. The value is the `creator` field of the header (spec §4.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum Role {
    /// `pshm-send`: stdin into the channel.
    Sender = 1,
    /// `pshm-recv`: the channel to stdout.
    Receiver = 2,
}

impl Role {
    /// The program name, also the prefix of every message.
    pub fn program(self) -> &'static str {
        match self {
            Role::Sender => "pshm-send",
            Role::Receiver => "pshm-recv",
        }
    }

    /// "sender" or "receiver", as used in messages.
    pub fn noun(self) -> &'static str {
        match self {
            Role::Sender => "sender",
            Role::Receiver => "receiver",
        }
    }

    /// The other side.
    pub fn peer(self) -> Role {
        match self {
            Role::Sender => Role::Receiver,
            Role::Receiver => Role::Sender,
        }
    }
}

/// Where the channel lives: a POSIX shared-memory object or a regular file (spec §3).
#[derive(Debug)]
pub enum Target {
    /// `NAME`, for `shm_open`.
    Shm(CString),
    /// `--file PATH`, for `open`.
    File(CString),
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (Target::Shm(s) | Target::File(s)) = self;
        f.write_str(&s.to_string_lossy())
    }
}

/// A run's parsed command line.
#[derive(Debug)]
pub struct Options {
    /// The object or file.
    pub target: Target,
    /// `--ring BYTES`: size of the data area if this side creates the object.
    pub ring: u64,
    /// `--timeout MS`: bound of every wait for the peer.
    pub timeout: Duration,
}

/// The usage line of both programs, after the program name.
pub const SYNOPSIS: &str = "[--ring BYTES] [--timeout MS] (NAME | --file PATH)";

/// Checks a shared-memory object name (spec §3.1): `/` followed by 1 to 254 bytes, none of
/// them `/`, and neither `.` nor `..`. The error is the message after `PROGRAM: `.
pub fn check_name(name: &str) -> Result<(), String> {
    let _ = name;
    todo!("specs/posix-shm.md §3.1: accept '/' followed by 1 to 254 bytes other than '/'")
}

/// Parses a size: decimal digits, optionally followed by `K`, `M` or `G` (powers of 1024).
fn parse_size(s: &str) -> Option<u64> {
    let (digits, unit) = match s.as_bytes().last()? {
        b'K' | b'k' => (&s[..s.len() - 1], 1 << 10),
        b'M' | b'm' => (&s[..s.len() - 1], 1 << 20),
        b'G' | b'g' => (&s[..s.len() - 1], 1 << 30),
        _ => (s, 1),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse::<u64>().ok()?.checked_mul(unit)
}

/// Parses the arguments after the program name (spec §2.1). The error is the message after
/// `PROGRAM: `; the caller adds the usage line.
pub fn parse(args: &[String]) -> Result<Options, String> {
    let mut name = None;
    let mut file = None;
    let mut ring = DEFAULT_RING;
    let mut timeout_ms = DEFAULT_TIMEOUT_MS;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = |opt: &str| {
            it.next()
                .ok_or_else(|| format!("option {opt} needs a value"))
        };
        match arg.as_str() {
            "--ring" => {
                let v = value("--ring")?;
                ring = parse_size(v)
                    .filter(|r| *r >= PAGE && *r <= MAX_RING && r.is_multiple_of(PAGE))
                    .ok_or_else(|| {
                        format!("bad ring size \"{v}\": a multiple of 4096 from 4096 to 1G")
                    })?;
            }
            "--timeout" => {
                let v = value("--timeout")?;
                timeout_ms = parse_size(v)
                    .filter(|_| v.bytes().all(|b| b.is_ascii_digit()))
                    .filter(|t| (1..=MAX_TIMEOUT_MS).contains(t))
                    .ok_or_else(|| {
                        format!("bad timeout \"{v}\": milliseconds from 1 to 3600000")
                    })?;
            }
            "--file" => {
                let v = value("--file")?;
                if file.replace(v).is_some() {
                    return Err("--file given twice".to_string());
                }
            }
            s if s.starts_with('-') && s.len() > 1 => {
                return Err(format!("unknown option \"{s}\""));
            }
            _ => {
                if name.replace(arg).is_some() {
                    return Err(format!("unexpected argument \"{arg}\""));
                }
            }
        }
    }
    let target = match (name, file) {
        (Some(_), Some(_)) => return Err("give a NAME or --file PATH, not both".to_string()),
        (None, None) => return Err("missing NAME or --file PATH".to_string()),
        (Some(n), None) => {
            check_name(n)?;
            Target::Shm(CString::new(n.as_str()).map_err(|_| "name contains NUL".to_string())?)
        }
        (None, Some(p)) => {
            if p.is_empty() {
                return Err("empty --file PATH".to_string());
            }
            Target::File(CString::new(p.as_str()).map_err(|_| "path contains NUL".to_string())?)
        }
    };
    Ok(Options {
        target,
        ring,
        timeout: Duration::from_millis(timeout_ms),
    })
}

/// The whole program of `role`: parse, meet the peer, transfer (spec §2); [`main_with`]
/// reports a failure.
///
/// [`main_with`]: crate::exit::main_with
pub fn run(role: Role, args: &[String]) -> Result<(), Failure> {
    let opts = parse(args).map_err(Failure::Usage)?;
    let channel = Channel::open(&opts.target, role, opts.ring, opts.timeout)?;
    match role {
        Role::Sender => channel.send(std::io::stdin().as_fd()),
        Role::Receiver => channel.recv(std::io::stdout().as_fd()),
    }
}

/// `cargo test -p posix-shm` runs these: they fail (`not yet implemented`) until `check_name`
/// is written, and pass once it follows spec §3.1.
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_a_slash_and_1_to_254_bytes_without_slash() {
        assert!(check_name("/ipclab").is_ok());
        assert!(check_name(&format!("/{}", "n".repeat(254))).is_ok());
        let long = format!("/{}", "n".repeat(255));
        for bad in ["ipclab", "/", "/a/b", "/.", "/..", long.as_str()] {
            assert!(check_name(bad).is_err(), "{bad:?} should be refused");
        }
    }
}
