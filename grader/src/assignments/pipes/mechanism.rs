//! How `relay` carries the bytes: through pipes of its own to a filter that is a proper stage.

use std::time::{Duration, Instant};

use crate::check::{Check, Ctx, Failure};
use crate::expect;
use crate::run::{self, Input};

/// The checks of this family, in the spec's order.
pub(super) fn checks() -> Vec<Check> {
    let secs = Duration::from_secs;
    vec![
        Check::new(
            "relay-in-the-middle",
            2,
            "the filter's stdin and stdout are pipes whose other ends relay holds",
            relay_in_the_middle,
        )
        .limit(secs(5))
        .lesson("§4"),
    ]
}

fn relay_in_the_middle(ctx: &Ctx) -> Result<(), Failure> {
    let mut running = ctx.spawn(ctx.cmd("relay", ["cat"]).stdin(Input::Held))?;
    let deadline = Instant::now() + ctx.limit() / 2;
    // The filter is inspected once its first `read` sleeps (relay has nothing to give it):
    // before that the dynamic loader may still hold a file of its own open.
    let filter = loop {
        let found = run::group_members(running.pid())
            .into_iter()
            .find(|m| m.comm == "cat" && !m.zombie);
        let late = Instant::now() > deadline;
        if let Some(m) = &found
            && (late || crate::procfs::sleeps_in_call(m.pid, libc::SYS_read))
        {
            break Some(m.pid);
        }
        if late || running.has_exited() {
            break None;
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    let relay_fds = run::open_fds(running.pid());
    let filter_fds = filter.map(run::open_fds).unwrap_or_default();
    let filter_ignores_sigpipe =
        filter.and_then(|pid| run::ignores_signal(pid, libc::SIGPIPE)) == Some(true);
    if let Some(pipe) = running.stdin() {
        use std::io::Write;
        let _ = pipe.write_all(b"through the middle\n");
    }
    running.close_stdin();
    let run = ctx.wait(running);
    let Some(_) = filter else {
        return Err(Failure::new("relay did not start `cat` as a child process").command(&run));
    };
    let get =
        |fds: &[(i32, String)], fd| fds.iter().find(|(n, _)| *n == fd).map(|(_, t)| t.clone());
    let mut seen = Vec::new();
    for (fd, name) in [(0, "stdin"), (1, "stdout")] {
        let (outer, inner) = (get(&relay_fds, fd), get(&filter_fds, fd));
        if inner.is_none() || outer == inner {
            return Err(Failure::new(format!(
                "the filter's {name} is relay's own {name} ({}): relay must carry the bytes \
                 through pipes of its own",
                outer.unwrap_or_default()
            ))
            .command(&run));
        }
        // The kernel names a pipe `pipe:[INODE]`, the same at both ends: relay holds the other.
        let inner = inner.unwrap_or_default();
        let held = relay_fds
            .iter()
            .find(|(n, t)| *n > 2 && *t == inner)
            .map(|(n, _)| *n);
        match held {
            Some(n) if inner.starts_with("pipe:") => {
                seen.push(format!("{name} {inner} (relay's fd {n})"));
            }
            _ => {
                return Err(Failure::new(format!(
                    "the filter's {name} is {inner}, not a pipe whose other end relay holds"
                ))
                .detail(format!(
                    "RELAY'S DESCRIPTORS (/proc/PID/fd):\n    {}",
                    relay_fds
                        .iter()
                        .map(|(n, t)| format!("{n} -> {t}"))
                        .collect::<Vec<_>>()
                        .join("\n    ")
                ))
                .detail("HINT: make two pipes with pipe2(O_CLOEXEC): one to the filter's stdin, one from its stdout; relay keeps the other ends (lesson §4).")
                .command(&run));
            }
        }
    }
    // The stage rules of §2.3 hold for the filter: exactly 0, 1 and 2, SIGPIPE at its default.
    let stray: Vec<String> = filter_fds
        .iter()
        .filter(|(fd, _)| *fd > 2)
        .map(|(fd, t)| format!("{fd} -> {t}"))
        .collect();
    if !stray.is_empty() {
        return Err(Failure::new(format!(
            "the filter has descriptors beyond 0, 1, 2 open: {}",
            stray.join(", ")
        ))
        .detail(
            "HINT: the rules of a pipeline's stages hold for relay's filter (specs/pipes.md \
             §2.3, §3.2): create both pipes with O_CLOEXEC (pipe2) or close every end the \
             filter does not use before execvp.",
        )
        .command(&run));
    }
    if filter_ignores_sigpipe {
        return Err(Failure::new("the filter started with SIGPIPE ignored")
            .detail(
                "HINT: an ignored signal stays ignored across execvp, and Rust programs start \
                 with SIGPIPE ignored: set it back to SIG_DFL in the filter's child before \
                 execvp, as for a pipeline's stages (specs/pipes.md §2.3, §3.2).",
            )
            .command(&run));
    }
    ctx.note(format!(
        "the filter's {}; it had exactly 0, 1, 2 open and SIGPIPE at its default",
        seen.join(", ")
    ));
    expect::exit_code(&run, 0)?;
    expect::stdout_is(&run, b"through the middle\n")
}
