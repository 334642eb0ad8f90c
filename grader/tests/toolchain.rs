//! One Rust everywhere: `rust-toolchain.toml`'s channel is the version `grader doctor` checks
//! against, the one Gradescope's setup installs and the one both workflows use.

mod common;

#[test]
fn one_pinned_rust_everywhere() {
    let kit = common::kit();
    let read = |path: &str| std::fs::read_to_string(kit.join(path)).unwrap();
    let pin = read("rust-toolchain.toml");
    let channel = pin
        .lines()
        .find_map(|l| l.strip_prefix("channel = "))
        .map(|v| v.trim_matches('"'))
        .expect("a channel in rust-toolchain.toml");
    assert_eq!(channel, grader::doctor::PINNED_RUST);
    for component in ["rustfmt", "clippy"] {
        assert!(pin.contains(&format!("\"{component}\"")), "no {component}");
    }
    assert!(pin.contains("profile = \"minimal\""));
    assert!(
        read("release/gradescope/setup.sh").contains(&format!("--default-toolchain {channel} ")),
        "setup.sh installs another Rust"
    );
    assert!(
        read("release/student/grade.yml").contains(&format!("rustup toolchain install {channel} ")),
        "the students' workflow installs another Rust"
    );
    // The kit's workflow installs what rust-toolchain.toml names.
    assert!(
        read(".github/workflows/ci.yml").contains("rustup toolchain install --profile minimal")
    );
    // Cargo.toml's oldest Rust is not newer than the pin.
    let cargo = read("Cargo.toml");
    let oldest = cargo
        .lines()
        .find_map(|l| l.strip_prefix("rust-version = "))
        .map(|v| v.trim_matches('"'))
        .unwrap();
    assert!(
        channel.starts_with(oldest),
        "rust-version {oldest}, pin {channel}"
    );
}
