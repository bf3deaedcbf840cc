"""Numenta Anomaly Benchmark: ``data/<category>/<file>.csv`` (``timestamp,value``) and
``labels/combined_windows.json`` (per file, a list of ``[start, end]`` timestamp windows, both
ends inclusive).

``--input`` is the NAB folder that holds ``data/`` and ``labels/``. A point is anomalous when
its timestamp lies inside a window (``start <= t <= end``); runs of such points become
half-open intervals. The family is ``nab-<category>`` (lower case). The first 15 % of each
file is NAB's probationary period (the NAB scorer ignores detections there): only the ``train``
split takes windows from it, the other splits start after it. Timestamps are not plotted (a
plot's x axis is the point index); irregular steps are recorded in the rows' ``time_gaps``.
"""

from __future__ import annotations

import functools
import json
import math
from pathlib import Path

import numpy as np

from anomseer.errors import UserInputError
from anomseer.intervals import mask_to_intervals
from data_gen.benchmarks.source import (
    ReadOptions,
    SourceError,
    SourceSeries,
    irregular_steps,
    parse_numbers,
    read_csv_columns,
)

PATTERN = "*.csv"
FILE_DEPTH = None
"""NAB needs its folder (the labels live beside the data), never a single file."""
DATA_DIR = "data"
WINDOWS_FILE = Path("labels") / "combined_windows.json"
PROBATIONARY_SHARE = 0.15
"""NAB's probationary period: ``floor(0.15 * length)`` points (NAB's ``probationaryPercent``)."""


def find(root: Path, options: ReadOptions) -> list[Path]:
    """Every ``.csv`` under ``root/data`` (after checking the label file loads)."""
    if not (root / DATA_DIR).is_dir():
        raise UserInputError(
            f"{root} has no {DATA_DIR}/ folder; the input for NAB is the NAB folder holding "
            f"{DATA_DIR}/<category>/<file>.csv and {WINDOWS_FILE}"
        )
    label_windows(root)
    return sorted((root / DATA_DIR).rglob(PATTERN))


@functools.lru_cache(maxsize=4)
def label_windows(root: Path) -> dict[str, list]:
    """``labels/combined_windows.json``: data file (relative to ``data/``) -> windows."""
    path = root / WINDOWS_FILE
    try:
        windows = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserInputError(
            f"{path} is missing; NAB truth comes from labels/combined_windows.json"
        ) from None
    except (OSError, ValueError) as error:
        raise UserInputError(f"{path} is not readable JSON ({error})") from None
    if not isinstance(windows, dict):
        raise UserInputError(f"{path} must map data files to lists of [start, end] windows")
    return windows


def read(path: Path, root: Path, options: ReadOptions) -> list[SourceSeries]:
    key = path.relative_to(root / DATA_DIR).as_posix()
    windows = label_windows(root).get(key)
    if windows is None:
        raise SourceError(f"{WINDOWS_FILE.as_posix()} has no entry {key!r}")
    columns = read_csv_columns(path, ("timestamp", "value"))
    values = parse_numbers(columns["value"], "value")
    times = _timestamps(columns["timestamp"], "timestamp")
    mask = np.zeros(values.size, dtype=bool)
    if not isinstance(windows, list):
        raise SourceError(f"the {key!r} entry of {WINDOWS_FILE.as_posix()} is not a list")
    for window in windows:
        if not (isinstance(window, list) and len(window) == 2):
            raise SourceError(f"label window {window!r:.80} is not a [start, end] pair")
        start, end = _timestamps(window, f"label window {window!r:.80}")
        mask |= (times >= start) & (times <= end)
    intervals = mask_to_intervals(mask)
    probation = math.floor(PROBATIONARY_SHARE * values.size)
    clean = min([probation, *(start for start, _ in intervals)])
    family = f"nab-{path.parent.name.lower()}"
    gaps = irregular_steps(times.astype("int64"))
    return [
        SourceSeries(
            values, family, intervals, reference_end=clean, eval_start=probation, time_gaps=gaps
        )
    ]


def _timestamps(texts: list, what: str) -> np.ndarray:
    try:
        return np.array([str(t).strip() for t in texts], dtype="datetime64[us]")
    except ValueError as error:
        raise SourceError(f"{what}: {error}") from None
