//! The `sysv-shm` assignment: see `specs/sysv-shm.md`.
