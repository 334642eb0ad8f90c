//! Where a slow run's time went, read from its processes' CPU time: asleep (waiting for
//! something that came late), in the kernel (system calls and page faults: small reads and
//! writes, a mapping per round), or in the program's own code (copying bytes it need not
//! touch). A throughput check that fails shows these figures and the hint that fits them,
//! instead of one hint for every way of being slow.

use std::time::Duration;

use crate::run::Finished;

/// Where most of a slow run's time went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spent {
    /// Its processes used the CPU for less than a fifth of the time it took: they slept.
    Asleep,
    /// Most of their CPU time was in the kernel.
    Kernel,
    /// Most of their CPU time was in their own code.
    User,
}

/// The share of the wall time below which the processes of a run count as asleep. Low, so
/// that processes kept off the CPU by other work (waiting their turn, not sleeping) are not
/// taken for asleep: two programs sharing two CPUs with two busy loops still get about half.
const ASLEEP_BELOW: f64 = 0.2;

/// The share of the CPU time in the kernel from which a run counts as spent there.
const KERNEL_FROM: f64 = 0.5;

impl Spent {
    /// Where the time of `runs`, which together took `wall`, went.
    pub fn of(runs: &[&Finished], wall: Duration) -> Spent {
        let cpu: Duration = runs.iter().map(|r| r.cpu).sum();
        let kernel: Duration = runs.iter().map(|r| r.kernel).sum();
        if cpu.as_secs_f64() < ASLEEP_BELOW * wall.as_secs_f64() {
            Spent::Asleep
        } else if kernel.as_secs_f64() >= KERNEL_FROM * cpu.as_secs_f64() {
            Spent::Kernel
        } else {
            Spent::User
        }
    }
}

/// A check's hint for each way of being slow, in the words of its handout.
#[derive(Debug, Clone, Copy)]
pub struct SlowHints {
    /// For processes that mostly slept.
    pub asleep: &'static str,
    /// For time spent in system calls.
    pub kernel: &'static str,
    /// For time spent in the program's own code.
    pub user: &'static str,
}

impl SlowHints {
    /// The hint for `spent`.
    pub fn for_(&self, spent: Spent) -> &'static str {
        match spent {
            Spent::Asleep => self.asleep,
            Spent::Kernel => self.kernel,
            Spent::User => self.user,
        }
    }
}

/// The failure details of a slow run: each named process's CPU time and its share in the
/// kernel, the run's wall time, what that says, and the hint for it.
pub fn explain(runs: &[(&str, &Finished)], wall: Duration, hints: &SlowHints) -> String {
    let only: Vec<&Finished> = runs.iter().map(|(_, r)| *r).collect();
    let spent = Spent::of(&only, wall);
    let mut text = format!(
        "WHERE THE TIME WENT (the round measured took {} ms from start to end):\n",
        ms(wall)
    );
    for (name, run) in runs {
        text.push_str(&format!(
            "    {name}: {} ms of CPU, {:.0} % of it in the kernel\n",
            ms(run.cpu),
            100.0 * run.kernel.as_secs_f64() / run.cpu.as_secs_f64().max(1e-9)
        ));
    }
    text.push_str(match spent {
        Spent::Asleep => {
            "    so the processes slept for most of the time: they waited for something that \
             came late\n"
        }
        Spent::Kernel => {
            "    so most of the CPU time was spent in the kernel: system calls, page faults\n"
        }
        Spent::User => "    so most of the CPU time was spent in the programs' own code\n",
    });
    text.push_str(&format!("HINT: {}", hints.for_(spent)));
    text
}

fn ms(d: Duration) -> u128 {
    d.as_millis()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::{Captured, End};

    fn run(cpu_ms: u64, kernel_ms: u64) -> Finished {
        Finished {
            command: "prog".into(),
            end: End::Exited(0),
            timed_out: false,
            stuck: false,
            at_limit: Vec::new(),
            wall: Duration::ZERO,
            cpu: Duration::from_millis(cpu_ms),
            kernel: Duration::from_millis(kernel_ms),
            stdout: Captured::default(),
            stderr: Captured::default(),
            compared: None,
            leftovers: Vec::new(),
        }
    }

    const HINTS: SlowHints = SlowHints {
        asleep: "wake the peer",
        kernel: "read more at a time",
        user: "copy less",
    };

    #[test]
    fn processes_that_mostly_slept_are_asleep() {
        let (a, b) = (run(40, 36), run(40, 36));
        assert_eq!(
            Spent::of(&[&a, &b], Duration::from_millis(500)),
            Spent::Asleep
        );
    }

    #[test]
    fn busy_processes_are_judged_by_their_kernel_share() {
        let (a, b) = (run(400, 300), run(400, 250));
        assert_eq!(
            Spent::of(&[&a, &b], Duration::from_millis(500)),
            Spent::Kernel
        );
        let (a, b) = (run(400, 100), run(400, 50));
        assert_eq!(
            Spent::of(&[&a, &b], Duration::from_millis(500)),
            Spent::User
        );
    }

    #[test]
    fn the_explanation_shows_each_process_and_the_hint_that_fits() {
        let (a, b) = (run(40, 36), run(20, 10));
        let text = explain(
            &[("producer", &a), ("consumer", &b)],
            Duration::from_millis(800),
            &HINTS,
        );
        assert_eq!(
            text,
            "WHERE THE TIME WENT (the round measured took 800 ms from start to end):\n    \
             producer: 40 ms of CPU, 90 % of it in the kernel\n    \
             consumer: 20 ms of CPU, 50 % of it in the kernel\n    \
             so the processes slept for most of the time: they waited for something that came \
             late\nHINT: wake the peer"
        );
    }
}
