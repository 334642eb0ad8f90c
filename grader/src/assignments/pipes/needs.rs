//! What pipes' checks need of the machine's IPC limits: nothing (specs/pipes.md: pipes are
//! no IPC object with a limit of its own); see [`crate::needs`].

use crate::needs::Needs;

pub fn needs() -> Needs {
    Needs::default()
}
