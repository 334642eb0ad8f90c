//! `bench`: measures message passing against shared memory on this machine and writes
//! `results.json`, `results.md` and `plot.svg`. Run by `make bench`.

use std::path::PathBuf;
use std::process::ExitCode;

use bench::channel::Mechanism;
use bench::measure::Placement;
use clap::{Parser, ValueEnum};

#[derive(Parser)]
#[command(about = "IPC Lab: the copy-versus-map experiment, measured on this machine")]
struct Args {
    /// Folder to write results.json, results.md and plot.svg into.
    #[arg(long, default_value = "target/bench")]
    out: PathBuf,
    /// Fewer sizes, runs and messages: about 15 s instead of 2 minutes.
    #[arg(long)]
    quick: bool,
    /// Runs per figure (default 5, quick 3).
    #[arg(long)]
    reps: Option<usize>,
    /// Placement of the throughput sweep (round trips are always measured in both).
    #[arg(long, value_enum, default_value = "same")]
    placement: PlacementArg,
    /// Only these mechanisms (comma-separated names as in the results); with --programs, only
    /// these groups (transfers, pipes, round-trips, idle).
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
    /// Instead of the experiment, time the assignments' programs built in DIR (e.g.
    /// solution/target/release) against their probes and write programs.json and programs.md.
    #[arg(long, value_name = "DIR")]
    programs: Option<PathBuf>,
}

#[derive(Clone, Copy, ValueEnum)]
enum PlacementArg {
    Same,
    Cross,
    Both,
}

fn main() -> ExitCode {
    let args = Args::parse();
    if let Some(dir) = args.programs {
        return programs(dir, &args.out, args.quick, args.reps, args.only);
    }
    let mut config = if args.quick {
        bench::Config::quick()
    } else {
        bench::Config::full()
    };
    if let Some(reps) = args.reps {
        config.reps = reps.max(1);
    }
    config.stream_placements = match args.placement {
        PlacementArg::Same => vec![Placement::SameCpu],
        PlacementArg::Cross => vec![Placement::CrossCpu],
        PlacementArg::Both => vec![Placement::SameCpu, Placement::CrossCpu],
    };
    if !args.only.is_empty() {
        for name in &args.only {
            if !Mechanism::ALL.iter().any(|m| m.name() == name) {
                let names: Vec<_> = Mechanism::ALL.iter().map(|m| m.name()).collect();
                eprintln!(
                    "bench: unknown mechanism {name:?} (one of: {})",
                    names.join(", ")
                );
                return ExitCode::from(2);
            }
        }
        config
            .mechanisms
            .retain(|m| args.only.iter().any(|n| n == m.name()));
    }
    if let Err(e) = bench::sys::install_cleanup_handler() {
        eprintln!("bench: cannot install the signal handler: {e}");
        return ExitCode::FAILURE;
    }
    let results = match bench::run(&config, args.quiet) {
        Ok(results) => results,
        Err(e) => {
            eprintln!("bench: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Err(e) = results.write(&args.out) {
        eprintln!("bench: cannot write {}: {e}", args.out.display());
        return ExitCode::FAILURE;
    }
    print!("{}", results.markdown());
    println!(
        "\nWrote {0}/results.json, {0}/results.md and {0}/plot.svg in {1:.0} s.",
        args.out.display(),
        results.elapsed_seconds
    );
    ExitCode::SUCCESS
}

/// `--programs DIR`: the programs against their probes (README "Reference performance").
fn programs(
    dir: PathBuf,
    out: &std::path::Path,
    quick: bool,
    reps: Option<usize>,
    only: Vec<String>,
) -> ExitCode {
    if let Some(bad) = only
        .iter()
        .find(|g| !bench::programs::GROUPS.contains(&g.as_str()))
    {
        eprintln!(
            "bench: unknown group {bad:?} (with --programs, one of: {})",
            bench::programs::GROUPS.join(", ")
        );
        return ExitCode::from(2);
    }
    let mut config = if quick {
        bench::programs::Config::quick(dir)
    } else {
        bench::programs::Config::full(dir)
    };
    if let Some(reps) = reps {
        config.reps = reps.max(1);
    }
    config.groups = only;
    if let Err(e) = bench::sys::install_cleanup_handler() {
        eprintln!("bench: cannot install the signal handler: {e}");
        return ExitCode::FAILURE;
    }
    let report = match bench::programs::run(&config) {
        Ok(report) => report,
        Err(e) => {
            eprintln!("bench: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Err(e) = report.write(out) {
        eprintln!("bench: cannot write {}: {e}", out.display());
        return ExitCode::FAILURE;
    }
    print!("{}", report.markdown());
    println!(
        "\nWrote {0}/programs.json and {0}/programs.md in {1:.0} s.",
        out.display(),
        report.elapsed_seconds
    );
    ExitCode::SUCCESS
}
