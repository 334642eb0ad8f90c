//! Hidden checks of `pipes`: graded by instructors, never shipped to students (compiled only
//! with the grader's `instructor` feature; README, "Visibility and hidden checks").

use std::time::Duration;

use crate::check::{Check, Ctx, Failure, Visibility};
use crate::expect;
use crate::run::{Input, Output};
use crate::stream::{self, Stream};

/// The hidden checks, graded after the visible ones.
pub fn checks() -> Vec<Check> {
    vec![
        Check::new(
            "many-stages",
            2,
            "1 MiB through eight stages, `cat | … | cat | tr a-z A-Z`, byte for byte",
            many_stages,
        )
        .limit(Duration::from_secs(10))
        .lesson("§5")
        .visibility(Visibility::Hidden),
    ]
}

/// Eight stages: no fixed table of pipes or children, every stage wired and waited for.
fn many_stages(ctx: &Ctx) -> Result<(), Failure> {
    let len = 1024 * 1024;
    let mut line: Vec<String> = Vec::new();
    for _ in 0..7 {
        line.extend(["cat".into(), "|".into()]);
    }
    line.extend(["tr".into(), "a-z".into(), "A-Z".into()]);
    let input = Stream::new(ctx.seed() ^ 8, len);
    let run = ctx.run(
        ctx.cmd("pipeline", line)
            .stdin(Input::Stream(input))
            .stdout(Output::Compare(input.mapped(stream::upper))),
    )?;
    expect::stream_matched(&run)?;
    expect::exit_code(&run, 0)?;
    expect::no_leftovers(&run)
}
