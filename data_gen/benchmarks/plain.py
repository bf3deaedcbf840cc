"""A plain long series: a CSV or parquet file with one numeric column, optionally beside a 0/1
label column named ``label``, ``Label`` or ``is_anomaly`` (runs of 1 become half-open
intervals). A CSV may have a header or not. The family is ``plain``; there is no train part.
"""

from __future__ import annotations

import csv
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

PATTERNS = ("*.csv", "*.parquet")
FILE_DEPTH = 1
FAMILY = "plain"
LABEL_COLUMNS = ("label", "Label", "is_anomaly")


def find(root: Path, options: ReadOptions) -> list[Path]:
    """Every ``.csv`` and ``.parquet`` file under ``root``."""
    return sorted(path for pattern in PATTERNS for path in root.rglob(pattern))


def read(path: Path, root: Path, options: ReadOptions) -> list[SourceSeries]:
    columns = _parquet_columns(path) if path.suffix == ".parquet" else _csv_columns(path)
    labels = [name for name in columns if name in LABEL_COLUMNS]
    values = [name for name in columns if name not in LABEL_COLUMNS]
    if len(values) != 1 or len(labels) > 1:
        raise SourceError(
            f"expected one value column and at most one of {', '.join(LABEL_COLUMNS)}; "
            f"found columns {', '.join(map(repr, columns))}"
        )
    series = parse_numbers(columns[values[0]], values[0])
    intervals = mask_to_intervals(parse_labels(columns[labels[0]], labels[0])) if labels else []
    return [SourceSeries(series, FAMILY, intervals)]


def _csv_columns(path: Path) -> dict[str, list[str]]:
    with open(path, newline="", encoding="utf-8") as stream:
        rows = [row for row in csv.reader(stream) if row]
    if not rows:
        raise SourceError("the file is empty")
    try:
        float(rows[0][0])
        header = [f"column {i}" for i in range(len(rows[0]))]
        if len(header) == 2:
            header[1] = "label"
    except ValueError:
        header, rows = [name.strip() for name in rows[0]], rows[1:]
    if not rows:
        raise SourceError("the file has a header but no rows")
    if any(len(row) != len(header) for row in rows):
        raise SourceError(f"every line must have {len(header)} fields")
    return {name: [row[i] for row in rows] for i, name in enumerate(header)}


def _parquet_columns(path: Path) -> dict[str, list[str]]:
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except Exception as error:  # pyarrow raises several types for a broken file
        raise SourceError(f"not a readable parquet file ({error})") from None
    return {
        name: [str(v) for v in np.asarray(table.column(name).to_numpy(zero_copy_only=False))]
        for name in table.column_names
    }
