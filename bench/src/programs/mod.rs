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

mod idle;
mod round_trips;
mod streams;
mod transfers;

use idle::idle;
use round_trips::round_trips;
use streams::pipes;
use transfers::transfers;

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
