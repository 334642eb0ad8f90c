//! IPC Lab's grader: builds an implementation of the assignments, runs its programs as real
//! processes, and reports what works and why not.
//!
//! The core — [`run`] (processes), [`leaks`] (IPC objects left behind), [`outcome`] (verdicts),
//! [`grade`], [`report`], [`build`] — knows nothing about any one assignment; each assignment
//! is a module of [`assignments`] that declares its checks with the vocabulary of [`check`].

pub mod assignments;
pub mod batch;
pub mod build;
pub mod check;
pub mod confine;
pub mod doctor;
pub mod expect;
pub mod faults;
pub mod grade;
pub mod ipc;
pub mod isolation;
pub mod leaks;
pub mod message;
#[cfg(feature = "instructor")]
pub mod mutants;
pub mod needs;
pub mod outcome;
pub mod probe;
pub mod procfs;
pub mod report;
pub mod reproduce;
pub mod run;
pub mod sandbox;
pub mod shapes;
pub mod spent;
pub mod starter;
pub mod stream;
pub mod stuck;
mod sys;
pub mod users;
#[cfg(feature = "instructor")]
pub mod validate;

pub use sys::IpcKind;
