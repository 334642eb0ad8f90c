//! Command lines, exit statuses and messages (specs/seg-pool.md §2.1–2.2). Given complete.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// The server's usage line.
pub const SERVER_USAGE: &str =
    "usage: segpool-server [--timeout-ms MS] KEYPATH PROJ_ID SEGMENTS SEG_SIZE CLIENTS";
/// The client's usage line.
pub const CLIENT_USAGE: &str = "usage: segpool-client KEYPATH PROJ_ID";
/// The bound of the server's waits when `--timeout-ms` is absent.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(10_000);
/// The largest SEGMENTS.
pub const MAX_SEGMENTS: u64 = 64;
/// The largest SEG_SIZE.
pub const MAX_SEG_SIZE: u64 = 1 << 30;
/// The largest CLIENTS.
pub const MAX_CLIENTS: u64 = 1000;

/// Exit status 1: a runtime failure.
pub const FAILURE: u8 = 1;
/// Exit status 2: a malformed command line.
pub const USAGE: u8 = 2;
/// Exit status 3: gave up (the server: no message for the timeout; the client: the queue
/// went away).
pub const GAVE_UP: u8 = 3;

/// The server's command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerArgs {
    /// `--timeout-ms MS`.
    pub timeout: Duration,
    /// KEYPATH.
    pub path: PathBuf,
    /// PROJ_ID.
    pub proj: u8,
    /// SEGMENTS: how many segments the pool holds.
    pub segments: usize,
    /// SEG_SIZE: the bytes of each segment.
    pub seg_size: usize,
    /// CLIENTS: how many clients the server serves before it exits.
    pub clients: u64,
}

/// The client's command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientArgs {
    /// KEYPATH.
    pub path: PathBuf,
    /// PROJ_ID.
    pub proj: u8,
}

/// Plain decimal digits within `lo..=hi`, else a message saying what was expected.
fn number(name: &str, text: &str, lo: u64, hi: u64) -> Result<u64, String> {
    let ok = !text.is_empty() && text.len() <= 19 && text.bytes().all(|b| b.is_ascii_digit());
    match text.parse::<u64>() {
        Ok(n) if ok && (lo..=hi).contains(&n) => Ok(n),
        _ => Err(format!(
            "{name} must be a decimal number from {lo} to {hi}, not '{text}'"
        )),
    }
}

/// Parses the server's arguments (without the program name).
pub fn parse_server(args: &[String]) -> Result<ServerArgs, String> {
    let mut timeout = DEFAULT_TIMEOUT;
    let mut rest = Vec::new();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        if arg == "--timeout-ms" {
            let ms = it.next().ok_or("--timeout-ms needs a value")?;
            timeout = Duration::from_millis(number("MS", ms, 1, 3_600_000)?);
        } else if arg.starts_with("--") {
            return Err(format!("unknown option '{arg}'"));
        } else {
            rest.push(arg.as_str());
        }
    }
    let [path, proj, segments, seg_size, clients] = rest[..] else {
        return Err(format!("expected 5 arguments, got {}", rest.len()));
    };
    Ok(ServerArgs {
        timeout,
        path: PathBuf::from(path),
        proj: number("PROJ_ID", proj, 1, 255)? as u8,
        segments: number("SEGMENTS", segments, 1, MAX_SEGMENTS)? as usize,
        seg_size: number("SEG_SIZE", seg_size, 1, MAX_SEG_SIZE)? as usize,
        clients: number("CLIENTS", clients, 1, MAX_CLIENTS)?,
    })
}

/// Parses the client's arguments (without the program name).
pub fn parse_client(args: &[String]) -> Result<ClientArgs, String> {
    if let Some(arg) = args.iter().find(|a| a.starts_with("--")) {
        return Err(format!("unknown option '{arg}'"));
    }
    let [path, proj] = args else {
        return Err(format!("expected 2 arguments, got {}", args.len()));
    };
    Ok(ClientArgs {
        path: PathBuf::from(path),
        proj: number("PROJ_ID", proj, 1, 255)? as u8,
    })
}

/// Prints `PROGRAM: message` on stderr and returns `status`.
pub fn fail(program: &str, status: u8, message: impl std::fmt::Display) -> ExitCode {
    eprintln!("{program}: {message}");
    ExitCode::from(status)
}

/// Prints `PROGRAM: message` and the usage line on stderr and returns status 2.
pub fn usage(program: &str, usage: &str, message: impl std::fmt::Display) -> ExitCode {
    eprintln!("{program}: {message}\n{usage}");
    ExitCode::from(USAGE)
}
