//! The pipe programs: `pipeline` against `sh -c`, `relay cat` against a plain pipe.

use super::*;

/// `pipeline` against `sh -c`, `relay cat` against a plain pipe.
pub(super) fn pipes(config: &Config, input: &Path) -> io::Result<Vec<Row>> {
    let bytes = config.stream_bytes as f64;
    let pipeline = |words: &[&str], stdin: Stdio| {
        timed(|| {
            let child = program(config, "pipeline")
                .args(words)
                .stdin(stdin)
                .spawn()?;
            Ok(vec![("pipeline".into(), child, 0)])
        })
    };
    let shell = |line: &str, stdin: Stdio| {
        timed(|| {
            let child = Command::new("sh")
                .args(["-c", line])
                .stdin(stdin)
                .stdout(Stdio::null())
                .spawn()?;
            Ok(vec![("sh".into(), child, 0)])
        })
    };
    let mut stream = Vec::new();
    let mut start_up = Vec::new();
    let mut relay = Vec::new();
    const STARTS: usize = 20;
    for _ in 0..config.reps {
        let a = pipeline(&["cat", "|", "cat"], File::open(input)?.into())?;
        let b = shell("cat | cat", File::open(input)?.into())?;
        stream.push((a.wall, b.wall, a.wall / b.wall, a.cpu / b.cpu));
        let (mut a, mut b) = (0.0, 0.0);
        for _ in 0..STARTS {
            a += pipeline(&["/bin/true", "|", "/bin/true"], Stdio::null())?.wall;
            b += shell("/bin/true | /bin/true", Stdio::null())?.wall;
        }
        start_up.push((a / STARTS as f64, b / STARTS as f64, a / b, f64::NAN));
        let r = timed(|| {
            let child = program(config, "relay")
                .arg("cat")
                .stdin(File::open(input)?)
                .spawn()?;
            Ok(vec![("relay".into(), child, 0)])
        })?;
        let p = plain_pipe(input)?;
        relay.push((
            bytes / r.wall / 1e9,
            bytes / p.wall / 1e9,
            p.wall / r.wall,
            p.cpu / r.cpu,
        ));
    }
    Ok(vec![
        row(
            "pipes",
            "pipeline cat | cat, the stream",
            "sh -c 'cat | cat', the same stream",
            "s",
            &stream,
            Goal::AtMost(1.1),
            "not pinned",
        ),
        row(
            "pipes",
            "pipeline /bin/true | /bin/true",
            "sh -c '/bin/true | /bin/true'",
            "s",
            &start_up,
            Goal::None,
            "not pinned",
        ),
        row(
            "pipes",
            "relay cat, the stream",
            "cat | cat, the same stream",
            "GB/s",
            &relay,
            Goal::AtLeast(0.5),
            "not pinned",
        ),
    ])
}
