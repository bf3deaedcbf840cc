"""Yahoo S5 (Webscope, labeled anomaly detection): one series per CSV.

A1 (``real_N.csv``) and A2 (``synthetic_N.csv``) have ``timestamp,value,is_anomaly``; A3 and
A4 (``A3Benchmark-TSN.csv``) have ``timestamps,value,anomaly,changepoint,...``. Rows are taken
in file order (the timestamps are not needed); the anomaly column is 0/1 per point (A4's
``changepoint`` column is not an anomaly label and is ignored). The ``A3Benchmark_all.csv``
and ``A4Benchmark_all.csv`` summary tables repeat the other files and are skipped. The family
is ``yahoo-a1`` .. ``yahoo-a4`` from the benchmark folder name, else ``yahoo``.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

from data_gen.benchmarks.source import ReadOptions, SourceError, SourceSeries, labelled_csv_series

PATTERN = "*.csv"
FILE_DEPTH = 1
LABEL_COLUMNS = ("is_anomaly", "anomaly")
"""A1/A2 name the label column ``is_anomaly``, A3/A4 ``anomaly``."""
SUMMARY_SUFFIX = "_all.csv"
BENCHMARK_FOLDER = re.compile(r"^(A[1-4])Benchmark$")


def find(root: Path, options: ReadOptions) -> list[Path]:
    """Every ``.csv`` under ``root`` except the ``*_all.csv`` summary tables."""
    return sorted(p for p in root.rglob(PATTERN) if not p.name.endswith(SUMMARY_SUFFIX))


def read(path: Path, root: Path, options: ReadOptions) -> list[SourceSeries]:
    with open(path, newline="", encoding="utf-8") as stream:
        header = [name.strip() for name in next(csv.reader(stream), [])]
    label = next((name for name in LABEL_COLUMNS if name in header), None)
    if label is None:
        raise SourceError(
            "no 'is_anomaly' (A1/A2) or 'anomaly' (A3/A4) column (the header has "
            f"{', '.join(repr(h) for h in header) or 'nothing'})"
        )
    folder = BENCHMARK_FOLDER.match(path.parent.name)
    family = f"yahoo-{folder.group(1).lower()}" if folder else "yahoo"
    return [labelled_csv_series(path, "value", label, family)]
