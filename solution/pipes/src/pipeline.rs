//! `pipeline`: commands connected by pipes, like `sh -c 'a | b | c'` (spec §2, lesson §5).

use std::process::ExitCode;

use crate::pipe::Command;
// BEGIN SOLUTION
use crate::pipe;
use std::os::fd::OwnedFd;
// END SOLUTION

/// The program's name in its messages.
const PROGRAM: &str = "pipeline";
/// The word that separates two stages on the command line.
pub const SEPARATOR: &str = "|";
/// What `pipeline` prints on stderr, with exit status 2, for a malformed command line.
pub const USAGE: &str = "usage: pipeline CMD [ARG...] ['|' CMD [ARG...]]...";

/// Splits the command line into stages at each `|` word; `None` if it is malformed: no word at
/// all, or an empty stage (a `|` first, last, or next to another `|`) (spec §2.1).
pub fn parse(args: &[String]) -> Option<Vec<Command>> {
    // BEGIN SOLUTION let _ = args; todo!("specs/pipes.md §2.1: split the arguments into stages at each '|'")
    if args.is_empty() {
        return None;
    }
    args.split(|word| word == SEPARATOR)
        .map(Command::new)
        .collect()
    // END SOLUTION
}

/// Runs the stages connected by pipes and returns the last stage's status (spec §2.2).
///
/// Stage `i` reads the pipe that stage `i - 1` writes; the first reads our stdin, the last
/// writes our stdout. The parent closes each pipe end as soon as the child that needs it has
/// been forked, so that every reader sees end-of-file when its writer exits, then waits for
/// every child.
pub fn run(stages: &[Command]) -> nix::Result<u8> {
    // BEGIN SOLUTION let _ = stages; todo!("specs/pipes.md §2.2: connect the stages with pipes, run them, wait for all")
    let mut pids = Vec::with_capacity(stages.len());
    let mut input: Option<OwnedFd> = None;
    for (i, stage) in stages.iter().enumerate() {
        let last = i + 1 == stages.len();
        let (next_input, output) = if last {
            (None, None)
        } else {
            let (read, write) = pipe::pipe()?;
            (Some(read), Some(write))
        };
        pids.push(pipe::spawn(
            PROGRAM,
            stage,
            input.as_ref(),
            output.as_ref(),
        )?);
        // Dropping `input` and `output` closes the parent's copies: the write end now belongs
        // to the child alone, so its reader will see end-of-file when it exits.
        input = next_input;
    }
    let mut status = 0;
    for pid in pids {
        status = pipe::wait_status(pid)?;
    }
    Ok(status)
    // END SOLUTION
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

/// `cargo test -p pipes` runs these: they fail (`not yet implemented`) until `parse` is
/// written, and pass once it follows spec §2.1.
#[cfg(test)]
mod tests {
    use super::*;

    fn words(line: &[&str]) -> Vec<String> {
        line.iter().map(|w| w.to_string()).collect()
    }

    fn stages(line: &[&str]) -> Option<Vec<Vec<String>>> {
        let parsed = parse(&words(line))?;
        Some(
            parsed
                .iter()
                .map(|c| {
                    c.argv
                        .iter()
                        .map(|a| a.to_string_lossy().into_owned())
                        .collect()
                })
                .collect(),
        )
    }

    #[test]
    fn one_stage_keeps_its_arguments() {
        assert_eq!(
            stages(&["echo", "a b", "c"]),
            Some(vec![words(&["echo", "a b", "c"])])
        );
    }

    #[test]
    fn each_bar_word_starts_a_stage() {
        assert_eq!(
            stages(&["cat", "|", "tr", "a-z", "A-Z", "|", "wc", "-c"]),
            Some(vec![
                words(&["cat"]),
                words(&["tr", "a-z", "A-Z"]),
                words(&["wc", "-c"])
            ])
        );
    }

    #[test]
    fn a_bar_inside_a_word_is_not_a_separator() {
        assert_eq!(
            stages(&["echo", "a|b"]),
            Some(vec![words(&["echo", "a|b"])])
        );
    }

    #[test]
    fn empty_stages_are_malformed() {
        for line in [
            &[][..],
            &["|", "cat"],
            &["cat", "|"],
            &["cat", "|", "|", "cat"],
            &["|"],
        ] {
            assert!(stages(line).is_none(), "{line:?} should be malformed");
        }
    }
}
