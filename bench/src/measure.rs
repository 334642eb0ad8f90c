//! One measurement: the bench and a forked child, each pinned to a CPU, exchange messages over
//! a channel and the bench times the exchange with the monotonic clock. Every measurement
//! starts with untimed warm-up messages, so each slot, buffer and page has been touched once
//! before the clock starts (what is left per message is the mechanism's own cost).

use std::io;
use std::sync::atomic::Ordering;
use std::time::Instant;

use nix::sched::CpuSet;
use nix::sys::wait::WaitStatus;
use nix::unistd::Pid;

use crate::channel::{Channel, End, Limits, Mechanism, PageBuf, SLOTS, Side};
use crate::sys;

/// Where the two processes of a measurement run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Placement {
    /// Both on one CPU: a handoff is a context switch on that CPU.
    SameCpu,
    /// On two CPUs: a handoff wakes the other CPU (an inter-processor interrupt, and on a
    /// virtual machine possibly the hypervisor waking an idle vCPU).
    CrossCpu,
}

impl Placement {
    pub fn name(self) -> &'static str {
        match self {
            Placement::SameCpu => "same-cpu",
            Placement::CrossCpu => "cross-cpu",
        }
    }
}

impl serde::Serialize for Placement {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

/// The CPUs a measurement pins the bench (`a`) and the child (`b`) to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cpus {
    pub a: usize,
    pub b: usize,
}

/// The CPUs this process may run on (`sched_getaffinity`), in order.
pub fn allowed_cpus() -> io::Result<Vec<usize>> {
    let set = nix::sched::sched_getaffinity(Pid::from_raw(0))?;
    Ok((0..CpuSet::count())
        .filter(|&cpu| set.is_set(cpu).unwrap_or(false))
        .collect())
}

/// `sched_setaffinity(0, {cpu})`—Pins the calling process to one CPU.
pub fn pin(cpu: usize) -> io::Result<()> {
    let mut set = CpuSet::new();
    set.set(cpu)?;
    nix::sched::sched_setaffinity(Pid::from_raw(0), &set)?;
    Ok(())
}

/// Restores the CPUs the process may run on to `cpus`.
pub fn unpin(cpus: &[usize]) -> io::Result<()> {
    let mut set = CpuSet::new();
    for &cpu in cpus {
        set.set(cpu)?;
    }
    nix::sched::sched_setaffinity(Pid::from_raw(0), &set)?;
    Ok(())
}

/// The watchdog's limit for one measurement: far above any measurement's length.
const WATCHDOG_SECONDS: u32 = 60;

/// Length of the acknowledgement that ends a throughput measurement.
const ACK: usize = 1;

/// What one measurement saw, per operation (a round trip, a message, a copy).
#[derive(Clone, Copy, Debug)]
pub struct Sample {
    /// Wall-clock seconds.
    pub wall: f64,
    /// CPU seconds of both processes (user and system), which another process taking the CPU
    /// does not inflate.
    pub cpu: f64,
}

/// Runs `parent` in this process on `cpus.a` and `child` in a forked child on `cpus.b`. Each
/// returns the CPU time it spent in the timed part; `parent` also the wall time and the number
/// of operations timed. Returns the sample once the child has exited with status 0.
fn with_child(
    cpus: Cpus,
    child: impl FnOnce() -> io::Result<f64>,
    parent: impl FnOnce() -> io::Result<(f64, f64, usize)>,
) -> io::Result<Sample> {
    let report = sys::SharedControl::create([0; 4])?;
    pin(cpus.a)?;
    let pid = sys::fork_child(|| {
        if pin(cpus.b).is_err() {
            return 3;
        }
        match child() {
            Ok(cpu) => {
                report
                    .child_cpu_ns
                    .store((cpu * 1e9) as u64, Ordering::SeqCst);
                0
            }
            Err(_) => 4,
        }
    })?;
    sys::set_current_child(pid.as_raw());
    sys::watchdog(WATCHDOG_SECONDS);
    let result = parent();
    sys::watchdog(0);
    if result.is_err() {
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::SIGKILL);
    }
    let status = loop {
        match nix::sys::wait::waitpid(pid, None) {
            Err(nix::errno::Errno::EINTR) => continue,
            other => break other?,
        }
    };
    sys::set_current_child(0);
    let (wall, cpu, n) = result?;
    match status {
        WaitStatus::Exited(_, 0) => {
            let child_cpu = report.child_cpu_ns.load(Ordering::SeqCst) as f64 * 1e-9;
            Ok(Sample {
                wall: wall / n as f64,
                cpu: (cpu + child_cpu) / n as f64,
            })
        }
        other => Err(io::Error::other(format!(
            "the child process failed: {other:?}"
        ))),
    }
}

/// Wall and CPU time since `wall` and `cpu` were read.
fn elapsed(wall: Instant, cpu: f64) -> (f64, f64) {
    (wall.elapsed().as_secs_f64(), sys::cpu_time() - cpu)
}

/// A message of `len` bytes to send, page-aligned and already faulted in.
fn message(len: usize) -> PageBuf {
    PageBuf::new(len, 0x5a)
}

/// Seconds per round trip of a `size`-byte message and its `size`-byte answer (`n` timed,
/// `warm` untimed before).
pub fn round_trip(
    mechanism: Mechanism,
    size: usize,
    n: usize,
    warm: usize,
    cpus: Cpus,
    limits: Limits,
) -> io::Result<Sample> {
    let channel = Channel::create(mechanism, size, size, limits)?;
    let mut a = channel.end(Side::A, size)?;
    let mut b = channel.end(Side::B, size)?;
    let data_a = message(size);
    let data_b = message(size);
    with_child(
        cpus,
        || {
            let mut sum = 0;
            let mut cpu = 0.0;
            for i in 0..warm + n {
                if i == warm {
                    cpu = sys::cpu_time();
                }
                b.recv(size, &mut sum)?;
                b.send(data_b.bytes())?;
            }
            Ok(sys::cpu_time() - cpu)
        },
        || {
            let mut sum = 0;
            let mut exchange = |a: &mut Box<dyn End + '_>| -> io::Result<()> {
                a.send(data_a.bytes())?;
                a.recv(size, &mut sum)
            };
            for _ in 0..warm {
                exchange(&mut a)?;
            }
            let (wall, cpu) = (Instant::now(), sys::cpu_time());
            for _ in 0..n {
                exchange(&mut a)?;
            }
            let (wall, cpu) = elapsed(wall, cpu);
            Ok((wall, cpu, n))
        },
    )
}

/// Seconds per message when streaming `n` messages of `size` bytes one way (after `warm`
/// untimed ones), from the first send to the receiver's acknowledgement of the last.
pub fn stream(
    mechanism: Mechanism,
    size: usize,
    n: usize,
    warm: usize,
    cpus: Cpus,
    limits: Limits,
) -> io::Result<Sample> {
    stream_from(mechanism, size, size, n, warm, cpus, limits)
}

/// [`stream`], the messages cut in turn from a private source of `source` bytes (rounded down
/// to whole messages, at least one): with a source larger than the caches every message is
/// copied out of memory, as a program reading a large stream from the page cache must.
pub fn stream_from(
    mechanism: Mechanism,
    size: usize,
    source: usize,
    n: usize,
    warm: usize,
    cpus: Cpus,
    limits: Limits,
) -> io::Result<Sample> {
    let warm = warm.max(SLOTS);
    let pieces = (source / size.max(1)).max(1);
    let channel = Channel::create(mechanism, size, ACK.max(64), limits)?;
    let mut a = channel.end(Side::A, ACK)?;
    let mut b = channel.end(Side::B, size)?;
    let data = message(size * pieces);
    let piece = |i: usize| &data.bytes()[(i % pieces) * size..][..size];
    let ack = message(ACK);
    with_child(
        cpus,
        || {
            let mut sum = 0;
            for _ in 0..warm {
                b.recv(size, &mut sum)?;
            }
            b.send(ack.bytes())?;
            let cpu = sys::cpu_time();
            for _ in 0..n {
                b.recv(size, &mut sum)?;
            }
            b.send(ack.bytes())?;
            Ok(sys::cpu_time() - cpu)
        },
        || {
            let mut sum = 0;
            for i in 0..warm {
                a.send(piece(i))?;
            }
            a.recv(ACK, &mut sum)?;
            let (wall, cpu) = (Instant::now(), sys::cpu_time());
            for i in warm..warm + n {
                a.send(piece(i))?;
            }
            a.recv(ACK, &mut sum)?;
            let (wall, cpu) = elapsed(wall, cpu);
            Ok((wall, cpu, n))
        },
    )
}

/// Seconds per round trip of the futex ping-pong: the cheapest blocking handoff there is, one
/// `FUTEX_WAKE` and one `FUTEX_WAIT` each way, no data.
pub fn futex_round_trip(n: usize, warm: usize, cpus: Cpus) -> io::Result<Sample> {
    let control = sys::SharedControl::create([0; 4])?;
    let turn = &control.turn;
    with_child(
        cpus,
        || {
            let mut cpu = 0.0;
            for i in 0..warm + n {
                if i == warm {
                    cpu = sys::cpu_time();
                }
                while turn.load(Ordering::Acquire) == 0 {
                    sys::futex_wait(turn, 0);
                }
                turn.store(0, Ordering::Release);
                sys::futex_wake(turn);
            }
            Ok(sys::cpu_time() - cpu)
        },
        || {
            let ping = || {
                turn.store(1, Ordering::Release);
                sys::futex_wake(turn);
                while turn.load(Ordering::Acquire) == 1 {
                    sys::futex_wait(turn, 1);
                }
            };
            for _ in 0..warm {
                ping();
            }
            let (wall, cpu) = (Instant::now(), sys::cpu_time());
            for _ in 0..n {
                ping();
            }
            let (wall, cpu) = elapsed(wall, cpu);
            Ok((wall, cpu, n))
        },
    )
}

/// Seconds per `memcpy` of `size` bytes between two private buffers on CPU `cpu`: the one copy
/// that any transfer into another address space must make at least. One process, so the wall
/// time is the CPU time unless another process takes the CPU meanwhile.
pub fn memcpy(size: usize, n: usize, cpu: usize) -> io::Result<Sample> {
    pin(cpu)?;
    let src = message(size);
    let mut dst = PageBuf::new(size, 0);
    for _ in 0..2 {
        dst.bytes_mut()
            .copy_from_slice(std::hint::black_box(src.bytes()));
    }
    let (wall, cpu) = (Instant::now(), sys::cpu_time());
    for _ in 0..n {
        dst.bytes_mut()
            .copy_from_slice(std::hint::black_box(src.bytes()));
        std::hint::black_box(&mut dst);
    }
    let (wall, cpu) = elapsed(wall, cpu);
    Ok(Sample {
        wall: wall / n as f64,
        cpu: cpu / n as f64,
    })
}
