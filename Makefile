# native-sync — see README.md. Every target installs what it needs itself.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
VPY := $(VENV)/bin/python
IMAGE ?= native-sync:dev
SRC ?= examples/project
PYTEST_ARGS ?=

.PHONY: deps system-deps image run test test-unit test-engine test-docker lint bench clean

# --- dependencies -----------------------------------------------------------
$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PY) -m venv $(VENV)
	$(VPY) -m pip install -q --disable-pip-version-check -r requirements-dev.txt
	touch $@

system-deps:
	@bash scripts/system-deps.sh

deps: system-deps $(VENV)/.installed

# --- checks -------------------------------------------------------------------
lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/hadolint Dockerfile

test: deps
	$(VPY) -m pytest $(PYTEST_ARGS)

test-unit: deps
	$(VPY) -m pytest -m "not engine and not docker" $(PYTEST_ARGS)

test-engine: deps
	$(VPY) -m pytest -m engine $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build

# --- the image (issue 4; scripts/build-image.sh, docs/using-the-image.md) --------
# make image [IMAGE=name:tag]   build it (offline-friendly: wheels in build/wheels)
# make run [SRC=folder]         build if needed, start a sync container on SRC
image:
	@bash scripts/build-image.sh "$(IMAGE)"

run: image
	@bash scripts/run-image.sh "$(IMAGE)" "$(SRC)"
