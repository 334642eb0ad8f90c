//! `msgq` checks: malformed command lines and a missing key file: what both programs refuse,
//! and that they create nothing.

use std::time::Duration;

use super::common::*;
use crate::check::{Check, Ctx, Failure};
use crate::expect;
use crate::shapes::{self, Created, UsageCase, UsageRule};

/// This family's checks, in the spec's order.
pub(super) fn checks() -> Vec<Check> {
    let secs = Duration::from_secs;
    vec![
        Check::new(
            "usage-errors",
            2,
            "bad command lines of both programs: exit 2, usage line, nothing created",
            usage_errors,
        )
        .limit(secs(5)),
        Check::new(
            "missing-key-path",
            2,
            "PATH does not exist: exit 1, an ftok message, nothing created",
            missing_key_path,
        )
        .limit(secs(5))
        .lesson("§11"),
    ]
}

/// Each malformed command line: exit 2, stderr `PROGRAM: usage:…`, nothing on stdout, and no
/// IPC object created (the queue least of all).
fn usage_errors(ctx: &Ctx) -> Result<(), Failure> {
    let path = key_file(ctx);
    let p = path.as_str();
    let cases: [(&str, Vec<&str>); 9] = [
        ("msgq-server", vec![]),
        ("msgq-server", vec![p, p]),
        ("msgq-server", vec!["--id", "0", p]),
        ("msgq-server", vec!["--timeout", p]),
        ("msgq-client", vec![p]),
        ("msgq-client", vec![p, "sum", "1"]),
        ("msgq-client", vec![p, "sum", "1", "+2"]),
        ("msgq-client", vec![p, "put", "0"]),
        ("msgq-client", vec!["--urgent", p, "frobnicate"]),
    ];
    let rule = UsageRule::new()
        .exit(2)
        .stderr_starts("{program}: usage:")
        .stdout_empty()
        .nothing_created(
            Created::anywhere("a malformed command line created the queue")
                .detail("HINT: parse the whole command line before ftok and msgget."),
        );
    let cases = cases.map(|(bin, args)| UsageCase::new(bin, args));
    shapes::usage_errors(ctx, &rule, &cases)
}

fn missing_key_path(ctx: &Ctx) -> Result<(), Failure> {
    let missing = ctx
        .dir()
        .join("no-such-file")
        .to_string_lossy()
        .into_owned();
    for (bin, args) in [
        ("msgq-server", vec![missing.as_str()]),
        ("msgq-client", vec![missing.as_str(), "sum", "1", "2"]),
    ] {
        let run = ctx.run(ctx.cmd(bin, args))?;
        expect::exit_code(&run, 1)?;
        expect::stderr_starts(&run, &format!("{bin}: "))?;
        expect::stderr_has(&run, "ftok")?;
        expect::stdout_empty(&run)?;
    }
    Ok(())
}
