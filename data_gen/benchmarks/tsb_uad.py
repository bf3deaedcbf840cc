"""TSB-UAD (Paparrizos et al., 2022), the benchmark the AnomSeer paper evaluates on:
``data/<group>/<domain>/*.out`` (``benchmark``) and ``data/artificial/*.out``, each a
headerless CSV of ``value,label`` lines (label 0/1 per point; runs of 1 become half-open
intervals). The family is ``tsb-uad-<domain>`` from the file's folder (lower case). TSB-UAD
publishes no train part: every split covers the whole series.
"""

from __future__ import annotations

import csv
from pathlib import Path

from data_gen.benchmarks.source import (
    ReadOptions,
    SourceError,
    SourceSeries,
    mask_intervals,
    parse_labels,
    parse_numbers,
)

PATTERN = "*.out"
FILE_DEPTH = 1


def find(root: Path, options: ReadOptions) -> list[Path]:
    """Every ``.out`` file under ``root``."""
    return sorted(root.rglob(PATTERN))


def read(path: Path, root: Path, options: ReadOptions) -> list[SourceSeries]:
    with open(path, newline="", encoding="utf-8") as stream:
        rows = [row for row in csv.reader(stream) if row]
    if not rows:
        raise SourceError("the file is empty")
    for line, row in enumerate(rows, start=1):
        if len(row) != 2:
            raise SourceError(f"line {line} has {len(row)} fields; .out lines are value,label")
    values = parse_numbers([row[0] for row in rows], "value", first_line=1)
    mask = parse_labels([row[1] for row in rows], "label", first_line=1)
    return [SourceSeries(values, f"tsb-uad-{path.parent.name.lower()}", mask_intervals(mask))]
