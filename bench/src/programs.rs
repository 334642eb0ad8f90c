//! `bench --programs DIR`: the assignments' programs (the reference's, or a submission's), run
//! as whole processes and timed against a probe measured in the same run: a plain pipe
//! (`cat | cat`) copying the same stream, `sh -c` running the same pipeline, the bench's own
//! shared-memory ring with the same ring size, the futex ping-pong in the same placement.
//! Each program and its probe run in turn, `reps` times (A B A B …); a ratio is taken pair by
//! pair, so a machine whose speed drifts during the run moves both sides of a pair alike, and
//! the median of the pairs is reported (README "Reference performance").

use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::channel::{Limits, Mechanism};
use crate::measure::{self, Cpus, Placement};
use crate::run::stats;
use crate::sys;

/// What to measure and how long.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Config {
    /// The folder holding the built programs (`pipeline`, `svshm-producer`, …).
    pub dir: PathBuf,
    /// Pairs (program, probe) per figure.
    pub reps: usize,
    /// Bytes of the stream that the transfers, the relay and the pipeline carry.
    pub stream_bytes: usize,
    /// Ring size of both shared-memory transfers (`DATA_SIZE`, `--ring`).
    pub ring: usize,
    /// Round trips per run with both processes on one CPU, and on two.
    pub rounds_same: usize,
    pub rounds_cross: usize,
    /// How long the programs wait for a peer that never comes, in the idle runs.
    pub idle_ms: u64,
    /// Only these groups of figures (`transfers`, `pipes`, `round-trips`, `idle`); all if
    /// empty.
    pub groups: Vec<String>,
}

/// The groups of figures, in the order they run.
pub const GROUPS: [&str; 4] = ["transfers", "pipes", "round-trips", "idle"];

impl Config {
    /// 512 MiB streams, a 1 MiB ring, 5 pairs: about a minute on two cores.
    pub fn full(dir: PathBuf) -> Config {
        Config {
            dir,
            reps: 5,
            stream_bytes: 512 << 20,
            ring: 1 << 20,
            rounds_same: 20_000,
            rounds_cross: 2_000,
            idle_ms: 1000,
            groups: Vec::new(),
        }
    }

    /// 128 MiB streams, 3 pairs, fewer rounds: about 15 s.
    pub fn quick(dir: PathBuf) -> Config {
        Config {
            reps: 3,
            stream_bytes: 128 << 20,
            rounds_same: 5_000,
            rounds_cross: 500,
            idle_ms: 300,
            ..Config::full(dir)
        }
    }
}

/// One figure: the program's median, the probe's, the median of the pairwise ratios, and the
/// goal that ratio is held to.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Row {
    /// The assignment.
    pub assignment: String,
    /// What was run.
    pub program: String,
    /// What it is compared with.
    pub probe: String,
    /// `GB/s`, `s`, `us` or `% of wall`.
    pub unit: String,
    /// Medians of the program's and of the probe's figure.
    pub program_median: f64,
    pub probe_median: f64,
    /// Median over the pairs of the ratio as the goal states it, and its min and max.
    pub ratio: f64,
    pub ratio_min: f64,
    pub ratio_max: f64,
    /// The same ratio taken on CPU time (user and system, of every process on each side), which
    /// another program taking the CPU does not inflate; `None` where it does not apply.
    pub cpu_ratio: Option<f64>,
    /// `>= 3`, `<= 1.1`, …; empty for a figure shown for information.
    pub goal: String,
    pub met: Option<bool>,
    /// Where the processes ran.
    pub placement: String,
    pub pairs: usize,
}

/// The nice value the measurements run at, if the system allows it.
pub const NICE: i32 = -10;

/// Everything a `--programs` run found.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Report {
    pub config: Config,
    /// Whether the programs and probes ran at nice [`NICE`] (root only), ahead of other work.
    pub niced: bool,
    pub loadavg_start: [f64; 3],
    pub loadavg_end: [f64; 3],
    pub elapsed_seconds: f64,
    pub rows: Vec<Row>,
}

/// Wall and CPU seconds of one run of some processes.
#[derive(Clone, Copy, Debug)]
struct Run {
    wall: f64,
    cpu: f64,
}

/// A temporary folder for the stream, the key files and the session script; removed on drop.
struct Scratch {
    dir: PathBuf,
}

impl Scratch {
    fn new() -> io::Result<Scratch> {
        let dir =
            std::env::temp_dir().join(format!("ipclab-bench-programs-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        Ok(Scratch { dir })
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// A key file for `ftok`.
    fn key(&self, name: &str) -> io::Result<PathBuf> {
        let path = self.path(name);
        File::create(&path)?;
        Ok(path)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `bytes` of a xorshift stream (incompressible, no long runs of one byte) written to `path`,
/// then read once so that it is in the page cache.
fn write_stream(path: &Path, bytes: usize) -> io::Result<()> {
    let mut out = BufWriter::with_capacity(1 << 20, File::create(path)?);
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut block = vec![0u8; 1 << 16];
    let mut left = bytes;
    while left > 0 {
        for word in block.chunks_mut(8) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            word.copy_from_slice(&state.to_le_bytes()[..word.len()]);
        }
        let n = left.min(block.len());
        out.write_all(&block[..n])?;
        left -= n;
    }
    out.flush()?;
    drop(out);
    io::copy(&mut File::open(path)?, &mut io::sink())?;
    Ok(())
}

/// A command for program `name` of the folder under test.
fn program(config: &Config, name: &str) -> Command {
    let mut cmd = Command::new(config.dir.join(name));
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    cmd
}

/// Waits for `child` and checks its exit status is `expected`; a failure carries its stderr.
fn finish(label: &str, mut child: Child, expected: i32) -> io::Result<()> {
    let status = child.wait()?;
    if status.code() == Some(expected) {
        return Ok(());
    }
    let mut stderr = String::new();
    if let Some(mut pipe) = child.stderr.take() {
        let _ = pipe.read_to_string(&mut stderr);
    }
    Err(io::Error::other(format!(
        "{label}: exit {status} (expected {expected}): {}",
        stderr.trim()
    )))
}

/// Spawns `cmd` with the bench pinned to `cpu` (the child inherits the affinity), then lets the
/// bench run anywhere again. `None`: not pinned.
fn spawn_on(cmd: &mut Command, cpu: Option<usize>, allowed: &[usize]) -> io::Result<Child> {
    if let Some(cpu) = cpu {
        measure::pin(cpu)?;
    }
    let child = cmd.spawn();
    if cpu.is_some() {
        measure::unpin(allowed)?;
    }
    child.map_err(|e| io::Error::other(format!("cannot start {:?}: {e}", cmd.get_program())))
}

/// Times `start`, which spawns some processes, until each has exited with its expected status.
fn timed(start: impl FnOnce() -> io::Result<Vec<(String, Child, i32)>>) -> io::Result<Run> {
    let cpu = sys::children_cpu_time();
    let wall = Instant::now();
    let children = start()?;
    let mut first_error = None;
    for (label, child, expected) in children {
        if let Err(e) = finish(&label, child, expected) {
            first_error.get_or_insert(e);
        }
    }
    let run = Run {
        wall: wall.elapsed().as_secs_f64(),
        cpu: sys::children_cpu_time() - cpu,
    };
    match first_error {
        Some(e) => Err(e),
        None => Ok(run),
    }
}

/// `cat < FILE | cat > /dev/null`: the plain pipe every stream is compared with.
fn plain_pipe(input: &Path) -> io::Result<Run> {
    timed(|| {
        let mut first = Command::new("cat")
            .stdin(File::open(input)?)
            .stdout(Stdio::piped())
            .spawn()?;
        let pipe = first.stdout.take().expect("piped");
        let second = Command::new("cat")
            .stdin(Stdio::from(pipe))
            .stdout(Stdio::null())
            .spawn()?;
        Ok(vec![("cat".into(), first, 0), ("cat".into(), second, 0)])
    })
}

/// CPU seconds that process `pid` (a child still running) has spent so far, from the first
/// field of `/proc/PID/schedstat` (nanoseconds on a CPU); 0 where the kernel does not say.
fn task_cpu(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/schedstat"))
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(0.0, |ns| ns * 1e-9)
}

/// The goal a ratio is held to.
#[derive(Clone, Copy)]
enum Goal {
    AtLeast(f64),
    AtMost(f64),
    None,
}

impl Goal {
    fn text(self) -> String {
        match self {
            Goal::AtLeast(x) => format!(">= {x}"),
            Goal::AtMost(x) => format!("<= {x}"),
            Goal::None => String::new(),
        }
    }

    fn met(self, ratio: f64) -> Option<bool> {
        match self {
            Goal::AtLeast(x) => Some(ratio >= x),
            Goal::AtMost(x) => Some(ratio <= x),
            Goal::None => None,
        }
    }
}

/// A row from the pairs `(program figure, probe figure, ratio)`.
#[allow(clippy::too_many_arguments)]
fn row(
    assignment: &str,
    program: &str,
    probe: &str,
    unit: &str,
    pairs: &[(f64, f64, f64, f64)],
    goal: Goal,
    placement: &str,
) -> Row {
    let program_median = stats(&pairs.iter().map(|p| p.0).collect::<Vec<_>>()).0;
    let probe_median = stats(&pairs.iter().map(|p| p.1).collect::<Vec<_>>()).0;
    let (ratio, ratio_min, ratio_max) = stats(&pairs.iter().map(|p| p.2).collect::<Vec<_>>());
    let cpu: Vec<f64> = pairs
        .iter()
        .map(|p| p.3)
        .filter(|x| x.is_finite())
        .collect();
    let cpu_ratio = (!cpu.is_empty()).then(|| stats(&cpu).0);
    Row {
        assignment: assignment.into(),
        program: program.into(),
        probe: probe.into(),
        unit: unit.into(),
        program_median,
        probe_median,
        ratio,
        ratio_min,
        ratio_max,
        cpu_ratio,
        goal: goal.text(),
        met: goal.met(ratio),
        placement: placement.into(),
        pairs: pairs.len(),
    }
}

/// Runs every measurement of `config`, printing one line per figure on stderr as it goes.
pub fn run(config: &Config) -> io::Result<Report> {
    let started = Instant::now();
    let loadavg_start = crate::report::loadavg();
    for name in [
        "svshm-producer",
        "svshm-consumer",
        "pshm-send",
        "pshm-recv",
        "pipeline",
        "relay",
        "sem-pingpong",
        "sem-ring",
        "sem-mutex",
        "msgq-server",
        "msgq-client",
    ] {
        if !config.dir.join(name).is_file() {
            return Err(io::Error::other(format!(
                "{} has no program {name}: build the workspace first (cargo build --release)",
                config.dir.display()
            )));
        }
    }
    // The programs and their probes alike run before other work on the machine where the
    // system allows it (as root): a loaded machine then delays a handoff less often.
    let niced = sys::set_nice(NICE).is_ok();
    let allowed = measure::allowed_cpus()?;
    let first = *allowed
        .first()
        .ok_or_else(|| io::Error::other("no CPU allowed"))?;
    let mut placements = vec![(Placement::SameCpu, Cpus { a: first, b: first })];
    if let Some(&second) = allowed.get(1) {
        placements.push((
            Placement::CrossCpu,
            Cpus {
                a: first,
                b: second,
            },
        ));
    }
    let scratch = Scratch::new()?;
    let input = scratch.path("stream");
    write_stream(&input, config.stream_bytes)?;

    let mut rows = Vec::new();
    let mut show = |row: Row| {
        eprintln!(
            "{:<11} {:<44} {:>10.3} {:<9} ratio {:>7.3} (cpu {:>7}) {:<7} {}",
            row.assignment,
            row.program,
            row.program_median,
            row.unit,
            row.ratio,
            row.cpu_ratio.map_or("-".into(), |x| format!("{x:.3}")),
            row.goal,
            match row.met {
                Some(true) => "met",
                Some(false) => "MISSED",
                None => "",
            }
        );
        rows.push(row);
    };
    let wanted = |group: &str| config.groups.is_empty() || config.groups.iter().any(|g| g == group);
    let outcome = (|| -> io::Result<()> {
        if wanted("transfers") {
            for row in transfers(config, &scratch, &input, &allowed)? {
                show(row);
            }
        }
        if wanted("pipes") {
            for row in pipes(config, &input)? {
                show(row);
            }
        }
        if wanted("round-trips") {
            for &(placement, cpus) in &placements {
                for row in round_trips(config, &scratch, placement, cpus, &allowed)? {
                    show(row);
                }
            }
        }
        if wanted("idle") {
            for row in idle(config, &scratch)? {
                show(row);
            }
        }
        Ok(())
    })();
    measure::unpin(&allowed)?;
    for proj in [1, b'R', b'M'] {
        for key in ["key-svshm", "key-ring", "key-mutex", "key-msgq"] {
            sys::remove_sysv_objects(&scratch.path(key), proj);
        }
    }
    outcome?;
    Ok(Report {
        config: config.clone(),
        niced,
        loadavg_start,
        loadavg_end: crate::report::loadavg(),
        elapsed_seconds: started.elapsed().as_secs_f64(),
        rows,
    })
}

/// Bytes of the memcpy that shows what one copy out of the caches costs.
const COLD: usize = 64 << 20;

/// The two shared-memory transfers and the bench's own rings of the same size.
fn transfers(
    config: &Config,
    scratch: &Scratch,
    input: &Path,
    allowed: &[usize],
) -> io::Result<Vec<Row>> {
    let bytes = config.stream_bytes as f64;
    let ring = config.ring.to_string();
    let key = scratch.key("key-svshm")?;
    let sysv = || {
        timed(|| {
            let consumer = program(config, "svshm-consumer")
                .args([key.as_os_str(), "1".as_ref(), ring.as_ref()])
                .spawn()?;
            let producer = program(config, "svshm-producer")
                .args([key.as_os_str(), "1".as_ref(), ring.as_ref()])
                .stdin(File::open(input)?)
                .spawn()?;
            Ok(vec![
                ("svshm-consumer".into(), consumer, 0),
                ("svshm-producer".into(), producer, 0),
            ])
        })
    };
    let name = format!("/ipclab-bench-programs-{}", std::process::id());
    let posix = || {
        timed(|| {
            let recv = program(config, "pshm-recv")
                .args(["--ring", &ring, &name])
                .spawn()?;
            let send = program(config, "pshm-send")
                .args(["--ring", &ring, &name])
                .stdin(File::open(input)?)
                .spawn()?;
            Ok(vec![
                ("pshm-recv".into(), recv, 0),
                ("pshm-send".into(), send, 0),
            ])
        })
    };
    // The bench's ring: two slots of half the ring each, one process per CPU and both on one,
    // messages that start in a private buffer; its best run over every placement and rep.
    let limits = Limits::read();
    let slot = (config.ring / 2).max(1);
    let messages = (config.stream_bytes / slot).clamp(8, 4000);
    let mut cpus = vec![Cpus {
        a: allowed[0],
        b: allowed[0],
    }];
    if let Some(&b) = allowed.get(1) {
        cpus.push(Cpus { a: allowed[0], b });
    }
    let mut rows = Vec::new();
    for (assignment, label, mechanism, run) in [
        (
            "sysv-shm",
            format!("svshm-producer | svshm-consumer, DATA_SIZE {ring}"),
            Mechanism::SysvShmOnce,
            &sysv as &dyn Fn() -> io::Result<Run>,
        ),
        (
            "posix-shm",
            format!("pshm-send | pshm-recv, --ring {ring}"),
            Mechanism::PosixShmOnce,
            &posix,
        ),
    ] {
        let mut vs_pipe = Vec::new();
        let mut ring_best: f64 = 0.0;
        let mut copy_best: f64 = 0.0;
        let mut ring_cold_best: f64 = 0.0;
        let mut programs = Vec::new();
        for _ in 0..config.reps {
            let (a, b) = (run()?, plain_pipe(input)?);
            let (program, pipe) = (bytes / a.wall / 1e9, bytes / b.wall / 1e9);
            vs_pipe.push((program, pipe, program / pipe, b.cpu / a.cpu));
            programs.push(program);
            for &c in &cpus {
                let sample = measure::stream(mechanism, slot, messages, 2, c, limits)?;
                ring_best = ring_best.max(slot as f64 / sample.wall / 1e9);
                let sample = measure::stream_from(mechanism, slot, COLD, messages, 2, c, limits)?;
                ring_cold_best = ring_cold_best.max(slot as f64 / sample.wall / 1e9);
            }
            // One copy of a stream that does not fit in the caches, as the producer's `read`
            // from the page cache must make.
            let copy = measure::memcpy(COLD, 3, allowed[0])?;
            copy_best = copy_best.max(COLD as f64 / copy.wall / 1e9);
            measure::unpin(allowed)?;
        }
        rows.push(row(
            assignment,
            &label,
            "cat | cat, the same stream",
            "GB/s",
            &vs_pipe,
            Goal::AtLeast(3.0),
            "not pinned",
        ));
        let vs_ring: Vec<_> = programs
            .iter()
            .map(|&p| (p, ring_best, p / ring_best, f64::NAN))
            .collect();
        rows.push(row(
            assignment,
            &label,
            &format!(
                "the bench's {} ring, messages from a buffer in the caches, best run",
                mechanism.name()
            ),
            "GB/s",
            &vs_ring,
            Goal::AtLeast(0.5),
            "not pinned; ring pinned",
        ));
        let vs_cold: Vec<_> = programs
            .iter()
            .map(|&p| (p, ring_cold_best, p / ring_cold_best, f64::NAN))
            .collect();
        rows.push(row(
            assignment,
            &label,
            &format!(
                "the bench's {} ring, messages from 64 MiB (out of the caches), best run",
                mechanism.name()
            ),
            "GB/s",
            &vs_cold,
            Goal::AtLeast(0.5),
            "not pinned; ring pinned",
        ));
        let vs_copy: Vec<_> = programs
            .iter()
            .map(|&p| (p, copy_best, p / copy_best, f64::NAN))
            .collect();
        rows.push(row(
            assignment,
            &label,
            "memcpy of 64 MiB (out of the caches), best run",
            "GB/s",
            &vs_copy,
            Goal::None,
            "not pinned; memcpy pinned",
        ));
    }
    Ok(rows)
}

/// `pipeline` against `sh -c`, `relay cat` against a plain pipe.
fn pipes(config: &Config, input: &Path) -> io::Result<Vec<Row>> {
    let bytes = config.stream_bytes as f64;
    let pipeline = |words: &[&str], stdin: Stdio| {
        timed(|| {
            let child = program(config, "pipeline")
                .args(words)
                .stdin(stdin)
                .spawn()?;
            Ok(vec![("pipeline".into(), child, 0)])
        })
    };
    let shell = |line: &str, stdin: Stdio| {
        timed(|| {
            let child = Command::new("sh")
                .args(["-c", line])
                .stdin(stdin)
                .stdout(Stdio::null())
                .spawn()?;
            Ok(vec![("sh".into(), child, 0)])
        })
    };
    let mut stream = Vec::new();
    let mut start_up = Vec::new();
    let mut relay = Vec::new();
    const STARTS: usize = 20;
    for _ in 0..config.reps {
        let a = pipeline(&["cat", "|", "cat"], File::open(input)?.into())?;
        let b = shell("cat | cat", File::open(input)?.into())?;
        stream.push((a.wall, b.wall, a.wall / b.wall, a.cpu / b.cpu));
        let (mut a, mut b) = (0.0, 0.0);
        for _ in 0..STARTS {
            a += pipeline(&["/bin/true", "|", "/bin/true"], Stdio::null())?.wall;
            b += shell("/bin/true | /bin/true", Stdio::null())?.wall;
        }
        start_up.push((a / STARTS as f64, b / STARTS as f64, a / b, f64::NAN));
        let r = timed(|| {
            let child = program(config, "relay")
                .arg("cat")
                .stdin(File::open(input)?)
                .spawn()?;
            Ok(vec![("relay".into(), child, 0)])
        })?;
        let p = plain_pipe(input)?;
        relay.push((
            bytes / r.wall / 1e9,
            bytes / p.wall / 1e9,
            p.wall / r.wall,
            p.cpu / r.cpu,
        ));
    }
    Ok(vec![
        row(
            "pipes",
            "pipeline cat | cat, the stream",
            "sh -c 'cat | cat', the same stream",
            "s",
            &stream,
            Goal::AtMost(1.1),
            "not pinned",
        ),
        row(
            "pipes",
            "pipeline /bin/true | /bin/true",
            "sh -c '/bin/true | /bin/true'",
            "s",
            &start_up,
            Goal::None,
            "not pinned",
        ),
        row(
            "pipes",
            "relay cat, the stream",
            "cat | cat, the same stream",
            "GB/s",
            &relay,
            Goal::AtLeast(0.5),
            "not pinned",
        ),
    ])
}

/// Seconds per round of `sem-pingpong`, `sem-ring` with two processes and a `msgq-client
/// session` of `sum` requests, each against the futex ping-pong in the same placement. A
/// round's time is (run of `n` rounds − run of 1 round) / (`n` − 1), which leaves out the
/// programs' start-up.
fn round_trips(
    config: &Config,
    scratch: &Scratch,
    placement: Placement,
    cpus: Cpus,
    allowed: &[usize],
) -> io::Result<Vec<Row>> {
    let n = match placement {
        Placement::SameCpu => config.rounds_same,
        Placement::CrossCpu => config.rounds_cross,
    }
    .max(2);
    let pid = std::process::id();
    let ring_key = scratch.key("key-ring")?;
    let msgq_key = scratch.key("key-msgq")?;
    let mut session = BufWriter::new(File::create(scratch.path(&format!("session-{n}")))?);
    for _ in 0..n {
        session.write_all(b"sum 1 2\n")?;
    }
    session.flush()?;
    drop(session);
    let mut one = File::create(scratch.path("session-1"))?;
    one.write_all(b"sum 1 2\n")?;
    drop(one);

    let pingpong = |rounds: usize| {
        timed(|| {
            let name = format!("/ipclab-bench-pp-{pid}");
            let r = rounds.to_string();
            let pong = spawn_on(
                program(config, "sem-pingpong").args(["pong", &name, &r]),
                Some(cpus.b),
                allowed,
            )?;
            let ping = spawn_on(
                program(config, "sem-pingpong").args(["ping", &name, &r]),
                Some(cpus.a),
                allowed,
            )?;
            Ok(vec![("pong".into(), pong, 0), ("ping".into(), ping, 0)])
        })
    };
    let ring = |rounds: usize| {
        timed(|| {
            let r = rounds.to_string();
            let key = ring_key.as_os_str();
            let second = spawn_on(
                program(config, "sem-ring").args([key, "1".as_ref(), "2".as_ref(), r.as_ref()]),
                Some(cpus.b),
                allowed,
            )?;
            let first = spawn_on(
                program(config, "sem-ring").args([key, "0".as_ref(), "2".as_ref(), r.as_ref()]),
                Some(cpus.a),
                allowed,
            )?;
            Ok(vec![
                ("sem-ring 1".into(), second, 0),
                ("sem-ring 0".into(), first, 0),
            ])
        })
    };
    // One server per pair: a session of one request, one of `n`, then `shutdown`.
    let msgq = || -> io::Result<(Run, Run)> {
        let key = msgq_key.as_os_str();
        let server = spawn_on(
            program(config, "msgq-server").arg(key),
            Some(cpus.b),
            allowed,
        )?;
        // The client's CPU time comes from its rusage, the server's (still running) from the
        // scheduler's count of its time on a CPU.
        let server_pid = server.id();
        let session = |rounds: usize| {
            let before = task_cpu(server_pid);
            let run = timed(|| {
                let client = spawn_on(
                    program(config, "msgq-client")
                        .args([key, "session".as_ref()])
                        .stdin(File::open(scratch.path(&format!("session-{rounds}")))?),
                    Some(cpus.a),
                    allowed,
                )?;
                Ok(vec![("msgq-client session".into(), client, 0)])
            })?;
            let served = task_cpu(server_pid) - before;
            Ok::<_, io::Error>(Run {
                cpu: run.cpu + served,
                ..run
            })
        };
        let runs = session(1).and_then(|one| Ok((one, session(n)?)));
        let stop = timed(|| {
            let client = program(config, "msgq-client")
                .args([key, "shutdown".as_ref()])
                .spawn()?;
            Ok(vec![("msgq-client shutdown".into(), client, 0)])
        });
        let served = finish("msgq-server", server, 0);
        let runs = runs?;
        stop?;
        served?;
        Ok(runs)
    };

    // Wall and CPU seconds of one round.
    let per_round = |one: Run, all: Run| {
        let rounds = (n - 1) as f64;
        ((all.wall - one.wall) / rounds, (all.cpu - one.cpu) / rounds)
    };
    let mut rows = Vec::new();
    let mut pp = Vec::new();
    let mut rg = Vec::new();
    let mut mq = Vec::new();
    let mut mq_bare = Vec::new();
    for _ in 0..config.reps {
        let futex = measure::futex_round_trip(n, 20, cpus)?;
        measure::unpin(allowed)?;
        let pair = |(wall, cpu): (f64, f64)| {
            (
                wall * 1e6,
                futex.wall * 1e6,
                wall / futex.wall,
                cpu / futex.cpu,
            )
        };
        pp.push(pair(per_round(pingpong(1)?, pingpong(n)?)));
        rg.push(pair(per_round(ring(1)?, ring(n)?)));
        let (one, all) = msgq()?;
        mq.push(pair(per_round(one, all)));
        // The bare mechanism: one 48-byte message each way on one queue, by the bench.
        let bare = measure::round_trip(Mechanism::SysvMsgq, 48, n, 20, cpus, Limits::read())?;
        measure::unpin(allowed)?;
        let (wall, cpu) = per_round(one, all);
        mq_bare.push((
            wall * 1e6,
            bare.wall * 1e6,
            wall / bare.wall,
            cpu / bare.cpu,
        ));
    }
    let probe = format!("futex ping-pong, {}", placement.name());
    for (assignment, label, pairs) in [
        ("semaphores", "sem-pingpong ping/pong, a round", &pp),
        ("semaphores", "sem-ring, K = 2, a round", &rg),
        ("msgq", "msgq-client session, a sum request", &mq),
    ] {
        rows.push(row(
            assignment,
            label,
            &probe,
            "us",
            pairs,
            Goal::AtMost(1.5),
            placement.name(),
        ));
    }
    rows.push(row(
        "msgq",
        "msgq-client session, a sum request",
        &format!(
            "the bench's sysv-msgq round trip (48 B each way), {}",
            placement.name()
        ),
        "us",
        &mq_bare,
        Goal::None,
        placement.name(),
    ));
    Ok(rows)
}

/// CPU time of each program while it waits for a peer that never comes (or, for `relay` and
/// `pipeline`, for a command that sleeps), as a share of the wait: blocking uses none. Each
/// case runs twice, waiting `SHORT_MS` and `idle_ms`; the share is the difference of their CPU
/// times over the difference of their wall times, which leaves out start-up and exit.
fn idle(config: &Config, scratch: &Scratch) -> io::Result<Vec<Row>> {
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

impl Report {
    /// The table, in Markdown.
    pub fn markdown(&self) -> String {
        let mut s = String::new();
        s.push_str(&format!(
            "# The programs against their probes\n\nPrograms from `{}`; {} pairs per figure; \
             a {} MiB stream, a {} KiB ring; {}; load average {:.2} at the start, {:.2} at the \
             end; {:.0} s.\n\n",
            self.config.dir.display(),
            self.config.reps,
            self.config.stream_bytes >> 20,
            self.config.ring >> 10,
            if self.niced {
                format!("nice {NICE}")
            } else {
                "nice 0 (not root)".to_string()
            },
            self.loadavg_start[0],
            self.loadavg_end[0],
            self.elapsed_seconds,
        ));
        s.push_str(
            "| assignment | program | unit | program (median) | probe | probe (median) | \
             ratio (median of pairs) | min–max | ratio on CPU time | goal | placement |\n\
             |---|---|---|---:|---|---:|---:|---|---:|---|---|\n",
        );
        for r in &self.rows {
            let cell = |text: &str| text.replace('|', "\\|");
            s.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} | {:.3} | {:.3}–{:.3} | {} | {} | {} |\n",
                r.assignment,
                cell(&r.program),
                r.unit,
                figure(r.program_median),
                cell(&r.probe),
                figure(r.probe_median),
                r.ratio,
                r.ratio_min,
                r.ratio_max,
                r.cpu_ratio.map_or(String::new(), |x| format!("{x:.3}")),
                match r.met {
                    Some(true) => format!("{} met", r.goal),
                    Some(false) => format!("{} **missed**", r.goal),
                    None => String::new(),
                },
                r.placement,
            ));
        }
        s
    }

    /// Writes `programs.json` and `programs.md` into `dir`.
    pub fn write(&self, dir: &Path) -> io::Result<()> {
        std::fs::create_dir_all(dir)?;
        let json = serde_json::to_string_pretty(self).map_err(io::Error::other)?;
        std::fs::write(dir.join("programs.json"), json + "\n")?;
        std::fs::write(dir.join("programs.md"), self.markdown())
    }
}

/// Three significant digits, whatever the magnitude.
fn figure(x: f64) -> String {
    if x >= 100.0 {
        format!("{x:.0}")
    } else if x >= 10.0 {
        format!("{x:.1}")
    } else if x >= 1.0 {
        format!("{x:.2}")
    } else {
        format!("{x:.3}")
    }
}
