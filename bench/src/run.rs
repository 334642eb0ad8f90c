//! The plan of a bench run and its execution: every measurement repeated `reps` times, the
//! repetitions interleaved (all measurements once, then all again…) so that a burst of load
//! from elsewhere spreads over every figure instead of spoiling one; then medians, minima and
//! maxima, and the ratios to the limits.

use std::collections::BTreeMap;
use std::io;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};

use crate::channel::{Limits, Mechanism};
use crate::measure::{self, Cpus, Placement, Sample};
use crate::report::{Machine, Record, Results};

/// What to measure and how long.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Config {
    /// Message sizes of the throughput sweep, in bytes.
    pub sizes: Vec<usize>,
    /// Repetitions of every measurement (each in fresh processes on a fresh channel).
    pub reps: usize,
    /// Timed round trips per latency measurement.
    pub round_trips: usize,
    /// Size of the latency measurement's message.
    pub latency_size: usize,
    /// Bytes a throughput measurement aims to move (`messages = bytes / size`, clamped).
    pub bytes_per_run: usize,
    /// Fewest and most timed messages per throughput measurement.
    pub min_messages: usize,
    pub max_messages: usize,
    /// Placements of the latency measurements (both, by default: see README "Benchmarks").
    pub latency_placements: Vec<Placement>,
    /// Placements of the throughput sweep.
    pub stream_placements: Vec<Placement>,
    /// The mechanisms to measure.
    pub mechanisms: Vec<Mechanism>,
}

/// Sizes from `from` to `to`, each `factor` times the one before.
pub fn sizes(from: usize, to: usize, factor: usize) -> Vec<usize> {
    std::iter::successors(Some(from), |&s| Some(s * factor))
        .take_while(|&s| s <= to)
        .collect()
}

impl Config {
    /// `make bench`: 64 B to 64 MiB in powers of 4, five repetitions.
    pub fn full() -> Config {
        Config {
            sizes: sizes(64, 64 << 20, 4),
            reps: 5,
            round_trips: 1000,
            latency_size: 64,
            bytes_per_run: 32 << 20,
            min_messages: 3,
            max_messages: 2000,
            latency_placements: vec![Placement::SameCpu, Placement::CrossCpu],
            stream_placements: vec![Placement::SameCpu],
            mechanisms: Mechanism::ALL.to_vec(),
        }
    }

    /// `make bench QUICK=1`: 64 B to 4 MiB in powers of 16, three repetitions, fewer messages.
    pub fn quick() -> Config {
        Config {
            sizes: sizes(64, 16 << 20, 16),
            reps: 3,
            round_trips: 300,
            bytes_per_run: 8 << 20,
            min_messages: 2,
            max_messages: 400,
            ..Config::full()
        }
    }

    /// Timed messages of a throughput measurement of `size`-byte messages.
    fn messages(&self, size: usize) -> usize {
        (self.bytes_per_run / size).clamp(self.min_messages, self.max_messages)
    }

    /// Timed copies of a memcpy measurement: enough to last about as long as a message run.
    fn copies(&self, size: usize) -> usize {
        (self.bytes_per_run / size).clamp(self.min_messages, 1_000_000)
    }
}

/// One measurement of the plan.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Job {
    /// Round trip of a small message; `None` is the futex ping-pong.
    RoundTrip(Option<Mechanism>, Placement),
    /// Time per message streaming `size`-byte messages.
    Stream(Mechanism, usize, Placement),
    /// `memcpy` of `size` bytes.
    Memcpy(usize),
}

impl Job {
    fn label(&self) -> String {
        match self {
            Job::RoundTrip(m, p) => format!(
                "round trip, {}, {}",
                m.map_or("futex", |m| m.name()),
                p.name()
            ),
            Job::Stream(m, size, p) => format!("{} {}, {}", m.name(), human_size(*size), p.name()),
            Job::Memcpy(size) => format!("memcpy {}", human_size(*size)),
        }
    }
}

/// `64 B`, `16 KiB`, `64 MiB`.
pub fn human_size(bytes: usize) -> String {
    match bytes {
        b if b >= 1 << 20 && b % (1 << 20) == 0 => format!("{} MiB", b >> 20),
        b if b >= 1 << 10 && b % (1 << 10) == 0 => format!("{} KiB", b >> 10),
        b => format!("{b} B"),
    }
}

/// Runs the plan of `config`, with a progress bar unless `quiet`.
pub fn run(config: &Config, quiet: bool) -> io::Result<Results> {
    let started = Instant::now();
    let allowed = measure::allowed_cpus()?;
    let first = *allowed
        .first()
        .ok_or_else(|| io::Error::other("no CPU allowed"))?;
    let second = allowed.get(1).copied();
    let cpus_of = |placement: Placement| match (placement, second) {
        (Placement::SameCpu, _) => Some(Cpus { a: first, b: first }),
        (Placement::CrossCpu, Some(b)) => Some(Cpus { a: first, b }),
        (Placement::CrossCpu, None) => None,
    };
    let limits = Limits::read();
    let machine_before = Machine::read(&allowed, limits);

    let mut jobs = Vec::new();
    for &p in &config.latency_placements {
        if cpus_of(p).is_some() {
            jobs.push(Job::RoundTrip(None, p));
            for &m in &config.mechanisms {
                jobs.push(Job::RoundTrip(Some(m), p));
            }
        }
    }
    for &size in &config.sizes {
        jobs.push(Job::Memcpy(size));
        for &p in &config.stream_placements {
            if cpus_of(p).is_some() {
                for &m in &config.mechanisms {
                    jobs.push(Job::Stream(m, size, p));
                }
            }
        }
    }

    let bar = if quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new((jobs.len() * config.reps) as u64)
    };
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} {elapsed:>4} {wide_msg}")
            .expect("the progress template is valid"),
    );

    let mut samples: BTreeMap<Job, Vec<Sample>> = BTreeMap::new();
    let outcome = (|| -> io::Result<()> {
        for rep in 0..config.reps {
            for job in &jobs {
                bar.set_message(format!("run {}/{}: {}", rep + 1, config.reps, job.label()));
                let sample = match *job {
                    Job::RoundTrip(None, p) => {
                        measure::futex_round_trip(config.round_trips, 20, cpus_of(p).expect("kept"))
                    }
                    Job::RoundTrip(Some(m), p) => measure::round_trip(
                        m,
                        config.latency_size,
                        config.round_trips,
                        20,
                        cpus_of(p).expect("kept"),
                        limits,
                    ),
                    Job::Stream(m, size, p) => measure::stream(
                        m,
                        size,
                        config.messages(size),
                        2,
                        cpus_of(p).expect("kept"),
                        limits,
                    ),
                    Job::Memcpy(size) => measure::memcpy(size, config.copies(size), first),
                }
                .map_err(|e| io::Error::other(format!("{}: {e}", job.label())))?;
                samples.entry(*job).or_default().push(sample);
                bar.inc(1);
            }
        }
        Ok(())
    })();
    bar.finish_and_clear();
    measure::unpin(&allowed)?;
    outcome?;

    let records = summarise(config, &samples, &cpus_of);
    let mut machine = machine_before;
    machine.loadavg_end = crate::report::loadavg();
    Ok(Results::new(
        machine,
        config.clone(),
        started.elapsed().as_secs_f64(),
        records,
    ))
}

/// Median, min and max of `xs` (not empty).
pub fn stats(xs: &[f64]) -> (f64, f64, f64) {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let median = if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    };
    (median, v[0], v[n - 1])
}

fn summarise(
    config: &Config,
    samples: &BTreeMap<Job, Vec<Sample>>,
    cpus_of: &dyn Fn(Placement) -> Option<Cpus>,
) -> Vec<Record> {
    const US: f64 = 1e6;
    let mut records = Vec::new();
    let wall = |xs: &[Sample]| xs.iter().map(|x| x.wall).collect::<Vec<_>>();
    let cpu = |xs: &[Sample]| xs.iter().map(|x| x.cpu).collect::<Vec<_>>();
    // The limits' medians: the futex per placement, memcpy per size; (wall, cpu).
    let mut futex: BTreeMap<Placement, (f64, f64)> = BTreeMap::new();
    let mut memcpy: BTreeMap<usize, (f64, f64)> = BTreeMap::new();
    for (job, xs) in samples {
        let medians = (stats(&wall(xs)).0, stats(&cpu(xs)).0);
        match job {
            Job::RoundTrip(None, p) => {
                futex.insert(*p, medians);
            }
            Job::Memcpy(size) => {
                memcpy.insert(*size, medians);
            }
            _ => {}
        }
    }
    for (job, xs) in samples {
        for (values, is_cpu) in [(wall(xs), false), (cpu(xs), true)] {
            let (median, min, max) = stats(&values);
            let pick = |limit: (f64, f64)| if is_cpu { limit.1 } else { limit.0 };
            let base = match *job {
                Job::RoundTrip(m, p) => {
                    let cpus = cpus_of(p).expect("measured");
                    Record {
                        mechanism: m.map_or("futex", |m| m.name()).into(),
                        family: m.map_or("limit", |m| m.family().name()).into(),
                        metric: if is_cpu {
                            "cpu_per_round_trip"
                        } else {
                            "round_trip"
                        }
                        .into(),
                        size_bytes: if m.is_some() { config.latency_size } else { 0 },
                        median: median * US,
                        min: min * US,
                        max: max * US,
                        unit: "us".into(),
                        placement: p.name().into(),
                        cpus: [cpus.a, cpus.b],
                        runs: xs.len(),
                        per_run: config.round_trips,
                        ratio_to: "futex".into(),
                        ratio: median / pick(futex[&p]),
                    }
                }
                Job::Stream(m, size, p) => {
                    let cpus = cpus_of(p).expect("measured");
                    Record {
                        mechanism: m.name().into(),
                        family: m.family().name().into(),
                        metric: if is_cpu {
                            "cpu_per_message"
                        } else {
                            "time_per_message"
                        }
                        .into(),
                        size_bytes: size,
                        median: median * US,
                        min: min * US,
                        max: max * US,
                        unit: "us".into(),
                        placement: p.name().into(),
                        cpus: [cpus.a, cpus.b],
                        runs: xs.len(),
                        per_run: config.messages(size),
                        ratio_to: "memcpy".into(),
                        ratio: median / pick(memcpy[&size]),
                    }
                }
                Job::Memcpy(size) => Record {
                    mechanism: "memcpy".into(),
                    family: "limit".into(),
                    metric: if is_cpu {
                        "cpu_per_message"
                    } else {
                        "time_per_message"
                    }
                    .into(),
                    size_bytes: size,
                    median: median * US,
                    min: min * US,
                    max: max * US,
                    unit: "us".into(),
                    placement: "one-cpu".into(),
                    cpus: [cpus_of(Placement::SameCpu).expect("always").a; 2],
                    runs: xs.len(),
                    per_run: config.copies(size),
                    ratio_to: "memcpy".into(),
                    ratio: 1.0,
                },
            };
            if !is_cpu && let Job::Stream(_, size, _) | Job::Memcpy(size) = *job {
                let limit = memcpy[&size].0;
                records.push(throughput_of(&base, size, median, min, max, limit));
            }
            records.push(base);
        }
    }
    records
}

/// The throughput record matching a time-per-message record: bytes per second in GB/s (the
/// fastest run is the max), and its ratio to memcpy's bandwidth at that size.
fn throughput_of(
    base: &Record,
    size: usize,
    median: f64,
    min: f64,
    max: f64,
    memcpy: f64,
) -> Record {
    let gbps = |seconds: f64| size as f64 / seconds / 1e9;
    Record {
        metric: "throughput".into(),
        median: gbps(median),
        min: gbps(max),
        max: gbps(min),
        unit: "GB/s".into(),
        ratio: memcpy / median,
        ..base.clone()
    }
}
