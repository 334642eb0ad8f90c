//! One convention across the student crates: the files every crate is given complete and that
//! must be the same everywhere are copies, byte for byte, of one source (README, "Conventions
//! of an assignment crate"). Each crate stays self-contained for its students; this test keeps
//! the copies equal. It reads files and spawns nothing.

mod common;

use std::path::Path;

/// A file shared by several crates: its name under `src/`, the crate of `solution/` that holds
/// the source, and the crates that must have a copy (any other crate that has a file of that
/// name must have a copy too).
struct Shared {
    file: &'static str,
    source: &'static str,
    required: &'static [&'static str],
}

const SHARED: &[Shared] = &[
    Shared {
        file: "cvt.rs",
        source: "sysv-shm",
        required: &["msgq", "sysv-shm", "posix-shm", "semaphores", "seg-pool"],
    },
    Shared {
        file: "exit.rs",
        source: "sysv-shm",
        required: &["sysv-shm", "posix-shm", "semaphores"],
    },
];

/// The crates of a workspace: its folders holding a `Cargo.toml`.
fn crates(workspace: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(workspace)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("Cargo.toml").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn shared_files_are_copies_of_their_source() {
    let kit = common::kit();
    let mut wrong = Vec::new();
    for shared in SHARED {
        let source_path = kit
            .join("solution")
            .join(shared.source)
            .join("src")
            .join(shared.file);
        let source = std::fs::read(&source_path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", source_path.display()));
        for workspace in ["solution", "starter"] {
            for name in crates(&kit.join(workspace)) {
                let rel = format!("{workspace}/{name}/src/{}", shared.file);
                match std::fs::read(kit.join(&rel)) {
                    Ok(copy) if copy == source => {}
                    Ok(_) => wrong.push(format!(
                        "{rel} differs from solution/{}/src/{}",
                        shared.source, shared.file
                    )),
                    Err(_) if shared.required.contains(&name.as_str()) => wrong.push(format!(
                        "{rel} is missing (a copy of solution/{}/src/{})",
                        shared.source, shared.file
                    )),
                    Err(_) => {}
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "shared files out of step (copy the source over them):\n{}",
        wrong.join("\n")
    );
}
