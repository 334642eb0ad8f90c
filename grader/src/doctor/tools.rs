//! `grader doctor`'s tools: `cargo` and `rustc` against the kit's Rust, `cc`, `ipcs` and
//! `ipcrm`, and the isolation `make grade` will get.

use std::process::Command;

use super::{Finding, Level, Probe};

/// The oldest Rust the kit builds with: the root `Cargo.toml`'s `rust-version`.
fn rust_version_needed() -> &'static str {
    match env!("CARGO_PKG_RUST_VERSION") {
        "" => "1.95",
        v => v,
    }
}

/// `(major, minor, patch)` of the first word of `text` that starts with a digit: "cargo 1.95.0
/// (f2d3ce0bd 2026-03-21)" gives (1, 95, 0).
pub fn parse_version(text: &str) -> Option<(u32, u32, u32)> {
    let word = text
        .split_whitespace()
        .find(|w| w.starts_with(|c: char| c.is_ascii_digit()))?;
    let mut parts = word.split(['.', '-', '+']).map(|p| p.parse::<u32>().ok());
    let major = parts.next()??;
    let minor = parts.next().flatten().unwrap_or(0);
    let patch = parts.next().flatten().unwrap_or(0);
    Some((major, minor, patch))
}

/// The first line `program ARG` prints, or why it could not run.
fn first_line(program: &str, arg: &str) -> Result<String, String> {
    match Command::new(program).arg(arg).output() {
        Ok(out) if out.status.success() => {
            let text = String::from_utf8_lossy(&out.stdout);
            Ok(text.lines().next().unwrap_or("").trim().to_string())
        }
        Ok(out) => Err(format!("`{program} {arg}` exited with {}", out.status)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err("not found".into()),
        Err(e) => Err(e.to_string()),
    }
}

/// The Rust the kit pins (`rust-toolchain.toml` at the kit's root; `grader/tests/toolchain.rs`
/// keeps the two in step): the toolchain the grader builds submissions with.
pub const PINNED_RUST: &str = "1.95.0";

/// What `doctor` says of a toolchain program's `--version` line: fail below the oldest Rust
/// the kit builds with (`need`), warn below the pinned one (`pin`).
fn toolchain_finding(line: &str, need: &str, pin: &str) -> Finding {
    let fix = format!("install Rust {pin}: rustup toolchain install {pin} (https://rustup.rs)");
    match (parse_version(line), parse_version(need), parse_version(pin)) {
        (Some(have), Some(want), _) if have < want => Finding::bad(
            Level::Fail,
            format!("{line}: the kit needs Rust {need} or later (Cargo.toml)"),
            fix,
        ),
        (Some(have), _, Some(pinned)) if have < pinned => Finding::bad(
            Level::Warn,
            format!(
                "{line}: older than the kit's pinned Rust {pin} (rust-toolchain.toml), which \
                 the grader builds submissions with"
            ),
            fix,
        ),
        (Some(_), _, _) => Finding::ok(format!(
            "{line} (the kit pins {pin} in rust-toolchain.toml, needs {need} or later)"
        )),
        (None, _, _) => Finding::bad(
            Level::Fail,
            format!("{line}: no version in it; the kit needs Rust {need} or later"),
            fix,
        ),
    }
}

pub(super) fn tools() -> Vec<Finding> {
    let need = rust_version_needed();
    let mut found = Vec::new();
    for program in ["cargo", "rustc"] {
        found.push(match first_line(program, "--version") {
            Ok(line) => toolchain_finding(&line, need, PINNED_RUST),
            Err(e) => Finding::bad(
                Level::Fail,
                format!("{program}: {e}"),
                format!(
                    "install Rust {PINNED_RUST}: rustup toolchain install {PINNED_RUST} \
                     (https://rustup.rs)"
                ),
            ),
        });
    }
    found.push(match first_line("cc", "--version") {
        Ok(line) => Finding::ok(format!(
            "cc: {line} (links the grader and the faults library)"
        )),
        Err(e) => Finding::bad(
            Level::Fail,
            format!("cc: {e}: Rust links every program with the C compiler"),
            "install gcc (Debian/Ubuntu: sudo apt install gcc; Fedora: sudo dnf install gcc)",
        ),
    });
    for program in ["ipcs", "ipcrm"] {
        found.push(match first_line(program, "-V") {
            Ok(line) => Finding::ok(line),
            Err(e) => Finding::bad(
                Level::Warn,
                format!("{program}: {e}: the grader's hints and this report name its commands"),
                "install util-linux (Debian/Ubuntu: sudo apt install util-linux)",
            ),
        });
    }
    found
}

/// Which isolation `make grade` will get, and how to get full isolation if it will not.
pub(super) fn isolation(probe: &Probe, me: u32) -> Finding {
    let what = format!("make grade will grade in {}", probe.isolation);
    if probe.namespaces {
        Finding::ok(what)
    } else if me != 0 {
        Finding::bad(
            Level::Warn,
            format!("{what}: grade one thing at a time"),
            "for full isolation grade as root: sudo -E env \"PATH=$PATH\" make grade",
        )
    } else {
        Finding::bad(
            Level::Warn,
            format!("{what}: new namespaces are not permitted here; grade one thing at a time"),
            "grade where root may create namespaces (a container needs CAP_SYS_ADMIN)",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compare_by_number() {
        assert_eq!(
            parse_version("cargo 1.95.0 (f2d3ce0bd 2026-03-21)"),
            Some((1, 95, 0))
        );
        assert_eq!(parse_version("rustc 1.100.2-nightly"), Some((1, 100, 2)));
        assert_eq!(parse_version("1.95"), Some((1, 95, 0)));
        assert!(parse_version("1.100.0").unwrap() > parse_version("1.95").unwrap());
        assert_eq!(parse_version("cargo"), None);
    }

    #[test]
    fn toolchains_older_than_the_pin_are_warned_of() {
        let level = |line: &str| toolchain_finding(line, "1.95", "1.95.2").level;
        assert_eq!(level("rustc 1.94.1 (x 2026-01-01)"), Level::Fail);
        assert_eq!(level("rustc 1.95.0 (x 2026-04-14)"), Level::Warn);
        assert_eq!(level("cargo 1.95.2 (x 2026-05-01)"), Level::Ok);
        assert_eq!(level("rustc 1.96.0 (x 2026-06-01)"), Level::Ok);
        assert_eq!(level("rustc nonsense"), Level::Fail);
    }
}
