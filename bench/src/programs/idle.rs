//! Waiting costs nothing: the CPU time of each program while it waits.

use super::*;

/// CPU time of each program while it waits for a peer that never comes (or, for `relay` and
/// `pipeline`, for a command that sleeps), as a share of the wait: blocking uses none. Each
/// case runs twice, waiting `SHORT_MS` and `idle_ms`; the share is the difference of their CPU
/// times over the difference of their wall times, which leaves out start-up and exit.
pub(super) fn idle(config: &Config, scratch: &Scratch) -> io::Result<Vec<Row>> {
    const SHORT_MS: u64 = 100;
    let pid = std::process::id();
    let svshm_key = scratch.key("key-svshm")?;
    let ring_key = scratch.key("key-ring")?;
    let mutex_key = scratch.key("key-mutex")?;
    let msgq_key = scratch.key("key-msgq")?;
    let name = format!("/ipclab-bench-idle-{pid}");
    let alone = |program_name: &str, args: &[&str], expected: i32| {
        let args: Vec<&str> = args.to_vec();
        timed(|| {
            let child = program(config, program_name).args(&args).spawn()?;
            Ok(vec![(program_name.to_string(), child, expected)])
        })
    };
    let path = |p: &Path| p.to_string_lossy().into_owned();
    let (svshm_key, ring_key, mutex_key, msgq_key) = (
        path(&svshm_key),
        path(&ring_key),
        path(&mutex_key),
        path(&msgq_key),
    );
    type Case<'a> = (&'a str, &'a str, Box<dyn Fn(u64) -> io::Result<Run> + 'a>);
    let cases: Vec<Case> = vec![
        (
            "sysv-shm",
            "svshm-consumer, no producer",
            Box::new(|ms| {
                let ms = ms.to_string();
                alone(
                    "svshm-consumer",
                    &["--timeout-ms", &ms, &svshm_key, "1", "4096"],
                    3,
                )
            }),
        ),
        (
            "posix-shm",
            "pshm-recv, no sender",
            Box::new(|ms| alone("pshm-recv", &["--timeout", &ms.to_string(), &name], 3)),
        ),
        (
            "semaphores",
            "sem-pingpong pong, no ping",
            Box::new(|ms| {
                let ms = ms.to_string();
                alone(
                    "sem-pingpong",
                    &["pong", &name, "1", "--timeout-ms", &ms],
                    3,
                )
            }),
        ),
        (
            "semaphores",
            "sem-ring INDEX 1 of 2, no INDEX 0",
            Box::new(|ms| {
                let ms = ms.to_string();
                alone(
                    "sem-ring",
                    &[&ring_key, "1", "2", "1", "--timeout-ms", &ms],
                    3,
                )
            }),
        ),
        (
            "semaphores",
            "sem-mutex add, while another holds the lock",
            Box::new(|ms| {
                alone("sem-mutex", &["init", &mutex_key], 0)?;
                let waiting = (|| {
                    let holder = program(config, "sem-mutex")
                        .args(["add", &mutex_key, "1", "--hold-ms", &(ms + 50).to_string()])
                        .spawn()?;
                    std::thread::sleep(Duration::from_millis(50));
                    let run = alone("sem-mutex", &["add", &mutex_key, "1"], 0);
                    finish("sem-mutex add --hold-ms", holder, 0)?;
                    run
                })();
                let finished = alone("sem-mutex", &["finish", &mutex_key], 0);
                let waiting = waiting?;
                finished?;
                Ok(waiting)
            }),
        ),
        (
            "msgq",
            "msgq-client sum, no server",
            Box::new(|ms| {
                let ms = ms.to_string();
                alone(
                    "msgq-client",
                    &["--timeout", &ms, &msgq_key, "sum", "1", "2"],
                    3,
                )
            }),
        ),
        (
            "msgq",
            "msgq-server, no client, then SIGTERM",
            Box::new(|ms| {
                timed(|| {
                    let child = program(config, "msgq-server").arg(&msgq_key).spawn()?;
                    std::thread::sleep(Duration::from_millis(ms));
                    nix::sys::signal::kill(
                        nix::unistd::Pid::from_raw(child.id() as i32),
                        nix::sys::signal::SIGTERM,
                    )?;
                    Ok(vec![("msgq-server".into(), child, 0)])
                })
            }),
        ),
        (
            "pipes",
            "relay sleep, its input open and empty",
            Box::new(|ms| {
                let seconds = format!("{:.3}", ms as f64 / 1000.0);
                let mut held = None;
                let run = timed(|| {
                    let mut child = program(config, "relay")
                        .args(["sleep", &seconds])
                        .stdin(Stdio::piped())
                        .spawn()?;
                    held = child.stdin.take();
                    Ok(vec![("relay".into(), child, 0)])
                });
                drop(held);
                run
            }),
        ),
        (
            "pipes",
            "pipeline sleep | cat",
            Box::new(|ms| {
                let seconds = format!("{:.3}", ms as f64 / 1000.0);
                alone("pipeline", &["sleep", &seconds, "|", "cat"], 0)
            }),
        ),
    ];
    let mut rows = Vec::new();
    for (assignment, label, case) in &cases {
        let short = case(SHORT_MS)?;
        let long = case(config.idle_ms.max(SHORT_MS + 100))?;
        let waited = long.wall - short.wall;
        let share = ((long.cpu - short.cpu) / waited).max(0.0);
        rows.push(row(
            assignment,
            label,
            "the time it waited",
            "% of the wait",
            &[(share * 100.0, waited, share, f64::NAN)],
            Goal::AtMost(0.01),
            "not pinned",
        ));
    }
    Ok(rows)
}
