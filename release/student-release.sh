#!/usr/bin/env bash
# `make student-release DEST=dir`: writes the repository students receive into DEST.
#
# DEST gets: starter/ (the workspace students edit), the grader without its mutants, hidden
# checks (the `instructor` feature is turned off and `hidden.*` left out), snapshots or tests,
# the bench, specs/, and the student Makefile, README, .gitignore and CI workflow from
# release/student/. Never solution/. DEST must be absent or empty.
set -euo pipefail
kit="$(cd "$(dirname "$0")/.." && pwd)"
dest="${1:?usage: student-release.sh DEST}"
if [ -e "$dest" ] && [ -n "$(ls -A "$dest")" ]; then
  echo "student-release: $dest is not empty; remove it or choose another DEST" >&2
  exit 2
fi
mkdir -p "$dest"
dest="$(cd "$dest" && pwd)"

# Copies folders of the kit into DEST, without build output or editor leftovers.
copy() {
  tar -C "$kit" --exclude=target --exclude='*.snap.new' --exclude='*.pending-snap' -cf - "$@" |
    tar -C "$dest" -xf -
}
copy starter specs bench faults grader Cargo.toml Cargo.lock

# The grader: no tests of the kit, no mutants, no hidden checks.
rm -rf "$dest/grader/tests" "$dest/grader/src/report/snapshots" "$dest/bench/tests"
find "$dest/grader/src/assignments" \( -name mutants.toml -o -name 'hidden.*' \) -delete
rm "$dest/grader/src/mutants.rs" "$dest/grader/src/validate.rs"
sed -i 's/^default = \["instructor"\]$/default = []/' "$dest/grader/Cargo.toml"
grep -qx 'default = \[\]' "$dest/grader/Cargo.toml" || {
  echo "student-release: could not turn the instructor feature off in grader/Cargo.toml" >&2
  exit 1
}

cp "$kit/release/student/Makefile" "$dest/Makefile"
cp "$kit/release/student/README.md" "$dest/README.md"
cp "$kit/release/student/gitignore" "$dest/.gitignore"
mkdir -p "$dest/.github/workflows"
cp "$kit/release/student/grade.yml" "$dest/.github/workflows/grade.yml"

# Last line of defence: nothing of the solution, the mutants or the hidden checks.
leaks="$(cd "$dest" && { ls -d solution 2>/dev/null; find . -name mutants.toml; find grader/src/assignments -name 'hidden.*'; grep -rl --include='*.rs' '^ *// BEGIN SOLUTION' starter || true; })"
if [ -n "$leaks" ]; then
  echo "student-release: these must not ship: $leaks" >&2
  exit 1
fi
echo "student-release: wrote $dest"
