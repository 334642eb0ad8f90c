# IPC Lab. `make grade` grades starter/ (your work); `make test` runs the kit's own tests.
#
#   make grade                      grade starter/, every assignment
#   make grade IMPL=solution        grade another folder shaped like starter/
#   make grade A=pipes              one assignment
#   make grade JSON=results.json    also write Gradescope's results.json
#   make check-solution             grade solution/; fails unless it has full marks
#   make starter                    regenerate starter/ from solution/'s marked regions
#   make validate-grader            every mutant against every check, as a table
#   make test                       the kit's tests (lint, starter drift, grader, mutants)
#   make bench                      the copy-versus-map experiment on this machine (specs/bench.md)
#   make bench QUICK=1 OUT=dir      fewer sizes and runs (~15 s); results into dir

IMPL ?= starter
A ?=
JSON ?=
SCALE ?= 1
QUICK ?=
OUT ?= target/bench

# The grader and, beside it, the fault-injection library it preloads (crate `faults`).
GRADER := cargo build --release --quiet -p grader -p faults && cargo run --release --quiet -p grader --
GRADE_FLAGS := $(if $(A),-a $(A)) $(if $(JSON),--json $(JSON)) --time-scale $(SCALE)

.PHONY: grade check-solution starter test lint bench validate-grader

grade:
	$(GRADER) grade $(IMPL) $(GRADE_FLAGS)

check-solution:
	$(GRADER) grade solution --require-full $(GRADE_FLAGS)

starter:
	$(GRADER) starter

# Every mutant against every check of its assignment, as a table; fails if a mutant passes
# everything or a check it names, or if some check fails no mutant.
validate-grader:
	$(GRADER) validate $(if $(A),-a $(A)) --time-scale $(SCALE)

lint:
	cargo fmt --all --check
	cargo clippy --release --all-targets -- -D warnings
	cd solution && cargo fmt --all --check
	cd solution && cargo clippy --release --all-targets -- -D warnings
	cd starter && RUSTFLAGS="-D warnings" cargo build --release --quiet

test: lint
	$(GRADER) starter --check
	cargo test --release

bench:
	cargo run --release --quiet -p bench -- --out $(OUT) $(if $(QUICK),--quick)
