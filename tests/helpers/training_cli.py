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


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def launch_command(
    num_processes: int,
    script: Path | str,
    *script_args: str,
    config_file: Path | None = None,
    machine: tuple[int, int, int] | None = None,
) -> list[str]:
    """``accelerate launch`` of ``script`` (``-m module`` when it is ``"-m"``, the module
    first in ``script_args``) on ``num_processes`` CPU processes of this machine, on a free
    port, without mixed precision or dynamo; plain data parallel, or as ``config_file`` says
    (an accelerate config: DeepSpeed, FSDP). ``machine`` (rank, machines, port) makes it one
    of several "machines" on 127.0.0.1, ``num_processes`` then counting all of them."""
    setup = ["--config_file", str(config_file)] if config_file else ["--multi_gpu"]
    rank, machines, port = machine or (0, 1, free_port())
    if machine:
        setup += ["--machine_rank", str(rank), "--main_process_ip", "127.0.0.1"]
    return [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        *setup,
        "--num_processes",
        str(num_processes),
        "--num_machines",
        str(machines),
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
