//! How runs end: a server whose client was killed gives up and cleans up, a server whose
//! clients are done removes everything, and malformed command lines
//! (`specs/seg-pool.md` §2.1–2.2, §2.5, §3.3).

use std::io::Write;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use crate::check::{Ctx, Failure, ensure};
use crate::expect;
use crate::procfs;
use crate::run::Input;
use crate::stream::Stream;

use super::{
    CLIENT, SERVER, all_removed, bytes_of, client, error_run, ffi, in_case, new_key, output_is,
    queue, server, wait_pool,
};

/// `client-killed`: 2 segments of 4096 bytes, `--timeout-ms 1000`; a client has read 10,000
/// bytes (two chunks handed in, a third being filled) when it is killed: the server exits 3
/// within 3 s with a message, having written the two chunks, and removes the queue and both
/// segments.
pub fn client_killed(ctx: &Ctx) -> Result<(), Failure> {
    let key = new_key(ctx)?;
    let srv = ctx.spawn(server(ctx, &key, 2, 4096, 1, &["--timeout-ms", "1000"]))?;
    let (srv, _) = wait_pool(ctx, &key, 2, srv)?;
    let stream = Stream::new(ctx.seed() ^ 0xdead, 10_000);
    let input = bytes_of(&stream, 10_000);
    let mut cli = ctx.spawn(client(ctx, &key).stdin(Input::Held))?;
    if let Some(pipe) = cli.stdin() {
        let _ = pipe.write_all(&input);
    }
    let pid = cli.pid();
    procfs::poll_for(ctx.loosen(Duration::from_secs(3)), || {
        cli.has_exited()
            || procfs::io(pid).is_some_and(|io| io.read >= 10_000)
                && procfs::state(pid) == Some('S')
    });
    ctx.signal(&mut cli, Signal::SIGKILL);
    let killed = Instant::now();
    let _ = ctx.wait(cli);
    let allowed = ctx.loosen(Duration::from_secs(3));
    procfs::poll_for(allowed, || srv.has_exited());
    let gave_up = srv.has_exited();
    let srv_pid = srv.pid();
    let srv = ctx.wait(srv);
    ensure(gave_up, || {
        Failure::new(format!(
            "the server was still waiting {} ms after its only client was killed \
             (--timeout-ms 1000; allowed {} ms)",
            killed.elapsed().as_millis(),
            allowed.as_millis()
        ))
        .detail(format!("HINT: {}", super::GIVE_UP_HINT))
        .command(&srv)
    })?;
    error_run_with_output(&srv, &input[..8192])?;
    super::all_removed(&key, srv_pid, &srv)?;
    ctx.note(format!(
        "the server gave up {} ms after the client was killed and removed everything",
        killed.elapsed().as_millis()
    ));
    Ok(())
}

/// Exit 3 with a `segpool-server: ` message, and `written` on stdout.
fn error_run_with_output(run: &crate::run::Finished, written: &[u8]) -> Result<(), Failure> {
    expect::exit_code(run, 3)?;
    expect::stderr_starts(run, &format!("{SERVER}: "))?;
    output_is(run, written).map_err(in_case("the two chunks handed in before the kill"))
}

/// `server-removes-all`: 3 segments, one client of 5000 bytes: the server exits 0 and its
/// queue and segments are gone.
pub fn removes_all(ctx: &Ctx) -> Result<(), Failure> {
    let key = new_key(ctx)?;
    let stream = Stream::new(ctx.seed() ^ 0xc1ea, 5000);
    let srv = ctx.spawn(server(ctx, &key, 3, 4096, 1, &[]))?;
    let (srv, _) = wait_pool(ctx, &key, 3, srv)?;
    let srv_pid = srv.pid();
    let run = ctx.run(client(ctx, &key).stdin(Input::Stream(stream)))?;
    expect::exit_code(&run, 0).map_err(in_case("the client"))?;
    let srv = ctx.wait(srv);
    expect::exit_code(&srv, 0).map_err(in_case("the server"))?;
    output_is(&srv, &bytes_of(&stream, 5000))?;
    all_removed(&key, srv_pid, &srv)?;
    ctx.note("the server removed its queue and its 3 segments");
    Ok(())
}

/// `usage-errors`: malformed command lines of both programs (2), a missing key path (1), a
/// client with no server (1), a server whose key already has a queue (1, that queue left).
pub fn usage_errors(ctx: &Ctx) -> Result<(), Failure> {
    let key = new_key(ctx)?;
    let path = key.path.to_string_lossy().into_owned();
    let proj = key.proj.to_string();
    let missing = ctx.dir().join("no-such-key").to_string_lossy().into_owned();
    let p = proj.as_str();
    let server_cases: Vec<(Vec<&str>, i32)> = vec![
        (vec![], 2),
        (vec![&path, p, "0", "4096", "1"], 2),
        (vec![&path, p, "2", "0", "1"], 2),
        (vec![&path, p, "2", "4096", "0"], 2),
        (vec![&path, p, "2", "4096"], 2),
        (vec!["--bogus", &path, p, "2", "4096", "1"], 2),
        (vec![&path, "0", "2", "4096", "1"], 2),
        (vec![&missing, p, "2", "4096", "1"], 1),
    ];
    let client_cases: Vec<(Vec<&str>, i32)> = vec![
        (vec![], 2),
        (vec![&path], 2),
        (vec!["--bogus", &path, p], 2),
        (vec![&missing, p], 1),
        (vec![&path, p], 1),
    ];
    for (program, cases) in [(SERVER, server_cases), (CLIENT, client_cases)] {
        for (args, code) in cases {
            let case = format!("{program} {}", args.join(" "));
            let run = ctx.run(ctx.cmd(program, args.iter().map(|s| s.to_string())))?;
            error_run(&run, program, code).map_err(in_case(&case))?;
            ensure(queue(&key).is_none(), || {
                Failure::new(format!("{case}: a queue was left for the key")).command(&run)
            })?;
        }
    }
    // A queue already there for the key: the server exits 1 and leaves it.
    let qid = ffi::create_queue(key.key)
        .map_err(|e| Failure::grader(format!("msgget of the grader's queue: {e}")))?;
    let run = ctx.run(server(ctx, &key, 2, 4096, 1, &[]));
    let still = queue(&key).map(|q| q.num("msqid") as i32);
    let _ = ffi::remove_queue(qid);
    let run = run?;
    error_run(&run, SERVER, 1).map_err(in_case("a queue already exists for the key"))?;
    ensure(still == Some(qid), || {
        Failure::new("the server removed or replaced the queue that was already there")
            .command(&run)
    })?;
    ctx.note("8 server and 5 client command lines, and a queue already there");
    Ok(())
}
