//! Part 1, the lesson's shmdemo: a string left in a persistent segment (spec §3, lesson §10–11).

use crate::Failure;
use crate::cli::{self, KeyArgs};
// BEGIN SOLUTION
use std::io::Write;

use crate::sysv_shm::{self, Key};
// END SOLUTION

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
// BEGIN SOLUTION

/// `ftok(KEYPATH, PROJ_ID)` with the spec's message on failure.
fn key_of(key: &KeyArgs) -> Result<Key, Failure> {
    sysv_shm::ftok(&key.path, key.proj_id)
        .map_err(|e| Failure::sys("ftok", &key.path.display().to_string(), e))
}

/// Opens the existing segment of `key`; a missing one is a runtime failure.
fn open_existing(key: &KeyArgs) -> Result<sysv_shm::ShmId, Failure> {
    let k = key_of(key)?;
    sysv_shm::shmget(k, 0, 0).map_err(|e| match e {
        nix::errno::Errno::ENOENT => Failure::runtime(format!(
            "no segment for {} and project id {}",
            key.path.display(),
            key.proj_id
        )),
        e => Failure::sys("shmget", "", e),
    })
}
// END SOLUTION

/// `write`: creates the segment if needed (`IPC_CREAT`, mode 0600, SIZE bytes), copies STRING
/// and a NUL to its start, detaches, and prints `writing to segment: "STRING"` (spec §3.2).
pub fn write(key: &KeyArgs, size: usize, text: &str) -> Result<(), Failure> {
    let _ = (key, size, text);
    // BEGIN SOLUTION todo!("specs/sysv-shm.md §3.2: create or open the segment, copy the string and its NUL")
    let k = key_of(key)?;
    let (id, created) = match sysv_shm::shmget(k, size, libc::IPC_CREAT | libc::IPC_EXCL | MODE) {
        Ok(id) => (id, true),
        Err(nix::errno::Errno::EEXIST) => {
            let id = sysv_shm::shmget(k, size, MODE).map_err(|e| Failure::sys("shmget", "", e))?;
            (id, false)
        }
        Err(e) => return Err(Failure::sys("shmget", "", e)),
    };
    let attachment = match sysv_shm::shmat(id, size, false) {
        Ok(a) => a,
        Err(e) => {
            if created {
                let _ = sysv_shm::shm_remove(id);
            }
            return Err(Failure::sys("shmat", "", e));
        }
    };
    let bytes = text.as_bytes();
    // SAFETY: the segment has at least `size` > `bytes.len()` bytes (checked when parsing) and
    // this process holds the only reference into it for the duration of the copy.
    let segment = unsafe { std::slice::from_raw_parts_mut(attachment.as_ptr(), bytes.len() + 1) };
    segment[..bytes.len()].copy_from_slice(bytes);
    segment[bytes.len()] = 0;
    drop(attachment);
    let mut out = std::io::stdout().lock();
    out.write_all(b"writing to segment: \"")
        .and_then(|()| out.write_all(bytes))
        .and_then(|()| out.write_all(b"\"\n"))
        .and_then(|()| out.flush())
        .map_err(|e| Failure::runtime(format!("write to stdout: {e}")))
    // END SOLUTION
}

/// `read`: attaches the existing segment read-only and prints `segment contains: "…"` with the
/// bytes before its first NUL (or all of it when there is none) (spec §3.3).
pub fn read(key: &KeyArgs) -> Result<(), Failure> {
    let _ = key;
    // BEGIN SOLUTION todo!("specs/sysv-shm.md §3.3: open the existing segment read-only and print its string")
    let id = open_existing(key)?;
    let size = sysv_shm::shm_stat(id)
        .map_err(|e| Failure::sys("shmctl", "IPC_STAT", e))?
        .shm_segsz;
    let attachment = sysv_shm::shmat(id, size, true).map_err(|e| Failure::sys("shmat", "", e))?;
    // SAFETY: the attachment maps `size` readable bytes; a concurrent writer could change them,
    // which would change the text printed but not its bounds.
    let segment = unsafe { std::slice::from_raw_parts(attachment.as_ptr(), size) };
    let text = segment.split(|&b| b == 0).next().unwrap_or_default();
    let mut out = std::io::stdout().lock();
    out.write_all(b"segment contains: \"")
        .and_then(|()| out.write_all(text))
        .and_then(|()| out.write_all(b"\"\n"))
        .and_then(|()| out.flush())
        .map_err(|e| Failure::runtime(format!("write to stdout: {e}")))
    // END SOLUTION
}

/// `remove`: removes the existing segment (`shmctl(IPC_RMID)`) and prints `segment removed`
/// (spec §3.4).
pub fn remove(key: &KeyArgs) -> Result<(), Failure> {
    let _ = key;
    // BEGIN SOLUTION todo!("specs/sysv-shm.md §3.4: open the existing segment and remove it")
    let id = open_existing(key)?;
    sysv_shm::shm_remove(id).map_err(|e| Failure::sys("shmctl", "IPC_RMID", e))?;
    println!("segment removed");
    Ok(())
    // END SOLUTION
}
