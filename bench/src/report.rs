//! The results of a run: records, the machine they were measured on, the crossovers, and the
//! files written from them (`results.json`, `results.md`; `plot.svg` is `plot.rs`).

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::io;
use std::path::Path;

use serde::Serialize;

use crate::channel::{Family, Limits};
use crate::run::{Config, human_size};

/// One figure: a metric of one mechanism at one size and placement, over `runs` runs.
#[derive(Clone, Debug, Serialize)]
pub struct Record {
    /// `pipe`, `unix-socket`, `sysv-msgq`, `posix-mq`, `sysv-shm-once`, `posix-shm-once`,
    /// `sysv-shm-per-message`, `posix-shm-per-message`, or a limit: `futex`, `memcpy`.
    pub mechanism: String,
    /// `message-passing`, `shared-memory, mapped once`, `shared-memory, mapped per message`, or
    /// `limit`.
    pub family: String,
    /// `round_trip` (a small message there and back), `time_per_message` (streaming messages of
    /// `size_bytes` one way), `throughput` (the same as bytes per second).
    pub metric: String,
    /// The message size (0 for the futex ping-pong, which carries no data).
    pub size_bytes: usize,
    pub median: f64,
    pub min: f64,
    pub max: f64,
    /// `us` (microseconds) or `GB/s` (10⁹ bytes per second).
    pub unit: String,
    /// `same-cpu`, `cross-cpu`, or `one-cpu` for memcpy (one process).
    pub placement: String,
    /// The CPUs of the bench and of its child.
    pub cpus: [usize; 2],
    /// Runs the median is taken over.
    pub runs: usize,
    /// Round trips, messages or copies timed in each run.
    pub per_run: usize,
    /// The limit the ratio is taken to: `futex` (round trips, same placement) or `memcpy`
    /// (same size).
    pub ratio_to: String,
    /// For times, median ÷ the limit's median (≥ 1: how many times slower than the limit); for
    /// throughput, median ÷ memcpy's bandwidth (≤ 1: the fraction of it reached).
    pub ratio: f64,
}

/// The machine and its load, read at the start of the run (and the load again at the end).
#[derive(Clone, Debug, Serialize)]
pub struct Machine {
    pub cpu_model: String,
    pub cpus_online: usize,
    pub cpus_allowed: Vec<usize>,
    pub kernel: String,
    pub page_size: usize,
    /// `/proc/loadavg`'s 1-, 5- and 15-minute load averages, at the start and at the end.
    pub loadavg_start: [f64; 3],
    pub loadavg_end: [f64; 3],
    pub limits: Limits,
}

impl Machine {
    pub fn read(allowed: &[usize], limits: Limits) -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        Machine {
            cpu_model: cpuinfo
                .lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|rest| rest.trim_start_matches([' ', '\t', ':']).trim().to_string())
                .unwrap_or_else(|| "unknown".into()),
            cpus_online: std::thread::available_parallelism().map_or(1, |n| n.get()),
            cpus_allowed: allowed.to_vec(),
            kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .map_or_else(|_| "unknown".into(), |s| s.trim().to_string()),
            page_size: nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE)
                .ok()
                .flatten()
                .map_or(4096, |n| n as usize),
            loadavg_start: loadavg(),
            loadavg_end: [0.0; 3],
            limits,
        }
    }
}

/// The 1-, 5- and 15-minute load averages.
pub fn loadavg() -> [f64; 3] {
    let text = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let mut out = [0.0; 3];
    for (slot, field) in out.iter_mut().zip(text.split_whitespace()) {
        *slot = field.parse().unwrap_or(0.0);
    }
    out
}

/// Where one family's time-per-message curve crosses another's.
#[derive(Clone, Debug, Serialize)]
pub struct Crossing {
    /// The crossing, interpolated on the log–log curves between the two measured sizes.
    pub size_bytes: f64,
    /// The measured sizes on either side.
    pub between: [usize; 2],
    /// Whether the challenger is the faster one above this size.
    pub challenger_faster_above: bool,
}

/// The comparison of a challenger family (shared memory) with message passing.
#[derive(Clone, Debug, Serialize)]
pub struct Comparison {
    pub placement: String,
    /// The family compared: its fastest mechanism at each size.
    pub challenger: String,
    /// Always `message-passing`: its fastest mechanism at each size.
    pub incumbent: String,
    pub crossings: Vec<Crossing>,
    /// One sentence saying what was seen.
    pub summary: String,
}

/// Everything `results.json` holds.
#[derive(Clone, Debug, Serialize)]
pub struct Results {
    pub generator: String,
    pub machine: Machine,
    pub config: Config,
    pub elapsed_seconds: f64,
    pub records: Vec<Record>,
    pub crossovers: Vec<Comparison>,
}

impl Results {
    pub fn new(machine: Machine, config: Config, elapsed: f64, records: Vec<Record>) -> Results {
        let mut results = Results {
            generator: format!("IPC Lab bench {}", env!("CARGO_PKG_VERSION")),
            machine,
            config,
            elapsed_seconds: elapsed,
            records,
            crossovers: Vec::new(),
        };
        for placement in results.stream_placements() {
            for challenger in [Family::SharedMemoryOnce, Family::SharedMemoryPerMessage] {
                if let Some(c) = results.compare(&placement, challenger, Family::MessagePassing) {
                    results.crossovers.push(c);
                }
            }
        }
        results
    }

    /// The placements of the time-per-message records, in order.
    pub fn stream_placements(&self) -> Vec<String> {
        let set: BTreeSet<&str> = self
            .records
            .iter()
            .filter(|r| r.metric == "time_per_message" && r.family != "limit")
            .map(|r| r.placement.as_str())
            .collect();
        set.into_iter().map(String::from).collect()
    }

    /// The records of `metric` at `placement` (memcpy's count for every placement).
    pub fn select<'a>(
        &'a self,
        metric: &'a str,
        placement: &'a str,
    ) -> impl Iterator<Item = &'a Record> {
        self.records.iter().filter(move |r| {
            r.metric == metric && (r.placement == placement || r.mechanism == "memcpy")
        })
    }

    /// The fastest median time per message of `family` at each measured size.
    pub fn best_curve(&self, placement: &str, family: Family) -> Vec<(usize, f64)> {
        let mut best: std::collections::BTreeMap<usize, f64> = Default::default();
        for r in self.select("time_per_message", placement) {
            if r.family == family.name() {
                let slot = best.entry(r.size_bytes).or_insert(f64::INFINITY);
                *slot = slot.min(r.median);
            }
        }
        best.into_iter().collect()
    }

    fn compare(
        &self,
        placement: &str,
        challenger: Family,
        incumbent: Family,
    ) -> Option<Comparison> {
        let a = self.best_curve(placement, challenger);
        let b = self.best_curve(placement, incumbent);
        let points: Vec<(usize, f64)> = a
            .iter()
            .zip(&b)
            .filter(|(x, y)| x.0 == y.0)
            .map(|(x, y)| (x.0, (x.1 / y.1).ln()))
            .collect();
        let (first, last) = (points.first()?, points.last()?);
        let mut crossings = Vec::new();
        for pair in points.windows(2) {
            let ((s0, d0), (s1, d1)) = (pair[0], pair[1]);
            if (d0 < 0.0) != (d1 < 0.0) {
                let t = d0 / (d0 - d1);
                let size = ((s0 as f64).ln() + t * ((s1 as f64).ln() - (s0 as f64).ln())).exp();
                crossings.push(Crossing {
                    size_bytes: size.round(),
                    between: [s0, s1],
                    challenger_faster_above: d1 < 0.0,
                });
            }
        }
        let who = challenger_phrase(challenger);
        let range = format!("{} – {}", human_size(first.0), human_size(last.0));
        let summary = if crossings.is_empty() {
            let verb = if first.1 < 0.0 { "beats" } else { "loses to" };
            format!("{who} {verb} message passing at every size measured ({range})")
        } else {
            let parts: Vec<String> = crossings
                .iter()
                .map(|c| {
                    let verb = if c.challenger_faster_above {
                        "beats"
                    } else {
                        "loses to"
                    };
                    format!(
                        "{verb} message passing from ≈ {}",
                        approx_size(c.size_bytes)
                    )
                })
                .collect();
            let below = if first.1 < 0.0 { "beats" } else { "loses to" };
            format!(
                "{who} {below} message passing at {}, {}",
                human_size(first.0),
                parts.join(", then ")
            )
        };
        Some(Comparison {
            placement: placement.into(),
            challenger: challenger.name().into(),
            incumbent: incumbent.name().into(),
            crossings,
            summary,
        })
    }

    /// Writes `results.json`, `results.md` and `plot.svg` into `dir` (made if missing).
    pub fn write(&self, dir: &Path) -> io::Result<()> {
        std::fs::create_dir_all(dir)?;
        let json = serde_json::to_string_pretty(self).map_err(io::Error::other)?;
        std::fs::write(dir.join("results.json"), json + "\n")?;
        std::fs::write(dir.join("results.md"), self.markdown())?;
        std::fs::write(dir.join("plot.svg"), crate::plot::svg(self))?;
        Ok(())
    }

    /// `results.md`: the machine, the round trips, the sweep, the crossovers.
    pub fn markdown(&self) -> String {
        let m = &self.machine;
        let mut out = String::new();
        let _ = writeln!(out, "# IPC Lab bench: copy versus map on this machine\n");
        let _ = writeln!(
            out,
            "{} · {} CPUs online, using {:?} · Linux {} · load average {:.2} at the start, {:.2} \
             at the end · {} runs per figure, medians (min–max in `results.json`) · {:.0} s\n",
            m.cpu_model,
            m.cpus_online,
            m.cpus_allowed,
            m.kernel,
            m.loadavg_start[0],
            m.loadavg_end[0],
            self.config.reps,
            self.elapsed_seconds
        );

        let placements: Vec<String> = {
            let set: BTreeSet<&str> = self
                .records
                .iter()
                .filter(|r| r.metric == "round_trip")
                .map(|r| r.placement.as_str())
                .collect();
            set.into_iter().map(String::from).collect()
        };
        for (metric, title) in [
            (
                "round_trip",
                "Round trip of a {} B message, wall clock (µs)",
            ),
            (
                "cpu_per_round_trip",
                "CPU time per round trip of a {} B message, both processes (µs)",
            ),
        ] {
            let title = title.replace("{}", &self.config.latency_size.to_string());
            let _ = writeln!(out, "## {title}\n");
            if metric == "round_trip" {
                let _ = writeln!(
                    out,
                    "Placement: `same-cpu` pins both processes to one CPU, `cross-cpu` to two. \
                     ×futex: the ratio to the futex ping-pong in the same placement.\n"
                );
            }
            let mut header = String::from("| mechanism |");
            let mut rule = String::from("|---|");
            for p in &placements {
                let _ = write!(header, " {p} | min–max | ×futex |");
                rule.push_str("---:|---:|---:|");
            }
            let _ = writeln!(out, "{header}\n{rule}");
            for mechanism in self.mechanisms(metric) {
                let _ = write!(out, "| {mechanism} |");
                for p in &placements {
                    match self.records.iter().find(|r| {
                        r.metric == metric && &r.placement == p && r.mechanism == mechanism
                    }) {
                        Some(r) => {
                            let _ = write!(
                                out,
                                " {} | {}–{} | {:.2} |",
                                sig(r.median),
                                sig(r.min),
                                sig(r.max),
                                r.ratio
                            );
                        }
                        None => out.push_str(" | | |"),
                    }
                }
                out.push('\n');
            }
            out.push('\n');
        }

        for p in self.stream_placements() {
            let sizes: BTreeSet<usize> = self
                .select("time_per_message", &p)
                .map(|r| r.size_bytes)
                .collect();
            let cols: String = sizes
                .iter()
                .map(|s| format!(" {} |", human_size(*s)))
                .collect();
            let rule: String = sizes.iter().map(|_| "---:|").collect();
            for (title, metric, ratio) in [
                (
                    "Time per message, wall clock (µs)",
                    "time_per_message",
                    false,
                ),
                ("Time per message ÷ memcpy's", "time_per_message", true),
                ("Throughput (GB/s)", "throughput", false),
                (
                    "CPU time per message, both processes (µs)",
                    "cpu_per_message",
                    false,
                ),
                ("CPU time per message ÷ memcpy's", "cpu_per_message", true),
            ] {
                let _ = writeln!(
                    out,
                    "## {title}, streaming one way, {p}\n\n| mechanism |{cols}\n|---|{rule}"
                );
                for mechanism in self.mechanisms(metric) {
                    let _ = write!(out, "| {mechanism} |");
                    for s in &sizes {
                        let cell = self
                            .select(metric, &p)
                            .find(|r| r.mechanism == mechanism && r.size_bytes == *s)
                            .map(|r| {
                                if ratio {
                                    format!("{:.2}", r.ratio)
                                } else {
                                    sig(r.median)
                                }
                            })
                            .unwrap_or_default();
                        let _ = write!(out, " {cell} |");
                    }
                    out.push('\n');
                }
                out.push('\n');
            }
        }

        let _ = writeln!(out, "## Crossovers (wall clock)\n");
        for c in &self.crossovers {
            let _ = writeln!(out, "- {}: {}.", c.placement, c.summary);
        }
        out
    }

    /// The mechanisms with records of `metric`, limits first, in the order measured.
    fn mechanisms(&self, metric: &str) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        let mut push = |name: &str| {
            if !names.iter().any(|n| n == name) {
                names.push(name.to_string());
            }
        };
        for r in self
            .records
            .iter()
            .filter(|r| r.metric == metric && r.family == "limit")
        {
            push(&r.mechanism);
        }
        for r in self
            .records
            .iter()
            .filter(|r| r.metric == metric && r.family != "limit")
        {
            push(&r.mechanism);
        }
        names
    }
}

fn challenger_phrase(family: Family) -> &'static str {
    match family {
        Family::SharedMemoryOnce => "shared memory mapped once",
        Family::SharedMemoryPerMessage => "shared memory mapped per message",
        Family::MessagePassing => "message passing",
    }
}

/// A size between powers of two, to two significant figures: `≈ 2.9 KiB`.
pub fn approx_size(bytes: f64) -> String {
    let (value, unit) = if bytes >= (1 << 20) as f64 {
        (bytes / (1 << 20) as f64, "MiB")
    } else if bytes >= 1024.0 {
        (bytes / 1024.0, "KiB")
    } else {
        (bytes, "B")
    };
    format!("{} {unit}", sig(value))
}

/// Three significant figures, without exponent: `0.0123`, `1.23`, `123`, `12300`.
pub fn sig(x: f64) -> String {
    if x == 0.0 || !x.is_finite() {
        return format!("{x}");
    }
    let digits = (2 - x.abs().log10().floor() as i32).max(0) as usize;
    format!("{x:.digits$}")
}
