#!/usr/bin/env bash
# Gradescope runs this once, in /autograder/source, when it builds the autograder's image:
# it installs a C compiler and the Rust toolchain where missing (Rust 1.95.0, which the kit's
# rust-toolchain.toml pins), builds the kit's grader into source/bin/, and builds the starter
# once so that submissions reuse its dependencies.
# AUTOGRADER_ROOT (default /autograder) moves everything, for tests.
set -euo pipefail
root="${AUTOGRADER_ROOT:-/autograder}"
src="$root/source"

if ! command -v cc >/dev/null || ! command -v make >/dev/null || ! command -v curl >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq build-essential curl ca-certificates
fi
export PATH="$HOME/.cargo/bin:/usr/local/cargo/bin:$PATH"
if ! command -v cargo >/dev/null; then
  # Under /usr/local, open to every user: where the container forbids namespaces, the grader
  # builds submissions as a user of their own, which must reach the toolchain.
  export RUSTUP_HOME=/usr/local/rustup CARGO_HOME=/usr/local/cargo
  curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs |
    sh -s -- -y --profile minimal --default-toolchain 1.95.0 --no-modify-path
fi

cd "$src/kit"
cargo build --release --locked --quiet -p grader -p faults
mkdir -p "$src/bin"
cp "${CARGO_TARGET_DIR:-$src/kit/target}/release/grader" "$src/bin/grader"
# The fault-injection library the grader preloads is looked for beside it.
cp "${CARGO_TARGET_DIR:-$src/kit/target}/release/libipclab_faults.so" "$src/bin/"
# The grader builds every submission offline against the starter's dependencies, vendored
# from Cargo's cache: fetch them now, while the network is there.
(cd "$src/kit/starter" && cargo fetch --locked --quiet)
# Nothing of the autograder is for the submission's eyes: the grader (root) reads it, the
# submission's build and programs (users of their own) cannot.
chmod -R go-rwx "$src"
