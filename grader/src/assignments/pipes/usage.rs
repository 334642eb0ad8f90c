//! A malformed command line: usage on stderr, exit status 2.

use crate::check::{Check, Ctx, Failure};
use crate::expect;
use crate::run::Input;

use super::words;

/// The checks of this family, in the spec's order.
pub(super) fn checks() -> Vec<Check> {
    vec![
        Check::new(
            "usage-errors",
            2,
            "a malformed command line prints usage and exits 2",
            usage_errors,
        )
        .lesson("§5"),
    ]
}

fn usage_errors(ctx: &Ctx) -> Result<(), Failure> {
    let cases: [(&str, &[&str]); 5] = [
        ("pipeline", &[]),
        ("pipeline", &["|", "cat"]),
        ("pipeline", &["cat", "|"]),
        ("pipeline", &["cat", "|", "|", "cat"]),
        ("relay", &[]),
    ];
    for (bin, args) in cases {
        let run = ctx.run(ctx.cmd(bin, words(args)).stdin(Input::Null))?;
        expect::exit_code(&run, 2)?;
        expect::stderr_starts(&run, "usage:")?;
        expect::stdout_empty(&run)?;
    }
    Ok(())
}
