#!/usr/bin/env bash
# `make gradescope`: builds Gradescope's autograder zip (argument: the zip's path).
#
# The zip holds setup.sh and run_autograder (from release/gradescope/), the kit's grader with
# its hidden checks, the specs, the starter (setup.sh builds it once so that submissions reuse
# its dependencies) and the bench (a member of the grader's workspace), and protected.sha256:
# the checksums of the files students must not change (protected.txt), as the student release
# has them.
set -euo pipefail
kit="$(cd "$(dirname "$0")/../.." && pwd)"
zip_path="${1:?usage: build.sh ZIP}"
command -v zip >/dev/null || { echo "gradescope: needs zip (apt-get install zip)" >&2; exit 1; }
mkdir -p "$(dirname "$zip_path")"
zip_path="$(cd "$(dirname "$zip_path")" && pwd)/$(basename "$zip_path")"
stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT

mkdir -p "$stage/zip/kit"
# The mutants (mutants.toml, hidden.toml) are for the kit's own validation, not for grading:
# they stay out. The hidden checks' source is needed to build the grader; setup.sh makes the
# whole source folder root's alone once it is built.
tar -C "$kit" --exclude=target --exclude=tests --exclude=snapshots --exclude='*.snap.new' \
  --exclude=mutants.toml --exclude=hidden.toml \
  -cf - Cargo.toml Cargo.lock grader bench faults specs starter | tar -C "$stage/zip/kit" -xf -
cp "$kit/release/gradescope/setup.sh" "$kit/release/gradescope/run_autograder" "$stage/zip/"
chmod +x "$stage/zip/setup.sh" "$stage/zip/run_autograder"

"$kit/release/student-release.sh" "$stage/release" >/dev/null
(
  cd "$stage/release"
  shopt -s nullglob
  files=()
  while read -r pattern; do
    case "$pattern" in '' | '#'*) continue ;; esac
    # shellcheck disable=SC2206 # the pattern is a glob, meant to expand
    files+=($pattern)
  done <"$kit/release/gradescope/protected.txt"
  printf '%s\n' "${files[@]}" | sort -u | xargs sha256sum
) >"$stage/zip/protected.sha256"

rm -f "$zip_path"
(cd "$stage/zip" && zip -qr "$zip_path" .)
echo "gradescope: wrote $zip_path ($(wc -l <"$stage/zip/protected.sha256") protected files)"
