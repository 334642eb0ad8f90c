//! The `sysv-shm` assignment: see `specs/sysv-shm.md`.
//!
//! Three programs on SysV shared memory (lesson §10–14, §18–21):
//!
//! - `svshm-demo`: the lesson's shmdemo — a string left in a segment keyed by `ftok`, read back
//!   by a later process, destroyed by `remove` (module [`demo`], spec §3);
//! - `svshm-counter`: forked workers add to a counter under a process-shared mutex that lives in
//!   the segment (module [`counter`], spec §4);
//! - `svshm-producer` / `svshm-consumer`: a byte stream moved in rounds through a ring in a
//!   segment, with a mutex and two condition variables in its header (module [`transfer`],
//!   spec §5).
//!
//! The system calls are wrapped in [`sysv_shm`] (`ftok`, `shmget`, `shmat`, `shmdt`, `shmctl`)
//! and [`pshared_mutex`] (`pthread_mutex_*`, `pthread_cond_*`); their return codes are converted
//! in [`cvt`].
//!
//! **Where to start:** read `specs/sysv-shm.md` §2–3, then write the wrappers of [`sysv_shm`]
//! (§2.6) and Part 1, `svshm-demo`, in [`demo`] (§3.2: `write`). `make grade A=sysv-shm` shows
//! what passes so far.

pub mod cli;
pub mod counter;
pub mod cvt;
pub mod demo;
pub mod exit;
pub mod pshared_mutex;
pub mod sysv_shm;
pub mod transfer;

pub use exit::{Failure, main_with};
