//! The `seg-pool` assignment: see `specs/seg-pool.md`.
//!
//! A pool of SysV shared-memory segments whose identifiers travel on a SysV message queue
//! (lesson §19–21): the server creates SEGMENTS segments of SEG_SIZE bytes and puts their
//! identifiers on the queue, the free list; a client takes one (blocking while every segment
//! is in use), fills it with a chunk of its standard input and sends the identifier back with
//! the chunk's length; the server writes the chunk to its standard output and puts the
//! identifier back on the free list.
//!
//! Modules, one per facility: [`cvt`] (C return conventions), [`msg`] (message queues and
//! `ftok`), [`sysv_shm`] (shared-memory segments), [`alarm`] (the interval timer that bounds
//! the server's waits), [`proto`] (the messages, to the byte), [`cli`] (command lines, exit
//! statuses and messages; given complete).
//!
//! **Where to start:** read `specs/seg-pool.md` §1–2, then write the wrappers of [`msg`] and
//! [`sysv_shm`] (§2.4), then [`proto`] (§2.3), the server (§3) and the client (§4).
//! `make grade A=seg-pool` shows what passes so far.

pub mod alarm;
pub mod cli;
pub mod client;
pub mod cvt;
pub mod msg;
pub mod proto;
pub mod server;
pub mod sysv_shm;
