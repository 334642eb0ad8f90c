//! The `posix-shm` assignment: see `specs/posix-shm.md`.
