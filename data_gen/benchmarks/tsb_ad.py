"""TSB-AD-U (Liu and Paparrizos, 2024): one univariate series per CSV with columns ``Data,Label``.

Files are named ``<idx>_<Dataset>_id_<N>_<Domain>_tr_<train>_1st_<first>.csv``; the name is
checked, and ``<Dataset>`` becomes the family (``tsb-ad-<dataset>``, lower case) so results
can be reported per source dataset. ``Label`` is 0/1 per point; runs of 1 become half-open
intervals. ``[0, <train>)`` is the anomaly-free train part TSB-AD gives semi-supervised
methods: the ``train`` split's windows and the expert's calibration come from it, while TSB-AD
scores the whole series, so the other splits cover all of it. TSB-AD's
``File_List/TSB-AD-U-Eva.csv`` and ``-Tuning.csv`` select files with ``--file-list``.
"""

from __future__ import annotations

import re
from pathlib import Path

from data_gen.benchmarks.source import ReadOptions, SourceError, SourceSeries, labelled_csv_series

PATTERN = "*.csv"
FILE_DEPTH = 1
NAME = re.compile(r"^(\d+)_(.+)_id_(\d+)_(.+)_tr_(\d+)_1st_(\d+)\.csv$")


def find(root: Path, options: ReadOptions) -> list[Path]:
    """Every ``.csv`` file under ``root``."""
    return sorted(root.rglob(PATTERN))


def parse_name(name: str) -> tuple[str, int]:
    """The ``<Dataset>`` part and the train end ``<train>`` of a TSB-AD file name."""
    match = NAME.match(name)
    if match is None:
        raise SourceError(
            "the name does not follow <idx>_<Dataset>_id_<N>_<Domain>_tr_<train>_1st_<first>.csv"
        )
    return match.group(2), int(match.group(5))


def read(path: Path, root: Path, options: ReadOptions) -> list[SourceSeries]:
    dataset, train_end = parse_name(path.name)
    series = labelled_csv_series(
        path, "Data", "Label", f"tsb-ad-{dataset.lower()}", reference_end=train_end
    )
    return [checked_train_part(series)]


def checked_train_part(series: SourceSeries) -> SourceSeries:
    """``series`` when its train part fits and holds no labelled point; else ``SourceError``."""
    end = series.reference_end
    if not 0 < end <= series.length:
        raise SourceError(f"the train end {end} in the name does not fit {series.length} points")
    if any(start < end for start, _ in series.intervals):
        raise SourceError(f"the train part [0, {end}) named in the file name holds anomalies")
    return series
