//! The `msgq` assignment: see `specs/msgq.md`.
