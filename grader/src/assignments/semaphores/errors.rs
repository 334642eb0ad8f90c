//! Usage errors of the three programs: each bad command line exits 2 with the usage line and
//! creates nothing; a KEYPATH naming no file is a runtime failure (exit 1).

use std::time::Duration;

use crate::check::{Check, Ctx, Failure};
use crate::shapes::{self, Created, UsageCase, UsageRule};

use super::common::{fresh_key, fresh_name, gave_up};

/// The checks of this family, in the spec's order.
pub(super) fn checks() -> Vec<Check> {
    let secs = Duration::from_secs;
    vec![
        Check::new(
            "bad-input",
            10,
            "out-of-range numbers, bad NAME, unknown option, missing argument: exit 2 + usage",
            bad_input,
        )
        .limit(secs(10))
        .lesson("§1"),
    ]
}

fn bad_input(ctx: &Ctx) -> Result<(), Failure> {
    let key = fresh_key(ctx)?;
    let name = fresh_name();
    let k = key.as_str();
    let n = name.as_str();
    let bare = &name[1..];
    let t = ["--timeout-ms", "200"];
    let with_t = |args: &[&str]| -> Vec<String> {
        args.iter().chain(t.iter()).map(|s| s.to_string()).collect()
    };
    let cases: Vec<(&str, Vec<String>)> = vec![
        ("sem-pingpong", with_t(&["ping", n, "0"])),
        ("sem-pingpong", with_t(&["pong", n, "1000001"])),
        ("sem-pingpong", with_t(&["ping", n, "12x"])),
        ("sem-pingpong", with_t(&["ping", bare, "3"])),
        ("sem-pingpong", with_t(&["ping", "/a/b", "3"])),
        ("sem-pingpong", with_t(&["pang", n, "3"])),
        ("sem-pingpong", with_t(&["ping", n, "3", "--bogus", "1"])),
        ("sem-pingpong", with_t(&["ping", n])),
        (
            "sem-pingpong",
            vec!["ping".into(), n.into(), "3".into(), "--timeout-ms".into()],
        ),
        ("sem-ring", with_t(&[k, "0", "1", "3"])),
        ("sem-ring", with_t(&[k, "0", "17", "3"])),
        ("sem-ring", with_t(&[k, "3", "3", "3"])),
        ("sem-ring", with_t(&[k, "0", "3", "0"])),
        ("sem-ring", with_t(&[k, "0", "3", "1000001"])),
        ("sem-ring", with_t(&[k, "0", "3"])),
        (
            "sem-ring",
            vec![
                k.into(),
                "0".into(),
                "3".into(),
                "3".into(),
                "--timeout-ms".into(),
                "0".into(),
            ],
        ),
        ("sem-mutex", vec!["frob".into(), k.into()]),
        (
            "sem-mutex",
            vec!["init".into(), k.into(), "--timeout-ms".into(), "5".into()],
        ),
        ("sem-mutex", with_t(&["add", k])),
        ("sem-mutex", with_t(&["add", k, "0"])),
        ("sem-mutex", with_t(&["add", k, "1000001"])),
    ];
    let hint = "HINT: spec §1.1 gives every range; a usage error exits 2 with `PROGRAM: message` \
                and the usage line on stderr, before any IPC object is touched.";
    let rule = UsageRule::new()
        .usage(
            "sem-pingpong",
            "usage: sem-pingpong ping|pong NAME ROUNDS [--timeout-ms MS]",
        )
        .usage(
            "sem-ring",
            "usage: sem-ring KEYPATH INDEX K ROUNDS [--timeout-ms MS]",
        )
        .usage(
            "sem-mutex",
            "usage: sem-mutex init KEYPATH | add KEYPATH TIMES [--timeout-ms MS] [--hold-ms MS] | finish KEYPATH [--timeout-ms MS]",
        )
        .exit(2)
        .hinted(hint)
        .stderr_starts("{program}: ")
        .hinted(hint)
        .usage_line()
        .stdout_empty()
        .nothing_created(Created::anywhere("a rejected command line created IPC objects").listed())
        .hinted(hint);
    let cases: Vec<UsageCase> = cases
        .into_iter()
        .map(|(program, args)| UsageCase::new(program, args))
        .collect();
    shapes::usage_errors(ctx, &rule, &cases)?;
    // A KEYPATH that does not exist is a runtime failure, not a usage error.
    let missing = ctx
        .dir()
        .join("no-such-keyfile")
        .to_string_lossy()
        .into_owned();
    for (program, args) in [
        (
            "sem-ring",
            vec![missing.as_str(), "0", "2", "1", "--timeout-ms", "200"],
        ),
        ("sem-mutex", vec!["init", missing.as_str()]),
    ] {
        let run = ctx.run(ctx.cmd(program, args))?;
        gave_up(&run, 1, program)
            .map_err(|f| f.detail("(KEYPATH names no file: exit 1, spec §1.1)"))?;
    }
    Ok(())
}
