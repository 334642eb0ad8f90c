//! `pipeline`: commands connected by pipes, like `sh -c 'a | b | c'` (spec §2, lesson §5).

use std::process::ExitCode;

use crate::pipe::Command;

/// The program's name in its messages.
const PROGRAM: &str = "pipeline";
/// The word that separates two stages on the command line.
pub const SEPARATOR: &str = "|";
/// What `pipeline` prints on stderr, with exit status 2, for a malformed command line.
pub const USAGE: &str = "usage: pipeline CMD [ARG...] ['|' CMD [ARG...]]...";

/// Splits the command line into stages at each `|` word; `None` if it is malformed: no word at
/// all, or an empty stage (a `|` first, last, or next to another `|`) (spec §2.1).
pub fn parse(args: &[String]) -> Option<Vec<Command>> {
    let _ = args;
    todo!("specs/pipes.md §2.1: split the arguments into stages at each '|'")
}

/// Runs the stages connected by pipes and returns the last stage's status (spec §2.2).
///
/// Stage `i` reads the pipe that stage `i - 1` writes; the first reads our stdin, the last
/// writes our stdout. The parent closes each pipe end as soon as the child that needs it has
/// been forked, so that every reader sees end-of-file when its writer exits, then waits for
/// every child.
pub fn run(stages: &[Command]) -> nix::Result<u8> {
    let _ = stages;
    todo!("specs/pipes.md §2.2: connect the stages with pipes, run them, wait for all")
}

/// The program: parse, run, and exit with the last stage's status (spec §2).
pub fn main(args: &[String]) -> ExitCode {
    let Some(stages) = parse(args) else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    match run(&stages) {
        Ok(status) => ExitCode::from(status),
        Err(err) => {
            eprintln!("{PROGRAM}: {err}");
            ExitCode::FAILURE
        }
    }
}
