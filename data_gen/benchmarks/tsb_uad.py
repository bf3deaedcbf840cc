"""TSB-UAD (Paparrizos et al., 2022), the benchmark the AnomSeer paper evaluates on:
``data/<group>/<domain>/*.out`` (``benchmark``) and ``data/artificial/*.out``, each a
headerless CSV of ``value,label`` lines (label 0/1 per point; runs of 1 become half-open
intervals). The family is ``tsb-uad-<domain>`` from the file's folder (lower case). TSB-UAD
publishes no train part: every split covers the whole series.
"""

from __future__ import annotations

import csv
import warnings
from pathlib import Path

import numpy as np

from anomseer.intervals import mask_to_intervals
from data_gen.benchmarks.source import (
    ReadOptions,
    SourceError,
    SourceSeries,
    parse_labels,
    parse_numbers,
)

PATTERN = "*.out"
FILE_DEPTH = 1


def find(root: Path, options: ReadOptions) -> list[Path]:
    """Every ``.out`` file under ``root``."""
    return sorted(root.rglob(PATTERN))


def read(path: Path, root: Path, options: ReadOptions) -> list[SourceSeries]:
    family = f"tsb-uad-{path.parent.name.lower()}"
    try:  # numpy's parser for the common case (the files run to 230,000 lines) ...
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # an empty file
            table = np.loadtxt(path, delimiter=",", ndmin=2, dtype=float)
    except ValueError:  # ... and a line-by-line reading that names the bad line
        table = None
    if table is None or table.shape[1] != 2 or not np.isin(table[:, 1], (0.0, 1.0)).all():
        return [_read_checked(path, family)]
    if table.shape[0] == 0:
        raise SourceError("the file is empty")
    if np.isinf(table[:, 0]).any():
        raise SourceError(
            f"value on line {int(np.flatnonzero(np.isinf(table[:, 0]))[0]) + 1} is infinite"
        )
    return [SourceSeries(table[:, 0].copy(), family, mask_to_intervals(table[:, 1] == 1.0))]


def _read_checked(path: Path, family: str) -> SourceSeries:
    """The series read line by line, raising ``SourceError`` at the first bad line."""
    with open(path, newline="", encoding="utf-8") as stream:
        rows = list(csv.reader(stream))
    for line, row in enumerate(rows, start=1):
        if len(row) != 2:
            raise SourceError(f"line {line} has {len(row)} fields; .out lines are value,label")
    if not rows:
        raise SourceError("the file is empty")
    values = parse_numbers([row[0] for row in rows], "value", first_line=1)
    mask = parse_labels([row[1] for row in rows], "label", first_line=1)
    return SourceSeries(values, family, mask_to_intervals(mask))
