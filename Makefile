# Two commands on a fresh machine: `make demo` and `make test`. Each first creates or syncs
# .venv from uv.lock (installing uv with pip when it is missing).
SHELL := /bin/bash
UV := $(shell command -v uv 2>/dev/null || echo "python3 -m uv")
export OMP_NUM_THREADS ?= 1
export HF_HUB_OFFLINE := 1
export HF_HUB_DISABLE_TELEMETRY := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: venv demo test lint
venv:
	@python3 -m uv --version >/dev/null 2>&1 || command -v uv >/dev/null 2>&1 || python3 -m pip install --quiet uv
	$(UV) sync --frozen --extra dev

demo: venv
	.venv/bin/anomseer demo

test: venv
	.venv/bin/ruff check anomseer data_gen tests scripts
	.venv/bin/python -m pytest -q tests

lint: venv
	.venv/bin/ruff check anomseer data_gen tests scripts
