//! The `pipes` assignment: a byte stream from one process to another (lesson §4–5).
//!
//! Two programs, specified in `specs/pipes.md`:
//! - `pipeline` runs commands connected by pipes, like `sh -c 'a | b | c'` (§2);
//! - `relay` feeds its input to a filter through one pipe and reads the filter's output back
//!   through another, without deadlocking however much data flows (§3).
//!
//! The system calls live in [`pipe`]; the two programs are [`pipeline`] and [`relay`].
//!
//! **Where to start:** read `specs/pipes.md` §2.1, then write [`pipeline::parse`] (the first
//! check, `usage-errors`, needs only it); next the wrappers of [`pipe`] (§2.2–2.3) and
//! [`pipeline::run`]. `make grade A=pipes` shows what passes so far.

pub mod pipe;
pub mod pipeline;
pub mod relay;
