//! The `semaphores` assignment: see `specs/semaphores.md`.
