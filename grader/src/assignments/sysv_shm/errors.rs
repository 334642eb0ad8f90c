//! The producer's and consumer's errors: a bad DATA_SIZE, one beyond `shmmax`, a missing key
//! path, and two sides whose sizes differ.

use std::time::Duration;

use crate::check::ensure;
use crate::check::{Check, Ctx, Failure};
use crate::run::{Input, Spec};

use super::common::{HEADER, Key, error_run, in_case, ipcs, new_key, segment};
use super::transfer::{side, wait_segment};

/// The checks of this family, in the spec's order.
pub(super) fn checks() -> Vec<Check> {
    let secs = Duration::from_secs;
    vec![
        Check::new(
            "transfer-errors",
            4,
            "DATA_SIZE 0 (2), beyond shmmax (1), missing key path (1), sizes differing (1)",
            transfer_errors,
        )
        .limit(secs(10))
        .lesson("§10, §21"),
    ]
}

fn transfer_errors(ctx: &Ctx) -> Result<(), Failure> {
    let key = new_key(ctx)?;
    let shmmax: u64 = std::fs::read_to_string("/proc/sys/kernel/shmmax")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(u64::MAX);
    let missing = Key {
        path: ctx.dir().join("no-such-key-file"),
        proj: 9,
        key: 0,
    };
    for program in ["svshm-producer", "svshm-consumer"] {
        let cases: [(Spec, i32); 5] = [
            (side(ctx, program, &key, 0, &[]), 2),
            (side(ctx, program, &key, shmmax - HEADER + 1, &[]), 1),
            (side(ctx, program, &missing, 4096, &[]), 1),
            (side(ctx, program, &key, 4096, &["--bogus"]), 2),
            (ctx.cmd(program, key.args()), 2),
        ];
        for (spec, code) in cases {
            let run = ctx.run(spec)?;
            error_run(&run, program, code)?;
            ensure(segment(key.key).is_none(), || {
                Failure::new("a failing run left a segment for the key")
                    .detail(format!("SEGMENTS:\n{}", ipcs()))
                    .command(&run)
            })?;
        }
    }
    // Sizes differing between the two sides.
    let opts = ["--timeout-ms", "1000"];
    let first = ctx.spawn(side(ctx, "svshm-consumer", &key, 4096, &opts))?;
    wait_segment(ctx, &key, &first);
    let second =
        ctx.run(side(ctx, "svshm-producer", &key, 8192, &opts).stdin(Input::Bytes(b"x".to_vec())))?;
    let first = ctx.wait(first);
    error_run(&second, "svshm-producer", 1).map_err(in_case(
        "a producer with DATA_SIZE 8192 joining a consumer's 4096",
    ))?;
    error_run(&first, "svshm-consumer", 3)
        .map_err(in_case("a consumer whose producer could not join"))
}
