//! The `msgq` assignment: see `specs/msgq.md`.
//!
//! A request/response protocol on one SysV message queue (lesson §5, §15–17): a server
//! ([`server`]) and any number of clients ([`client`]) agree on the queue through
//! `ftok(path, id)`; requests are typed 1 (urgent) or 2 (normal) and the server takes the
//! lowest type first with a negative `msgtyp`; each reply is typed with the client's pid.
//! Bulk data moves through a SysV shared-memory segment in rounds, synchronised by
//! "ready"/"ok" messages on the same queue (lesson §15, §21).
//!
//! Modules, one per facility: [`cvt`] (C return conventions), [`msg`] (message queues and
//! `ftok`), [`sysv_shm`] (shared-memory segments), [`alarm`] (signals and the interval timer
//! that bounds blocking calls), [`proto`] (the wire format), [`cli`] (command lines).
//!
//! **Where to start:** read `specs/msgq.md` §1–2, then write [`cli`]'s parsing of the server's
//! command line (§1.1) and the wrappers of [`msg`] (§2); the server and the client come next.
//! `make grade A=msgq` shows what passes so far.

pub mod alarm;
pub mod cli;
pub mod client;
pub mod cvt;
pub mod msg;
pub mod proto;
pub mod server;
pub mod sysv_shm;
