//! IPC Lab's bench: the lesson's copy-versus-map experiment (lesson §7–9), measured on the
//! machine it runs on. See README "Benchmarks" and `specs/bench.md`.
//!
//! - `channel`: the mechanisms under test, each a two-way channel between two processes;
//! - `measure`: one measurement (fork, pin, warm up, time), and the limits (memcpy, futex);
//! - `run`: the plan (every measurement repeated, repetitions interleaved) and the summary;
//! - `report`: records, crossovers, `results.json` and `results.md`; `plot`: `plot.svg`;
//! - `programs`: `--programs DIR`, the assignments' programs timed against their probes;
//! - `sys`: the system calls `nix` does not wrap; the only module with `unsafe`.

pub mod channel;
pub mod measure;
pub mod plot;
pub mod programs;
pub mod report;
pub mod run;
pub mod sys;

pub use report::Results;
pub use run::{Config, run};
