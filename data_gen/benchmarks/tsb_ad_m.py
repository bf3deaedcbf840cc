"""TSB-AD-M (Liu and Paparrizos, 2024): one multivariate series per CSV, one column per variate
and a last column ``Label`` (0/1 per time point).

Files are named like TSB-AD-U's (``data_gen.benchmarks.tsb_ad``), which gives the family
(``tsb-ad-m-<dataset>``) and the train part. The label marks time points, not variates: the
anomalous variates of a window are the expert's reading of its labelled points
(``data_gen.benchmarks.expert_label.expert_variates``).
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from anomseer.intervals import mask_to_intervals
from data_gen.benchmarks import tsb_ad
from data_gen.benchmarks.source import (
    ReadOptions,
    SourceError,
    SourceSeries,
    parse_labels,
    parse_numbers,
    read_csv_columns,
)

PATTERN = tsb_ad.PATTERN
FILE_DEPTH = tsb_ad.FILE_DEPTH
LABEL = "Label"
find = tsb_ad.find


def read(path: Path, root: Path, options: ReadOptions) -> list[SourceSeries]:
    dataset, train_end = tsb_ad.parse_name(path.name)
    with open(path, newline="", encoding="utf-8") as stream:
        header = [name.strip() for name in next(csv.reader(stream), [])]
    variates = [name for name in header if name != LABEL]
    if LABEL not in header or not variates:
        raise SourceError(
            f"TSB-AD-M files hold variate columns and a {LABEL!r} column (the header has "
            f"{', '.join(repr(h) for h in header) or 'nothing'})"
        )
    columns = read_csv_columns(path, header)
    values = np.stack([parse_numbers(columns[name], name) for name in variates])
    mask = parse_labels(columns[LABEL], LABEL)
    series = SourceSeries(
        values, f"tsb-ad-m-{dataset.lower()}", mask_to_intervals(mask), reference_end=train_end
    )
    return [tsb_ad.checked_train_part(series)]
