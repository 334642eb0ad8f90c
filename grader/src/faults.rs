//! Fault injection into a student's program: the `faults` crate of the kit's workspace builds
//! `libipclab_faults.so`, which the grader preloads (`LD_PRELOAD`) into a run that asks for it
//! ([`crate::run::Spec::with_faults`]), so that `read` and `write` return short counts and
//! `EINTR`, and blocking IPC calls `EINTR`, where POSIX allows (see `faults/src/lib.rs`).
//! Only the programs under the student's binary folder get faults, not the filters they run.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// The library's file name.
pub const LIBRARY: &str = "libipclab_faults.so";

/// Which faults, how often.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Faults {
    /// The probability of a fault per eligible call.
    pub rate: f64,
    /// The generator's seed (mixed with each process's pid).
    pub seed: u64,
    /// Which calls: any of `read`, `write`, `msgrcv`, `msgsnd`, `semop`, `sem_wait`,
    /// `waitpid`.
    pub calls: &'static [&'static str],
    /// Milliseconds every successful `ftruncate` sleeps before returning (0: none): a
    /// creator held between sizing a shared object and marking it initialised.
    pub ftruncate_sleep_ms: u32,
}

impl Faults {
    /// Short counts and EINTR on `read` and `write`, and EINTR on every blocking call, a
    /// quarter of the time.
    pub fn all(seed: u64) -> Faults {
        Faults {
            rate: 0.25,
            seed,
            calls: &[
                "read", "write", "msgrcv", "msgsnd", "semop", "sem_wait", "waitpid",
            ],
            ftruncate_sleep_ms: 0,
        }
    }

    /// No failures; every successful `ftruncate` sleeps `ms` milliseconds.
    pub fn slow_ftruncate(ms: u32) -> Faults {
        Faults {
            rate: 0.0,
            seed: 1,
            calls: &[],
            ftruncate_sleep_ms: ms,
        }
    }

    /// The environment that turns them on in the programs under `only`.
    pub fn env(&self, library: &Path, only: &Path) -> Vec<(OsString, OsString)> {
        vec![
            ("LD_PRELOAD".into(), library.into()),
            ("IPCLAB_FAULTS_RATE".into(), self.rate.to_string().into()),
            ("IPCLAB_FAULTS_SEED".into(), self.seed.to_string().into()),
            ("IPCLAB_FAULTS_CALLS".into(), self.calls.join(",").into()),
            ("IPCLAB_FAULTS_ONLY".into(), only.into()),
            (
                "IPCLAB_FAULTS_FTRUNCATE_SLEEP_MS".into(),
                self.ftruncate_sleep_ms.to_string().into(),
            ),
        ]
    }
}

/// The library the checks preload, once the grading has its own copy ([`use_library`]).
static CHOSEN: std::sync::OnceLock<Option<PathBuf>> = std::sync::OnceLock::new();

/// Makes [`library`] answer `path` from now on: the grading's own copy, which the programs'
/// user can read wherever the kit lives.
pub fn use_library(path: Option<PathBuf>) {
    let _ = CHOSEN.set(path);
}

/// The library: the grading's copy if there is one ([`use_library`]), else the one next to
/// the grader's own binary (`cargo build --release` builds both), or in
/// the kit's `target/release` (for a grader run from elsewhere).
pub fn library() -> Option<PathBuf> {
    if let Some(chosen) = CHOSEN.get() {
        return chosen.clone();
    }
    let beside = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join(LIBRARY)));
    let kit = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(|root| root.join("target").join("release").join(LIBRARY));
    [beside, kit].into_iter().flatten().find(|p| p.is_file())
}
