//! Command lines (specs/msgq.md §1) and the request lines of `session` and `batch` (§4.4).

use std::path::PathBuf;
use std::time::Duration;

/// The server's usage line.
pub const SERVER_USAGE: &str = "usage: msgq-server [--id N] [--timeout MS] PATH";
/// The client's usage line.
pub const CLIENT_USAGE: &str = "usage: msgq-client [--id N] [--timeout MS] [--urgent] PATH \
                                (sum A B | upper TEXT | shutdown | put SEGSIZE | session | batch)";
/// `ftok` project id when `--id` is absent.
pub const DEFAULT_ID: u8 = 1;
/// Bound of every wait when `--timeout` is absent.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(5000);

/// Options common to both programs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// `--id N`: the `ftok` project id, 1–255.
    pub id: u8,
    /// `--timeout MS`: the bound of every wait for a peer.
    pub timeout: Duration,
    /// `--urgent` (client only): send requests with `TYPE_URGENT`.
    pub urgent: bool,
    /// The file whose identity gives the queue's key.
    pub path: PathBuf,
}

/// What the client is asked to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `sum A B`.
    Sum(i64, i64),
    /// `upper TEXT`.
    Upper(Vec<u8>),
    /// `shutdown`.
    Shutdown,
    /// `put SEGSIZE`: send standard input through a segment of that many bytes.
    Put(usize),
    /// `session`: one request per input line, each answered before the next is sent.
    Session,
    /// `batch`: all input lines sent first, replies printed as they arrive.
    Batch,
}

/// Parses the server's arguments (without the program name).
pub fn parse_server(args: &[String]) -> Option<Options> {
    let _ = &args;
    todo!("specs/msgq.md §1.1: parse the server's command line")
}

/// Parses the client's arguments (without the program name).
pub fn parse_client(args: &[String]) -> Option<(Options, Command)> {
    let _ = &args;
    todo!("specs/msgq.md §1.2: parse the client's command line")
}

/// Parses one request line of `session` or `batch` (without its newline): `sum A B`,
/// `upper TEXT` or `shutdown`, optionally preceded by `!` for urgent. Returns whether it is
/// urgent and the command, or `None` for a bad line.
pub fn parse_line(line: &[u8]) -> Option<(bool, Command)> {
    let _ = &line;
    todo!("specs/msgq.md §4.4: parse a request line")
}

/// Parses `-?[0-9]+` within the range of an `int64_t`.
pub fn parse_i64(s: &[u8]) -> Option<i64> {
    let _ = &s;
    todo!("specs/msgq.md §1.2: parse a signed decimal")
}

/// Exit status: runtime failure.
pub const EXIT_FAILURE: u8 = 1;
/// Exit status: malformed command line.
pub const EXIT_USAGE: u8 = 2;
/// Exit status: gave up waiting for a peer.
pub const EXIT_GAVE_UP: u8 = 3;

/// How a program ends: an exit status and the message it prints on standard error, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exit {
    /// The exit status.
    pub code: u8,
    /// One line for standard error, without the program prefix.
    pub message: Option<String>,
}

impl Exit {
    /// An exit with `code` and `message`.
    pub fn new(code: u8, message: impl Into<String>) -> Exit {
        Exit {
            code,
            message: Some(message.into()),
        }
    }

    /// A silent exit with `code`.
    pub fn quiet(code: u8) -> Exit {
        Exit {
            code,
            message: None,
        }
    }

    /// Prints `PROGRAM: MESSAGE` on standard error and returns the exit code.
    pub fn report(self, program: &str) -> std::process::ExitCode {
        if let Some(message) = self.message {
            eprintln!("{program}: {message}");
        }
        std::process::ExitCode::from(self.code)
    }
}

/// `cargo test -p msgq` runs these: they fail (`not yet implemented`) until the parsers are
/// written, and pass once they follow spec §1.2 and §4.4.
#[cfg(test)]
mod tests {
    use super::*;

    fn args(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| w.to_string()).collect()
    }

    #[test]
    fn signed_decimals_within_int64() {
        assert_eq!(parse_i64(b"42"), Some(42));
        assert_eq!(parse_i64(b"-5"), Some(-5));
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_i64(b"9223372036854775807"), Some(i64::MAX));
        for bad in [&b"9223372036854775808"[..], b"+2", b"", b"-", b"1x", b" 1"] {
            assert_eq!(parse_i64(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn request_lines() {
        assert_eq!(parse_line(b"sum 1 2"), Some((false, Command::Sum(1, 2))));
        assert_eq!(parse_line(b"!shutdown"), Some((true, Command::Shutdown)));
        assert_eq!(
            parse_line(b"upper a  b"),
            Some((false, Command::Upper(b"a  b".to_vec())))
        );
        assert_eq!(parse_line(b"sum 1"), None);
        assert_eq!(parse_line(b"frobnicate"), None);
    }

    #[test]
    fn client_command_lines() {
        let (_, command) = parse_client(&args(&["key", "sum", "1", "-2"])).expect("good");
        assert_eq!(command, Command::Sum(1, -2));
        for bad in [&["key"][..], &["key", "sum", "1"], &["key", "put", "0"]] {
            assert!(
                parse_client(&args(bad)).is_none(),
                "{bad:?} should be refused"
            );
        }
        assert!(parse_server(&args(&["key"])).is_some());
        assert!(parse_server(&args(&[])).is_none());
    }
}
