//! The `pipes` assignment: see `specs/pipes.md`.
