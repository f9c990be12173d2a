# native-sync — see README.md. Every target installs what it needs itself.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
VPY := $(VENV)/bin/python
IMAGE ?= native-sync:dev
PLATFORM ?=
SRC ?= examples/project
PYTEST_ARGS ?=
# unison built from pinned source with our patches (unison/build.sh, unison/patches/),
# and unison's own OCaml fsmonitor as unison-fsmonitor-ocaml (a benchmark peer).
# First on PATH for every target, so the engine (UNISON_BIN=unison) and the tests use it.
UNISON_PREFIX := build/unison
export PATH := $(CURDIR)/$(UNISON_PREFIX)/bin:$(PATH)

.PHONY: deps docker-deps system-deps unison unison-stock image run test test-unit test-engine test-docker lint bench fuzz clean

# --- dependencies -----------------------------------------------------------
$(VENV)/.installed: requirements.txt requirements-dev.txt pyproject.toml
	$(PY) -m venv $(VENV)
	$(VPY) -m pip install -q --disable-pip-version-check -r requirements-dev.txt
	$(VPY) -m pip install -q --disable-pip-version-check --no-deps -e .
	touch $@

system-deps:
	@bash scripts/system-deps.sh

unison: system-deps
	@bash unison/build.sh --fsmonitor $(UNISON_PREFIX)

# The stock release with its OCaml fsmonitor, for the benchmarks' comparisons
# (bench/saves.py; tests/test_unison_build.py builds it itself when needed).
unison-stock: system-deps
	@bash unison/build.sh --stock --fsmonitor build/unison-stock

# The drift verifier's helper: every host folder's signature in one run (engine/fsmonitor/treesig.py).
TREESIG := $(UNISON_PREFIX)/bin/native-sync-treesig
$(TREESIG): helpers/treesig.c | unison
	@mkdir -p $(@D)
	cc -O2 -Wall -Wextra -Werror -o $@ $<

deps: system-deps unison $(TREESIG) $(VENV)/.installed

docker-deps:
	@bash scripts/ensure-docker.sh

# --- checks -------------------------------------------------------------------
lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/hadolint Dockerfile
	$(VENV)/bin/actionlint .github/workflows/*.yml

test: deps docker-deps
	$(VPY) -m pytest $(PYTEST_ARGS)

test-unit: deps
	$(VPY) -m pytest -m "not engine and not docker" $(PYTEST_ARGS)

test-engine: deps
	$(VPY) -m pytest -m engine $(PYTEST_ARGS)

test-docker: deps docker-deps
	$(VPY) -m pytest -m docker $(PYTEST_ARGS)

# --- the long fuzz (issue 18; tests/fuzz/, README "Fuzzing") -------------------------
# make fuzz [FUZZ_SECONDS=1800] [FUZZ_STEPS=5000] [FUZZ_SEED=n] [FUZZ_UNISON_BIN=path] [FUZZ_SHRINK=0]
# Stops at whichever bound comes first; writes fuzz-report.json (seeds, steps, time).
FUZZ_SECONDS ?= 1800
FUZZ_STEPS ?=
fuzz: deps
	FUZZ_SECONDS="$(FUZZ_SECONDS)" FUZZ_STEPS="$(FUZZ_STEPS)" \
		$(VPY) -m pytest tests/test_fuzz.py -k long -p no:cacheprovider -s $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build

# --- the image (scripts/build-image.sh, docs/using-the-image.md) -----------------
# make image [IMAGE=name:tag] [PLATFORM=linux/arm64]   build it (default: the engine's
#                               platform; wheels downloaded on the host into build/wheels)
# make run [SRC=folder]         build if needed, start a sync container on SRC
# Neither installs anything nor starts dockerd when `docker info` answers (any user).
image:
	@PLATFORM="$(PLATFORM)" bash scripts/build-image.sh "$(IMAGE)"

run: image
	@bash scripts/run-image.sh "$(IMAGE)" "$(SRC)"

# --- benchmarks (issue 5; bench/, docs/benchmarks.md) ------------------------------
# make bench                  quick set (10k files), ~20 min on 2 cores, the scale section's quick look included
# BENCH=full make bench       adds 100k files, 60 s idle window; big trees at 100k/200k/400k (issue 13);
#                             the scale section at 10k/100k/400k on tmpfs (issue 24, ~75 min of it)
# SCALE_SIZES=10k,100k SCALE_RESUME=1 SCALE_PEERS=none|ocaml,ocaml-stock: the scale section
#                             (python -m bench.scale alone; --estimate prints its runtime; SCALE_SIZES=none skips it)
# BENCH_PEER_FSMONITOR=path   also unison -repeat watch with that unison-fsmonitor
# Writes bench/results.json and docs/benchmarks.md; fails (after writing them) when a measurement failed.
bench: deps unison-stock
	$(VPY) -m bench
