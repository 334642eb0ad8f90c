//! Malformed command lines: exit 2, one line naming the problem, the usage line.

use std::time::Duration;

use crate::check::ensure;
use crate::check::{Check, Ctx, Failure};
use crate::leaks::unique_name;
use crate::shapes::{self, Created, UsageCase, UsageRule};

use super::common::*;

const USAGE_SEND: &str = "usage: pshm-send [--ring BYTES] [--timeout MS] (NAME | --file PATH)";
const USAGE_RECV: &str = "usage: pshm-recv [--ring BYTES] [--timeout MS] (NAME | --file PATH)";

/// The checks of this family, in the spec's order.
pub(super) fn checks() -> Vec<Check> {
    let secs = Duration::from_secs;
    vec![
        Check::new(
            "bad-names",
            4,
            "`ipclab`, `/`, `/a/b`, `/..`, a 256-byte name: exit 2, `bad name`, usage",
            bad_names,
        )
        .limit(secs(5))
        .lesson("§12"),
        Check::new(
            "bad-options",
            3,
            "missing or doubled operand, unknown option, bad --ring / --timeout: exit 2",
            bad_options,
        )
        .limit(secs(5)),
    ]
}

/// Runs `bin args` and expects exit 2, a first line `bin: …PHRASE…`, the usage line, nothing
/// on stdout and nothing new in /dev/shm.
fn usage_error(ctx: &Ctx, bin: &str, args: &[String], phrase: &str) -> Result<(), Failure> {
    let rule = UsageRule::new()
        .usage("pshm-send", USAGE_SEND)
        .usage("pshm-recv", USAGE_RECV)
        .exit(2)
        .stdout_empty()
        .two_lines()
        .nothing_created(Created::in_dev_shm(
            "a malformed command line created {names} in /dev/shm",
        ))
        .hinted("HINT: check the whole command line before any system call (§2.3, §3.1).");
    shapes::usage_errors(ctx, &rule, &[UsageCase::new(bin, args).phrase(phrase)])
}

fn bad_names(ctx: &Ctx) -> Result<(), Failure> {
    let long = format!("/{}", "n".repeat(255));
    for bin in ["pshm-send", "pshm-recv"] {
        for name in ["ipclab", "/", "/a/b", "/..", long.as_str()] {
            usage_error(
                ctx,
                bin,
                &["--timeout".into(), "300".into(), name.into()],
                "bad name",
            )?;
        }
    }
    // 254 bytes after the slash is the longest good name: it must not be refused as bad.
    let longest = format!(
        "/{}",
        unique_name("x")
            .chars()
            .chain(std::iter::repeat('n'))
            .take(254)
            .collect::<String>()
    );
    let run = ctx.run(ctx.cmd("pshm-send", ["--timeout", "50", &longest]))?;
    ensure(run.code() == Some(3), || {
        Failure::new(
            "a name of \"/\" and 254 bytes is good: alone, pshm-send should give up (exit 3)",
        )
        .detail(stderr_of(&run))
        .command(&run)
    })
}

fn bad_options(ctx: &Ctx) -> Result<(), Failure> {
    let chan = Chan::shm();
    let name = chan.words[0].as_str();
    let w = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<String>>();
    let cases: Vec<(Vec<String>, &str)> = vec![
        (w(&[]), ""),
        (w(&[name, "--file", "x"]), ""),
        (w(&["--x", name]), "--x"),
        (w(&[name, "extra"]), ""),
        (w(&["--ring", "1000", name]), "bad ring size"),
        (w(&["--ring", "2G", name]), "bad ring size"),
        (w(&["--ring", "0", name]), "bad ring size"),
        (w(&["--timeout", "0", name]), "bad timeout"),
        (w(&["--timeout", "3600001", name]), "bad timeout"),
        (w(&["--timeout", "1s", name]), "bad timeout"),
        (w(&[name, "--ring"]), "--ring"),
        (w(&[name, "--timeout"]), "--timeout"),
        (w(&["--file"]), "--file"),
    ];
    for bin in ["pshm-send", "pshm-recv"] {
        // Options after the operand, sizes in either case: a good command line, alone.
        let good = Chan::shm();
        let run = ctx.run(ctx.cmd(bin, good.args(&["--ring", "64k", "--timeout", "50"])))?;
        ensure(run.code() == Some(3), || {
            Failure::new(format!(
                "a good command line was not accepted: alone, {bin} should give up (exit 3), \
                 got {}",
                run.end
            ))
            .detail(stderr_of(&run))
            .command(&run)
        })?;
        for (args, phrase) in &cases {
            usage_error(ctx, bin, args, phrase)?;
        }
    }
    Ok(())
}
