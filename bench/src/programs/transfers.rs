//! The shared-memory transfers against the bench's own rings of the same size.

use super::*;

/// Bytes of the memcpy that shows what one copy out of the caches costs.
pub(super) const COLD: usize = 64 << 20;

/// The two shared-memory transfers and the bench's own rings of the same size.
pub(super) fn transfers(
    config: &Config,
    scratch: &Scratch,
    input: &Path,
    allowed: &[usize],
) -> io::Result<Vec<Row>> {
    let bytes = config.stream_bytes as f64;
    let ring = config.ring.to_string();
    let key = scratch.key("key-svshm")?;
    let sysv = || {
        timed(|| {
            let consumer = program(config, "svshm-consumer")
                .args([key.as_os_str(), "1".as_ref(), ring.as_ref()])
                .spawn()?;
            let producer = program(config, "svshm-producer")
                .args([key.as_os_str(), "1".as_ref(), ring.as_ref()])
                .stdin(File::open(input)?)
                .spawn()?;
            Ok(vec![
                ("svshm-consumer".into(), consumer, 0),
                ("svshm-producer".into(), producer, 0),
            ])
        })
    };
    let name = format!("/ipclab-bench-programs-{}", std::process::id());
    let posix = || {
        timed(|| {
            let recv = program(config, "pshm-recv")
                .args(["--ring", &ring, &name])
                .spawn()?;
            let send = program(config, "pshm-send")
                .args(["--ring", &ring, &name])
                .stdin(File::open(input)?)
                .spawn()?;
            Ok(vec![
                ("pshm-recv".into(), recv, 0),
                ("pshm-send".into(), send, 0),
            ])
        })
    };
    // The bench's ring: two slots of half the ring each, one process per CPU and both on one,
    // messages that start in a private buffer; its best run over every placement and rep.
    let limits = Limits::read();
    let slot = (config.ring / 2).max(1);
    let messages = (config.stream_bytes / slot).clamp(8, 4000);
    let mut cpus = vec![Cpus {
        a: allowed[0],
        b: allowed[0],
    }];
    if let Some(&b) = allowed.get(1) {
        cpus.push(Cpus { a: allowed[0], b });
    }
    let mut rows = Vec::new();
    for (assignment, label, mechanism, run) in [
        (
            "sysv-shm",
            format!("svshm-producer | svshm-consumer, DATA_SIZE {ring}"),
            Mechanism::SysvShmOnce,
            &sysv as &dyn Fn() -> io::Result<Run>,
        ),
        (
            "posix-shm",
            format!("pshm-send | pshm-recv, --ring {ring}"),
            Mechanism::PosixShmOnce,
            &posix,
        ),
    ] {
        let mut vs_pipe = Vec::new();
        let mut ring_best: f64 = 0.0;
        let mut copy_best: f64 = 0.0;
        let mut ring_cold_best: f64 = 0.0;
        let mut programs = Vec::new();
        for _ in 0..config.reps {
            let (a, b) = (run()?, plain_pipe(input)?);
            let (program, pipe) = (bytes / a.wall / 1e9, bytes / b.wall / 1e9);
            vs_pipe.push((program, pipe, program / pipe, b.cpu / a.cpu));
            programs.push(program);
            for &c in &cpus {
                let sample = measure::stream(mechanism, slot, messages, 2, c, limits)?;
                ring_best = ring_best.max(slot as f64 / sample.wall / 1e9);
                let sample = measure::stream_from(mechanism, slot, COLD, messages, 2, c, limits)?;
                ring_cold_best = ring_cold_best.max(slot as f64 / sample.wall / 1e9);
            }
            // One copy of a stream that does not fit in the caches, as the producer's `read`
            // from the page cache must make.
            let copy = measure::memcpy(COLD, 3, allowed[0])?;
            copy_best = copy_best.max(COLD as f64 / copy.wall / 1e9);
            measure::unpin(allowed)?;
        }
        rows.push(row(
            assignment,
            &label,
            "cat | cat, the same stream",
            "GB/s",
            &vs_pipe,
            Goal::AtLeast(3.0),
            "not pinned",
        ));
        let vs_ring: Vec<_> = programs
            .iter()
            .map(|&p| (p, ring_best, p / ring_best, f64::NAN))
            .collect();
        rows.push(row(
            assignment,
            &label,
            &format!(
                "the bench's {} ring, messages from a buffer in the caches, best run",
                mechanism.name()
            ),
            "GB/s",
            &vs_ring,
            Goal::AtLeast(0.5),
            "not pinned; ring pinned",
        ));
        let vs_cold: Vec<_> = programs
            .iter()
            .map(|&p| (p, ring_cold_best, p / ring_cold_best, f64::NAN))
            .collect();
        rows.push(row(
            assignment,
            &label,
            &format!(
                "the bench's {} ring, messages from 64 MiB (out of the caches), best run",
                mechanism.name()
            ),
            "GB/s",
            &vs_cold,
            Goal::AtLeast(0.5),
            "not pinned; ring pinned",
        ));
        let vs_copy: Vec<_> = programs
            .iter()
            .map(|&p| (p, copy_best, p / copy_best, f64::NAN))
            .collect();
        rows.push(row(
            assignment,
            &label,
            "memcpy of 64 MiB (out of the caches), best run",
            "GB/s",
            &vs_copy,
            Goal::None,
            "not pinned; memcpy pinned",
        ));
    }
    Ok(rows)
}
