"""Running ``anomseer`` as a user does, in a subprocess, and checking its one-line errors."""

import os
import re
import subprocess
import sys

CLI = [sys.executable, "-m", "anomseer.cli"]
PROGRESS = re.compile(r"\|.*\[\d+:\d+")
"""A tqdm progress bar line (``desc: 40%|####  | 4/10 [00:01<00:02, ...]``)."""


def anomseer(*args, cwd, timeout: float = 300, prefix: tuple = ()) -> subprocess.CompletedProcess:
    """``anomseer ARGS`` (or ``prefix + ARGS`` for another entry point) run in ``cwd``."""
    env = dict(
        os.environ, OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1", HF_DATASETS_DISABLE_PROGRESS_BARS="1"
    )
    command = [*(prefix or CLI), *map(str, args)]
    return subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, env=env, timeout=timeout
    )


def assert_one_line_error(result: subprocess.CompletedProcess, *fragments: str) -> str:
    """The run failed with exit status 2 and one stderr line (progress bars aside) holding every
    fragment."""
    lines = [
        line for line in result.stderr.splitlines() if line.strip() and not PROGRESS.search(line)
    ]
    assert result.returncode == 2, result.stderr[-3000:]
    assert len(lines) == 1, result.stderr[-3000:]
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]
