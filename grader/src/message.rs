//! The grader's sentences for people: status words, the shape of reasons and details, and the
//! escaping that keeps a program's output from playing tricks on a terminal or a report.

/// Indents text as a block of a report, escaping control characters, at most 40 lines.
pub fn block(text: &str) -> String {
    const MAX_LINES: usize = 40;
    let mut lines: Vec<String> = text
        .lines()
        .take(MAX_LINES)
        .map(|l| format!("    {}", escape(l)))
        .collect();
    let total = text.lines().count();
    if total > MAX_LINES {
        lines.push(format!("    … ({} more lines)", total - MAX_LINES));
    }
    if lines.is_empty() {
        lines.push("    (empty)".into());
    }
    lines.join("\n")
}

/// Escapes control characters (other than tab) as `\xNN`, so that output shown in a report
/// cannot move the cursor, change colours or hide text.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() && c != '\t' {
            out.push_str(&format!("\\x{:02x}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// [`escape`] line by line: the line breaks stay, every other control character is escaped
/// (for details, which are several lines).
pub fn escape_lines(text: &str) -> String {
    text.split('\n').map(escape).collect::<Vec<_>>().join("\n")
}

/// [`escape`] for bytes that may not be UTF-8 (a `/dev/shm` name, a command name): the
/// invalid bytes too become `\xNN`, so that what is shown names the bytes exactly.
pub fn escape_bytes(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        out.push_str(&escape(chunk.valid()));
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

/// Whether [`escape_bytes`] shows `bytes` as they are (valid UTF-8 without control
/// characters other than tab).
pub fn is_plain(bytes: &[u8]) -> bool {
    std::str::from_utf8(bytes).is_ok_and(|s| escape(s) == s)
}

/// "timed out after 5 s".
pub fn timed_out(limit: std::time::Duration) -> String {
    format!("timed out after {} s", fmt_secs(limit))
}

/// "stuck: nothing could move after 1.2 s (limit 5 s)".
pub fn stuck(after: std::time::Duration, limit: std::time::Duration) -> String {
    format!(
        "stuck: nothing could move after {} s (limit {} s)",
        fmt_secs(after),
        fmt_secs(limit)
    )
}

/// Seconds with at most one decimal, "5" or "2.5".
pub fn fmt_secs(d: std::time::Duration) -> String {
    let s = d.as_secs_f64();
    if (s - s.round()).abs() < 0.05 {
        format!("{}", s.round() as u64)
    } else {
        format!("{s:.1}")
    }
}

/// The hint after every leak.
pub const LEAK_HINT: &str = "IPC objects outlive the processes that made them until they are \
removed (lesson §10–12, §18): remove them on every exit path, as the spec says who must.";

/// The block listing files a check's programs left outside their folder (in `/tmp`, say),
/// which the grader removed.
pub fn strays(paths: &[std::path::PathBuf]) -> String {
    let mut text = String::from("WRITTEN OUTSIDE ITS FOLDER (the grader removed them):\n");
    for path in paths.iter().take(20) {
        text.push_str(&format!("    {}\n", escape(&path.display().to_string())));
    }
    if paths.len() > 20 {
        text.push_str(&format!("    … ({} more)\n", paths.len() - 20));
    }
    text
}

/// The prefix of a check whose verdict changed between the runs of `--repeat`.
pub fn flaky(failed: usize, runs: usize) -> String {
    format!("failed {failed} of {runs} runs:")
}

/// The reason of a check whose stub still panics with `todo!()`.
pub fn not_implemented(todo: &str) -> String {
    if todo.is_empty() {
        "not implemented".into()
    } else {
        format!("not implemented ({todo})")
    }
}

/// The hint of a check that timed out while one of its processes was running on a CPU.
pub const SPINNING_HINT: &str = "a process was running on a CPU when the time was up, not \
waiting for anything: a loop that never ends, or one that polls instead of blocking in a read, \
a wait or a semaphore";

/// Quotes one word for a POSIX shell, leaving plain words as they are.
pub fn shell_quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./=:,+@%".contains(&b));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(escape("a\x1b[31mb\tc\r"), "a\\x1b[31mb\tc\\x0d");
    }

    #[test]
    fn lines_stay_lines() {
        assert_eq!(escape_lines("a\x1b\nb\r\n"), "a\\x1b\nb\\x0d\n");
    }

    #[test]
    fn bytes_that_are_not_utf8_are_escaped_too() {
        assert_eq!(
            escape_bytes(b"a\x1b[2J\xff\xfe\xc3\xa9\t"),
            "a\\x1b[2J\\xff\\xfe\u{e9}\t"
        );
        assert!(is_plain("é\t".as_bytes()) && !is_plain(b"\xff") && !is_plain(b"\x07"));
    }

    #[test]
    fn long_blocks_are_cut() {
        let text = (0..50)
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
            .join("\n");
        let b = block(&text);
        assert!(b.ends_with("… (10 more lines)"));
        assert_eq!(block(""), "    (empty)");
    }
}
