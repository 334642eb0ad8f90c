//! The pipes to and from a run: reads and writes that never outlast the run, and the threads
//! that drain stdout and stderr into a capture, a comparison, or a count.

use super::*;

/// One end of a pipe to the program, made non-blocking, whose reads and writes wait in `poll`
/// for at most [`IO_TICK`] at a time and give up once the run is `over`: a write then fails
/// as a broken pipe would (the feeder stops as when the program stops reading), a read ends
/// as at end-of-file once the pipe is empty, or [`DRAIN_AFTER_END`] after the end. No
/// thread of the grader waits on a pipe longer than the run lasts, whoever else holds it.
pub(super) struct Bounded<P> {
    pipe: P,
    over: Arc<AtomicBool>,
    ended_at: Option<Instant>,
}

impl<P: std::os::fd::AsFd> Bounded<P> {
    pub(super) fn new(pipe: P, over: Arc<AtomicBool>) -> Bounded<P> {
        use nix::fcntl::{FcntlArg, OFlag, fcntl};
        // The grader's end of the pipe is a file description of its own: the program's end
        // stays blocking.
        if let Ok(flags) = fcntl(pipe.as_fd(), FcntlArg::F_GETFL) {
            let flags = OFlag::from_bits_retain(flags) | OFlag::O_NONBLOCK;
            let _ = fcntl(pipe.as_fd(), FcntlArg::F_SETFL(flags));
        }
        Bounded {
            pipe,
            over,
            ended_at: None,
        }
    }

    /// Waits until the pipe is ready for `events` or [`IO_TICK`] has passed.
    fn tick(&self, events: nix::poll::PollFlags) {
        use nix::poll::{PollFd, PollTimeout, poll};
        let mut fds = [PollFd::new(self.pipe.as_fd(), events)];
        let ms = PollTimeout::try_from(IO_TICK.as_millis() as i32).unwrap_or(PollTimeout::MAX);
        let _ = poll(&mut fds, ms);
    }

    fn over(&self) -> bool {
        self.over.load(Ordering::Relaxed)
    }
}

impl<P: std::os::fd::AsFd + Write> Write for Bounded<P> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        loop {
            if self.over() {
                return Err(io::ErrorKind::BrokenPipe.into());
            }
            match self.pipe.write(buf) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.tick(nix::poll::PollFlags::POLLOUT)
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                other => return other,
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<P: std::os::fd::AsFd + Read> Read for Bounded<P> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.over() {
                let ended_at = *self.ended_at.get_or_insert_with(Instant::now);
                if ended_at.elapsed() > DRAIN_AFTER_END {
                    return Ok(0);
                }
            }
            match self.pipe.read(buf) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if self.over() {
                        return Ok(0);
                    }
                    self.tick(nix::poll::PollFlags::POLLIN)
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                other => return other,
            }
        }
    }
}

/// What a drain gives back: the capture, and the comparison when stdout was compared.
pub(super) type Drained = (Captured, Option<Option<Mismatch>>);

/// What [`drain`] does with the bytes.
pub(super) enum Sink {
    Capture,
    Compare(Stream),
    Count,
}

/// Reads a pipe to its end on a thread of its own: captured, compared with a stream, or only
/// counted.
pub(super) fn drain(mut pipe: impl Read + Send + 'static, sink: Sink) -> mpsc::Receiver<Drained> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut captured = Captured::default();
        let keep = matches!(sink, Sink::Capture);
        let mut comparer = match &sink {
            Sink::Compare(stream) => Some(Comparer::new(stream)),
            _ => None,
        };
        let mut buf = vec![0u8; crate::stream::CHUNK];
        loop {
            match pipe.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    captured.total += n as u64;
                    match comparer.as_mut() {
                        Some(c) => {
                            let _ = c.write_all(&buf[..n]);
                        }
                        None if keep => {
                            let room = OUTPUT_CAP.saturating_sub(captured.bytes.len());
                            captured.bytes.extend_from_slice(&buf[..n.min(room)]);
                        }
                        None => {}
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => break,
            }
        }
        let _ = tx.send((captured, comparer.map(Comparer::finish)));
    });
    rx
}
