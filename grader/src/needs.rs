//! What an assignment's checks need of the machine's IPC limits, declared by the assignment
//! (`grader/src/assignments/NAME/needs.rs`, each value citing its handout) and read by the
//! core: `grader doctor` checks the limits of the IPC namespace grading will use against the
//! largest need of every assignment, and [`crate::isolation`] sizes the grading's private
//! `/dev/shm` from them. The core holds no number of any one assignment.

/// One need: an amount, and why, in the words of the doctor's report ("msgq's 8000-byte
/// texts"). The default is no need at all.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Need {
    pub amount: u64,
    pub why: &'static str,
}

impl Need {
    pub const fn new(amount: u64, why: &'static str) -> Need {
        Need { amount, why }
    }

    /// The larger of two needs (the first on a tie), with its reason.
    pub fn max(self, other: Need) -> Need {
        if other.amount > self.amount {
            other
        } else {
            self
        }
    }
}

/// What one check of an assignment holds at once, at most, or (`dev_shm_largest`) what its
/// handout allows a program to make. Every field defaults to no need.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Needs {
    /// The largest SysV message, text and header: `kernel.msgmax` and `msgmnb` hold it.
    pub message: Need,
    /// SysV message queues at once, under `kernel.msgmni`.
    pub queues: Need,
    /// The largest SysV segment in bytes: `kernel.shmmax`, and in pages under `shmall`.
    pub segment: Need,
    /// SysV segments at once, under `kernel.shmmni`.
    pub segments: Need,
    /// Semaphores in the largest set: `SEMMSL`, and free under `SEMMNS`.
    pub sems_per_set: Need,
    /// Semaphore sets at once, under `SEMMNI`.
    pub sets: Need,
    /// Bytes of `/dev/shm` the checks use at once (a `FAIL` below).
    pub dev_shm: Need,
    /// Bytes of `/dev/shm` the largest object the handout allows takes (a `WARN` below).
    pub dev_shm_largest: Need,
    /// Tasks (processes and threads) of the user one check adds, the grader's threads beside
    /// each process included.
    pub tasks: Need,
}

impl Needs {
    /// The largest of each need of `all`.
    pub fn most(all: impl IntoIterator<Item = Needs>) -> Needs {
        all.into_iter().fold(Needs::default(), |a, b| Needs {
            message: a.message.max(b.message),
            queues: a.queues.max(b.queues),
            segment: a.segment.max(b.segment),
            segments: a.segments.max(b.segments),
            sems_per_set: a.sems_per_set.max(b.sems_per_set),
            sets: a.sets.max(b.sets),
            dev_shm: a.dev_shm.max(b.dev_shm),
            dev_shm_largest: a.dev_shm_largest.max(b.dev_shm_largest),
            tasks: a.tasks.max(b.tasks),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_most_keeps_the_largest_need_and_its_reason() {
        let a = Needs {
            queues: Need::new(1, "a's queue"),
            sets: Need::new(2, "a's sets"),
            ..Needs::default()
        };
        let b = Needs {
            queues: Need::new(3, "b's queues"),
            sets: Need::new(2, "b's sets"),
            ..Needs::default()
        };
        let most = Needs::most([a, b]);
        assert_eq!(most.queues, Need::new(3, "b's queues"));
        assert_eq!(most.sets, Need::new(2, "a's sets"));
        assert_eq!(most.segment, Need::default());
        assert_eq!(Needs::most([]), Needs::default());
    }
}
