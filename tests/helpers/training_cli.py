"""Command lines for the training entry points in tests: a recipe pointed at the test's own
model, data and output folder, and an ``accelerate launch`` on the CPU and the wait for it."""

import socket
import subprocess
import sys
from pathlib import Path

import pytest


def recipe_args(recipe: Path, model_dir, data_dir, out_dir, *flags: str) -> list[str]:
    """``--config recipe`` with the model, dataset and output overridden, no progress bars,
    then ``flags``."""
    return [
        "--config",
        str(recipe),
        "--model_name_or_path",
        str(model_dir),
        "--dataset_name",
        str(data_dir),
        "--output_dir",
        str(out_dir),
        "--disable_tqdm",
        "true",
        *flags,
    ]


def launch_command(num_processes: int, script: Path, *script_args: str) -> list[str]:
    """``accelerate launch`` of ``script`` on ``num_processes`` CPU processes of this machine,
    on a free port, without mixed precision or dynamo."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        "--multi_gpu",
        "--num_processes",
        str(num_processes),
        "--num_machines",
        "1",
        "--mixed_precision",
        "no",
        "--dynamo_backend",
        "no",
        "--main_process_port",
        str(port),
        str(script),
        *script_args,
    ]


def wait_for_launch(launched: subprocess.Popen, timeout: float) -> None:
    """Wait for a launch started with ``stderr=PIPE`` and text output; fail the test with its
    stderr when it runs past ``timeout`` seconds (a process out of step with the others waits
    forever in its collective) or exits with an error."""
    try:
        _, stderr = launched.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        launched.kill()
        _, stderr = launched.communicate()
        pytest.fail(f"the processes hung: {stderr[-2000:]}")
    assert launched.returncode == 0, stderr[-3000:]
