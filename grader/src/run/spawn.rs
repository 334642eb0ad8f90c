//! Starting a run: the process in a group of its own, its limits and confinement set before
//! `exec`, and the threads that feed its stdin and drain its output.

use super::*;

/// Starts `spec` in a process group of its own.
pub fn spawn(spec: Spec) -> io::Result<Running> {
    let command = spec.command_line();
    let mut cmd = Command::new(&spec.program);
    cmd.args(&spec.args)
        .current_dir(&spec.cwd)
        .env("RUST_BACKTRACE", "0")
        .env("LC_ALL", "C")
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .process_group(0)
        .stderr(Stdio::piped());
    if let Some(sandbox) = spec.sandbox {
        confine::apply(&mut cmd, sandbox);
    }
    if let Some(f) = spec.faults {
        // A check that asked for faults and runs without them would pass for nothing: this is
        // the grader's failure, reported as such.
        let library = faults::library().unwrap_or_else(|| {
            panic!(
                "the fault-injection library {} is not built: run `cargo build --release`",
                faults::LIBRARY
            )
        });
        let only = spec.program.parent().unwrap_or(Path::new("/"));
        cmd.envs(f.env(&library, only));
    }
    match &spec.stdin {
        Input::Null => cmd.stdin(Stdio::null()),
        Input::File(f) => cmd.stdin(f.try_clone()?),
        Input::Bytes(_) | Input::Stream(_) | Input::Zeros(_) | Input::Held => {
            cmd.stdin(Stdio::piped())
        }
    };
    match &spec.stdout {
        Output::File(f) => cmd.stdout(f.try_clone()?),
        Output::Capture | Output::Compare(_) | Output::Count => cmd.stdout(Stdio::piped()),
    };
    // The clock starts before the fork, so that a run's wall time is never shorter than the
    // time the program itself measured (a program that waits 300 ms takes 300 ms or more).
    let started = Instant::now();
    // A pinned run is forked from this thread pinned to its CPU: the program inherits the
    // affinity before it runs, and so does every process it starts, however early.
    let mut child = pinned(spec.cpu, || confine::in_check_namespace(|| cmd.spawn()))?;
    let pid = child.id() as i32;
    let pidfd = sys::pidfd_open(pid)?;
    let mut held = None;
    let mut stdin = None;
    let over = Arc::new(AtomicBool::new(false));
    if let Some(pipe) = child.stdin.take() {
        match spec.stdin {
            Input::Held => held = Some(pipe),
            input => {
                let mut pipe = Bounded::new(pipe, over.clone());
                stdin = Some(thread::spawn(move || {
                    let _ = match input {
                        Input::Bytes(bytes) => pipe.write_all(&bytes),
                        Input::Stream(stream) => stream.write_to(&mut pipe),
                        Input::Zeros(n) => write_zeros(&mut pipe, n),
                        Input::Null | Input::File(_) | Input::Held => Ok(()),
                    };
                }));
            }
        }
    }
    let stdout = child.stdout.take().map(|pipe| {
        let pipe = Bounded::new(pipe, over.clone());
        match spec.stdout {
            Output::Compare(stream) => drain(pipe, Sink::Compare(stream)),
            Output::Count => drain(pipe, Sink::Count),
            _ => drain(pipe, Sink::Capture),
        }
    });
    let stderr = child.stderr.take().expect("stderr is piped");
    let stderr = drain(Bounded::new(stderr, over.clone()), Sink::Capture);
    Ok(Running {
        command,
        child,
        pidfd,
        started,
        killed: None,
        held,
        stdin,
        over,
        stdout,
        stderr,
    })
}

/// Runs `f` with the calling thread pinned to `cpu` (if any), then restores its affinity. Best
/// effort: a machine with one CPU has nothing to choose.
fn pinned<T>(cpu: Option<usize>, f: impl FnOnce() -> T) -> T {
    use nix::sched::{CpuSet, sched_getaffinity, sched_setaffinity};
    let this = Pid::from_raw(0);
    let Some(cpu) = cpu else {
        return f();
    };
    let before = sched_getaffinity(this).ok();
    let mut set = CpuSet::new();
    if set.set(cpu % CpuSet::count()).is_ok() {
        let _ = sched_setaffinity(this, &set);
    }
    let result = f();
    if let Some(before) = before {
        let _ = sched_setaffinity(this, &before);
    }
    result
}

/// Writes `n` zero bytes; a reader that stops early ends it without error.
fn write_zeros(out: &mut impl Write, mut n: u64) -> io::Result<()> {
    let zeros = vec![0u8; crate::stream::CHUNK];
    while n > 0 {
        let take = n.min(zeros.len() as u64) as usize;
        match out.write_all(&zeros[..take]) {
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return Ok(()),
            other => other?,
        }
        n -= take as u64;
    }
    Ok(())
}
