//! What semaphores' checks need of the machine (`grader doctor` checks them; see
//! [`crate::needs`]).

use crate::needs::{Need, Needs};

pub fn needs() -> Needs {
    Needs {
        // specs/semaphores.md, checks `ring-order` and `ring-race-free-init`: one set of K = 8
        // (§3.2).
        sems_per_set: Need::new(8, "sem-ring's K = 8"),
        // specs/semaphores.md §3.2 and §4: one set at a time.
        sets: Need::new(1, "semaphores' one set"),
        ..Needs::default()
    }
}
