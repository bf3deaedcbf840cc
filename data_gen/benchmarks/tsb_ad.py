"""TSB-AD-U (Liu and Paparrizos, 2024): one univariate series per CSV with columns ``Data,Label``.

Files are named ``<idx>_<Dataset>_id_<N>_<Domain>_tr_<train>_1st_<first>.csv``; the name is
checked, and ``<Dataset>`` becomes the family (``tsb-ad-<dataset>``, lower case) so results
can be reported per source dataset. ``Label`` is 0/1 per point; runs of 1 become half-open
intervals.
"""

from __future__ import annotations

import re
from pathlib import Path

from data_gen.benchmarks.source import (
    ReadOptions,
    SourceError,
    SourceSeries,
    labelled_csv_series,
)

PATTERN = "*.csv"
FILE_DEPTH = 1
NAME = re.compile(r"^(\d+)_(.+)_id_(\d+)_(.+)_tr_(\d+)_1st_(\d+)\.csv$")


def find(root: Path, options: ReadOptions) -> list[Path]:
    """Every ``.csv`` file under ``root``."""
    return sorted(root.rglob(PATTERN))


def dataset_name(name: str) -> str:
    """The ``<Dataset>`` part of a TSB-AD-U file name."""
    match = NAME.match(name)
    if match is None:
        raise SourceError(
            "the name does not follow <idx>_<Dataset>_id_<N>_<Domain>_tr_<train>_1st_<first>.csv"
        )
    return match.group(2)


def read(path: Path, root: Path, options: ReadOptions) -> list[SourceSeries]:
    family = f"tsb-ad-{dataset_name(path.name).lower()}"
    return [labelled_csv_series(path, "Data", "Label", family)]
