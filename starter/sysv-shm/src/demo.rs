//! Part 1, the lesson's shmdemo: a string left in a persistent segment (spec §3, lesson §10–11).

use crate::Failure;
use crate::cli::{self, KeyArgs};

/// The program's name in messages.
pub const PROGRAM: &str = "svshm-demo";
/// The usage line's synopsis.
pub const SYNOPSIS: &str =
    "write KEYPATH PROJ_ID SIZE STRING | read KEYPATH PROJ_ID | remove KEYPATH PROJ_ID";
/// Permission bits of the segment `write` creates.
pub const MODE: libc::c_int = 0o600;

/// One parsed command line.
#[derive(Debug)]
pub enum Command {
    /// `write KEYPATH PROJ_ID SIZE STRING`: store STRING and a NUL in a segment of SIZE bytes.
    Write {
        key: KeyArgs,
        size: usize,
        text: String,
    },
    /// `read KEYPATH PROJ_ID`: print the string in the segment.
    Read { key: KeyArgs },
    /// `remove KEYPATH PROJ_ID`: destroy the segment.
    Remove { key: KeyArgs },
}

/// Parses the arguments after the program name (spec §3.1).
pub fn parse(args: &[String]) -> Result<Command, Failure> {
    match args {
        [cmd, path, id, size, text] if cmd == "write" => {
            let key = cli::key_args(path, id)?;
            let size = cli::number(size, "SIZE", 1, u64::MAX)?;
            if text.len() as u64 >= size {
                return Err(Failure::usage(format!(
                    "STRING ({} bytes) and its NUL do not fit in SIZE {size}",
                    text.len()
                )));
            }
            let size = cli::segment_size(size, 0)?;
            Ok(Command::Write {
                key,
                size,
                text: text.clone(),
            })
        }
        [cmd, path, id] if cmd == "read" => Ok(Command::Read {
            key: cli::key_args(path, id)?,
        }),
        [cmd, path, id] if cmd == "remove" => Ok(Command::Remove {
            key: cli::key_args(path, id)?,
        }),
        _ => Err(Failure::usage(
            "expected write, read or remove and their arguments",
        )),
    }
}

/// `svshm-demo ARGS…`: the binary's whole behaviour.
pub fn run(args: &[String]) -> Result<(), Failure> {
    match parse(args)? {
        Command::Write { key, size, text } => write(&key, size, &text),
        Command::Read { key } => read(&key),
        Command::Remove { key } => remove(&key),
    }
}

/// `write`: creates the segment if needed (`IPC_CREAT`, mode 0600, SIZE bytes), copies STRING
/// and a NUL to its start, detaches, and prints `writing to segment: "STRING"` (spec §3.2).
pub fn write(key: &KeyArgs, size: usize, text: &str) -> Result<(), Failure> {
    let _ = (key, size, text);
    todo!("specs/sysv-shm.md §3.2: create or open the segment, copy the string and its NUL")
}

/// `read`: attaches the existing segment read-only and prints `segment contains: "…"` with the
/// bytes before its first NUL (or all of it when there is none) (spec §3.3).
pub fn read(key: &KeyArgs) -> Result<(), Failure> {
    let _ = key;
    todo!("specs/sysv-shm.md §3.3: open the existing segment read-only and print its string")
}

/// `remove`: removes the existing segment (`shmctl(IPC_RMID)`) and prints `segment removed`
/// (spec §3.4).
pub fn remove(key: &KeyArgs) -> Result<(), Failure> {
    let _ = key;
    todo!("specs/sysv-shm.md §3.4: open the existing segment and remove it")
}
