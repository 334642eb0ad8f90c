//! A malformed command line: usage on stderr, exit status 2.

use crate::check::{Check, Ctx, Failure};
use crate::shapes::{self, UsageCase, UsageRule};

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
    let rule = UsageRule::new()
        .stdin_null()
        .exit(2)
        .stderr_starts("usage:")
        .stdout_empty();
    let cases = cases.map(|(bin, args)| UsageCase::new(bin, words(args)));
    shapes::usage_errors(ctx, &rule, &cases)
}
