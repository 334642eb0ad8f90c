//! A run as a report shows it to be typed again: its environment, its words, what its stdin
//! was and what the files its words name were when it started (an empty key file, a FIFO, a
//! file of data), so that [`crate::reproduce`] can write a recipe that works after the
//! grading's temporary folders are gone. Paths are rewritten for display only ([`Display`]).

use std::os::unix::fs::{FileExt, FileTypeExt};
use std::path::Path;

use super::{Input, Output, Spec, shell_quote};
use crate::faults;

/// How many first bytes of a file of data a recipe shows.
const HEAD: usize = 16;

/// What a run read on stdin, as a recipe can say it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stdin {
    /// `/dev/null`.
    Null,
    /// `n` zero bytes.
    Zeros(u64),
    /// These bytes (a few: `printf` shows them).
    Bytes(Vec<u8>),
    /// This many bytes the check made (too many to show).
    Made(usize),
    /// `grader stream --seed SEED --len LEN`, upper-cased if `upper`.
    Stream {
        /// The generator's seed.
        seed: u64,
        /// Its length.
        len: u64,
        /// Whether the bytes were upper-cased (`tr a-z A-Z`).
        upper: bool,
        /// Whether the bytes were mapped some other way (said in words).
        mapped: bool,
    },
    /// A regular file: its path (if known), length and first bytes.
    File {
        /// Where it was.
        path: Option<String>,
        /// Its length.
        len: u64,
        /// Its first bytes.
        head: Vec<u8>,
    },
    /// A pipe (or another descriptor) the check fed.
    Pipe,
}

/// What a path a run names was when the run started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Made {
    /// Nothing there yet: the program makes it.
    Missing,
    /// An empty file (a key file for `ftok`).
    Empty,
    /// A FIFO.
    Fifo,
    /// A folder.
    Dir,
    /// A file of `len` bytes beginning with `head`.
    Data {
        /// Its length.
        len: u64,
        /// Its first bytes.
        head: Vec<u8>,
    },
}

/// A run's command, structured for display.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shown {
    /// Variables set in front of the command (fault injection included).
    pub env: Vec<(String, String)>,
    /// The program, then its arguments.
    pub words: Vec<String>,
    /// Its stdin.
    pub stdin: Stdin,
    /// The paths under its working folder that its words name, and what each was.
    pub files: Vec<(String, Made)>,
    /// Its working folder (the check's own).
    pub cwd: String,
    /// Where its stdout went, when to a file (`/dev/null`, a file runs shared): its path, or
    /// `cwd/stdout` for a file with no name left.
    pub stdout: Option<String>,
}

/// Display rewrites of path prefixes: a word equal to `from`, or starting with `from/`, shows
/// `to` (shell text, not quoted again) in place of `from`.
#[derive(Debug, Clone, Default)]
pub struct Display {
    /// `(from, to)`, tried in order.
    pub rewrites: Vec<(String, String)>,
    /// `(word, to)`: a word equal to `word` shows `to`, before any rewrite of a prefix.
    pub exact: Vec<(String, String)>,
    /// How a recipe names the grader (for `grader stream`).
    pub grader: String,
}

impl Display {
    /// `word` as shell text, its path prefix rewritten.
    pub fn word(&self, word: &str) -> String {
        if let Some((_, to)) = self.exact.iter().find(|(w, _)| w == word) {
            return to.clone();
        }
        for (from, to) in &self.rewrites {
            if word == from {
                return to.clone();
            }
            if let Some(rest) = word.strip_prefix(from.as_str())
                && let Some(rest) = rest.strip_prefix('/')
            {
                return format!("{to}/{}", shell_quote(rest));
            }
        }
        shell_quote(word)
    }

    /// Whether `word` is rewritten.
    pub fn rewrites(&self, word: &str) -> bool {
        self.rewrites.iter().any(|(from, _)| {
            word == from
                || word
                    .strip_prefix(from.as_str())
                    .is_some_and(|r| r.starts_with('/'))
        })
    }
}

impl Spec {
    /// The run, structured for a recipe; looks at its stdin file and at the files its words
    /// name under its working folder (cheap: a `stat` and a few bytes each).
    pub fn shown(&self) -> Shown {
        let faults = self.faults.map(|f| {
            f.env(
                Path::new(faults::LIBRARY),
                self.program.parent().unwrap_or(Path::new("/")),
            )
        });
        let env = self
            .env
            .iter()
            .chain(faults.iter().flatten())
            .map(|(k, v)| {
                (
                    k.to_string_lossy().into_owned(),
                    v.to_string_lossy().into_owned(),
                )
            })
            .collect();
        let words: Vec<String> = std::iter::once(self.program.as_os_str())
            .chain(self.args.iter().map(|a| a.as_os_str()))
            .map(|w| w.to_string_lossy().into_owned())
            .collect();
        let cwd = self.cwd.to_string_lossy().into_owned();
        let mut files: Vec<(String, Made)> = Vec::new();
        for word in &words[1..] {
            let inside = word
                .strip_prefix(cwd.as_str())
                .is_some_and(|r| r.starts_with('/') && r.len() > 1);
            if inside && !files.iter().any(|(p, _)| p == word) {
                files.push((word.clone(), made(Path::new(word))));
            }
        }
        let stdin = match &self.stdin {
            Input::Null => Stdin::Null,
            Input::Zeros(n) => Stdin::Zeros(*n),
            Input::Bytes(b) if b.len() <= 256 => Stdin::Bytes(b.clone()),
            Input::Bytes(b) => Stdin::Made(b.len()),
            Input::Stream(st) => {
                let all: Vec<u8> = (0..=255u8).map(st.map).collect();
                let same = all.iter().enumerate().all(|(i, &b)| b == i as u8);
                let upper = all
                    .iter()
                    .enumerate()
                    .all(|(i, &b)| b == (i as u8).to_ascii_uppercase());
                Stdin::Stream {
                    seed: st.seed,
                    len: st.len,
                    upper: upper && !same,
                    mapped: !same && !upper,
                }
            }
            Input::File(f) => file_stdin(f),
            Input::Held => Stdin::Pipe,
        };
        let stdout = match &self.stdout {
            Output::File(f) => file_path(f).map(|p| match p.strip_suffix(" (deleted)") {
                Some(_) => format!("{cwd}/stdout"),
                None => p,
            }),
            _ => None,
        };
        Shown {
            env,
            words,
            stdin,
            files,
            cwd,
            stdout,
        }
    }
}

/// What is at `path` now.
fn made(path: &Path) -> Made {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return Made::Missing;
    };
    let kind = meta.file_type();
    if kind.is_fifo() {
        Made::Fifo
    } else if kind.is_dir() {
        Made::Dir
    } else if meta.len() == 0 {
        Made::Empty
    } else {
        let head = std::fs::File::open(path)
            .map(|f| first_bytes(&f, meta.len()))
            .unwrap_or_default();
        Made::Data {
            len: meta.len(),
            head,
        }
    }
}

fn first_bytes(file: &std::fs::File, len: u64) -> Vec<u8> {
    let mut head = vec![0u8; HEAD.min(len as usize)];
    // `read_at` leaves the file's offset where the run will start reading.
    match file.read_at(&mut head, 0) {
        Ok(n) => {
            head.truncate(n);
            head
        }
        Err(_) => Vec::new(),
    }
}

/// The path of an open regular file or device (`/dev/null`), if it has one.
fn file_path(file: &std::fs::File) -> Option<String> {
    use std::os::fd::AsRawFd;
    let path = std::fs::read_link(format!("/proc/self/fd/{}", file.as_raw_fd())).ok()?;
    let path = path.to_string_lossy().into_owned();
    path.starts_with('/').then_some(path)
}

fn file_stdin(file: &std::fs::File) -> Stdin {
    let Ok(meta) = file.metadata() else {
        return Stdin::Pipe;
    };
    if !meta.file_type().is_file() {
        return Stdin::Pipe;
    }
    let path = file_path(file);
    Stdin::File {
        path,
        len: meta.len(),
        head: first_bytes(file, meta.len()),
    }
}

/// `bytes` as the body of a `printf '…'` format.
pub fn printf_text(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|&c| match c {
            b'\\' => "\\\\".to_string(),
            b'%' => "%%".to_string(),
            b' '..=b'~' if c != b'\'' => (c as char).to_string(),
            _ => format!("\\{c:03o}"),
        })
        .collect()
}

/// The line that makes (or, failing that, describes) a file of data the check made: a file
/// written from a stream is made again by `grader stream`.
fn data_file(display: &Display, path: &str, shown: &str, len: u64, head: &[u8]) -> String {
    match crate::stream::written(Path::new(path), len) {
        Some(seed) => format!(
            "{} stream --seed {seed} --len {len} > {shown}",
            display.grader
        ),
        None => format!(
            "# {shown}: a file of {len} bytes the check made, starting {}",
            hex(head)
        ),
    }
}

/// Bytes as hex pairs, for "starting 6c 1f …".
pub fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A recipe's lines for one run: what to make first (each line once per path, `made` tracks
/// it), then the command.
pub struct Rendered {
    /// Lines that make the files its words name (`touch`, `mkfifo`, …).
    pub setup: Vec<String>,
    /// The command line.
    pub line: String,
}

impl Shown {
    /// The run's recipe under `display`; `seen` holds the paths already made by earlier lines.
    pub fn render(&self, display: &Display, seen: &mut Vec<String>) -> Rendered {
        let mut setup = Vec::new();
        let mut touch = Vec::new();
        let mut fifo = Vec::new();
        for (path, made) in &self.files {
            if seen.contains(path) {
                continue;
            }
            seen.push(path.clone());
            let shown = display.word(path);
            match made {
                Made::Missing => {}
                Made::Empty => touch.push(shown),
                Made::Fifo => fifo.push(shown),
                Made::Dir => setup.push(format!("mkdir -p {shown}")),
                Made::Data { len, head } => {
                    setup.push(data_file(display, path, &shown, *len, head));
                }
            }
        }
        if !touch.is_empty() {
            setup.insert(0, format!("touch {}", touch.join(" ")));
        }
        if !fifo.is_empty() {
            setup.insert(0, format!("mkfifo {}", fifo.join(" ")));
        }
        let mut words: Vec<String> = self
            .env
            .iter()
            .map(|(k, v)| format!("{k}={}", display.word(v)))
            .collect();
        words.extend(self.words.iter().map(|w| display.word(w)));
        let mut command = words.join(" ");
        match self.stdout.as_deref() {
            Some("/dev/null") => command.push_str(" > /dev/null"),
            // Runs that share one file append to it in turn.
            Some(path) => command.push_str(&format!(" >> {}", display.word(path))),
            None => {}
        }
        let line = match &self.stdin {
            Stdin::Null => format!("{command} < /dev/null"),
            Stdin::Zeros(n) => format!("head -c {n} /dev/zero | {command}"),
            Stdin::Bytes(b) => format!("printf '{}' | {command}", printf_text(b)),
            Stdin::Made(n) => format!("{command}  # stdin: {n} bytes the check made"),
            Stdin::Stream {
                seed,
                len,
                upper,
                mapped,
            } => {
                let tr = if *upper { " | tr a-z A-Z" } else { "" };
                let note = if *mapped {
                    "  # stdin: these bytes, each mapped by the check"
                } else {
                    ""
                };
                format!(
                    "{} stream --seed {seed} --len {len}{tr} | {command}{note}",
                    display.grader
                )
            }
            Stdin::File {
                path: Some(path),
                len,
                head,
            } => {
                let shown = display.word(path);
                if !seen.contains(path) {
                    seen.push(path.clone());
                    setup.push(data_file(display, path, &shown, *len, head));
                }
                format!("{command} < {shown}")
            }
            Stdin::File {
                path: None, len, ..
            } => {
                format!("{command}  # stdin: a file of {len} bytes the check made")
            }
            Stdin::Pipe => format!("{command}  # stdin: a pipe the check wrote to as it went"),
        };
        Rendered { setup, line }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn display() -> Display {
        Display {
            rewrites: vec![
                ("/tmp/progs/a".into(), "./target/release".into()),
                ("/tmp/grading/check-x".into(), "/tmp/ipclab-c".into()),
            ],
            grader: "../target/release/grader".into(),
            ..Default::default()
        }
    }

    #[test]
    fn paths_are_rewritten_and_files_made_once() {
        let shown = Shown {
            env: vec![("K".into(), "a b".into())],
            words: vec![
                "/tmp/progs/a/server".into(),
                "--key".into(),
                "/tmp/grading/check-x/key 1".into(),
                "/tmp/grading/check-x/fifo".into(),
            ],
            stdin: Stdin::Stream {
                seed: 7,
                len: 100,
                upper: false,
                mapped: false,
            },
            files: vec![
                ("/tmp/grading/check-x/key 1".into(), Made::Empty),
                ("/tmp/grading/check-x/fifo".into(), Made::Fifo),
            ],
            cwd: "/tmp/grading/check-x".into(),
            stdout: None,
        };
        let mut seen = Vec::new();
        let r = shown.render(&display(), &mut seen);
        assert_eq!(
            r.setup,
            ["mkfifo /tmp/ipclab-c/fifo", "touch /tmp/ipclab-c/'key 1'"]
        );
        assert_eq!(
            r.line,
            "../target/release/grader stream --seed 7 --len 100 | K='a b' \
             ./target/release/server --key /tmp/ipclab-c/'key 1' /tmp/ipclab-c/fifo"
        );
        let again = shown.render(&display(), &mut seen);
        assert!(again.setup.is_empty(), "{:?}", again.setup);
    }

    #[test]
    fn a_stdin_file_is_named_with_its_length_and_first_bytes() {
        let shown = Shown {
            env: vec![],
            words: vec!["/bin/cat".into()],
            stdin: Stdin::File {
                path: Some("/tmp/grading/check-x/in".into()),
                len: 4096,
                head: vec![0x6c, 0x1f],
            },
            files: vec![],
            cwd: "/tmp/grading/check-x".into(),
            stdout: None,
        };
        let r = shown.render(&display(), &mut Vec::new());
        assert_eq!(
            r.setup,
            ["# /tmp/ipclab-c/in: a file of 4096 bytes the check made, starting 6c 1f"]
        );
        assert_eq!(r.line, "/bin/cat < /tmp/ipclab-c/in");
    }

    /// A file the check wrote from a stream is made again by `grader stream`, byte for byte.
    #[test]
    fn a_stdin_file_written_from_a_stream_is_made_by_grader_stream() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("input");
        crate::stream::Stream::new(7, 5000)
            .write_file(&input)
            .unwrap();
        let path = input.to_string_lossy().into_owned();
        let shown = Shown {
            env: vec![],
            words: vec!["/bin/cat".into()],
            stdin: Stdin::File {
                path: Some(path.clone()),
                len: 5000,
                head: vec![],
            },
            files: vec![],
            cwd: dir.path().to_string_lossy().into_owned(),
            stdout: None,
        };
        let display = display();
        let r = shown.render(&display, &mut Vec::new());
        assert_eq!(
            r.setup,
            [format!(
                "{} stream --seed 7 --len 5000 > {path}",
                display.grader
            )]
        );
        // A file of another length when the run started is only described.
        let shown = Shown {
            stdin: Stdin::File {
                path: Some(path.clone()),
                len: 5,
                head: vec![],
            },
            ..shown
        };
        let r = shown.render(&display, &mut Vec::new());
        assert!(r.setup[0].starts_with('#'), "{:?}", r.setup);
    }

    #[test]
    fn a_spec_records_what_its_words_name() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("key");
        std::fs::write(&key, b"").unwrap();
        let data = dir.path().join("data");
        std::fs::write(&data, b"hello").unwrap();
        let gone = dir.path().join("gone");
        let spec = Spec::new("/bin/true", dir.path()).args([&key, &data, &gone, &key]);
        let shown = spec.shown();
        let s = |p: &Path| p.to_string_lossy().into_owned();
        assert_eq!(
            shown.files,
            [
                (s(&key), Made::Empty),
                (
                    s(&data),
                    Made::Data {
                        len: 5,
                        head: b"hello".to_vec()
                    }
                ),
                (s(&gone), Made::Missing),
            ]
        );
        let upper = Spec::new("/bin/true", dir.path())
            .stdin(Input::Stream(
                crate::stream::Stream::new(3, 9).mapped(crate::stream::upper),
            ))
            .shown();
        assert_eq!(
            upper.stdin,
            Stdin::Stream {
                seed: 3,
                len: 9,
                upper: true,
                mapped: false
            }
        );
    }
}
