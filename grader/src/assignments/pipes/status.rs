//! `pipeline`'s exit status: 127 for a command that cannot be run, the last stage's otherwise.

use crate::check::{Check, Ctx, Failure};
use crate::expect;

use super::{MISSING, words};

/// The checks of this family, in the spec's order.
pub(super) fn checks() -> Vec<Check> {
    vec![
        Check::new(
            "command-not-found",
            1,
            "a command that cannot be run: its name on stderr, status 127",
            command_not_found,
        )
        .lesson("§5"),
        Check::new(
            "exit-status",
            2,
            "the status is the last stage's, 128 + N for a signal",
            exit_status,
        )
        .lesson("§5"),
    ]
}

fn command_not_found(ctx: &Ctx) -> Result<(), Failure> {
    for line in [vec![MISSING], vec!["cat", "|", MISSING]] {
        let run = ctx.run(ctx.cmd("pipeline", words(&line)))?;
        expect::exit_code(&run, 127)?;
        expect::stderr_has(&run, MISSING)?;
    }
    Ok(())
}

fn exit_status(ctx: &Ctx) -> Result<(), Failure> {
    let cases: [(&[&str], i32); 3] = [
        (&["sh", "-c", "exit 3"], 3),
        (&["sh", "-c", "exit 5", "|", "cat"], 0),
        (
            &["true", "|", "sh", "-c", "kill -TERM $$"],
            128 + libc::SIGTERM,
        ),
    ];
    for (line, status) in cases {
        let run = ctx.run(ctx.cmd("pipeline", words(line)))?;
        expect::exit_code(&run, status)?;
    }
    Ok(())
}
