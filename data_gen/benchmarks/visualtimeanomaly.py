"""VisualTimeAnomaly layout (Xu et al., 2025): ``.../<type>/<split>/data.pkl`` holding
``{"series": [...], "anom": [...]}`` and, for irregular univariate series, ``"drop_index"``.

Univariate series are ``(length,)`` arrays; ``anom`` lists point indices for the ``global``
and ``contextual`` types (``p -> [p, p+1)``) and ``(start, end)`` half-open pairs for the
others. Multivariate series are ``(length, variates)`` arrays (stored here as ``(variates,
length)``) and ``anom`` lists the anomalous variate ids. Irregular series keep their NaN gaps;
the points in ``drop_index`` are set to NaN as well, so scoring can remove them. The type
folder gives the family (``vta-<type>``, ``irregular-vta-<type>`` when points are missing) and
with it the anomaly label. The ``fig/`` PNGs beside ``data.pkl`` are never read: training
figures there carry the truth.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from data_gen.benchmarks import pickled
from data_gen.benchmarks.pickled import layout_type, load_data_pkl, read_each, series_array
from data_gen.benchmarks.source import ReadOptions, SourceError, SourceSeries, truth_intervals
from data_gen.synthetic.families import IRREGULAR_PREFIX, anomaly_type_for

FILE_DEPTH = pickled.FILE_DEPTH
find = pickled.find
TYPES = (
    "global",
    "contextual",
    "seasonal",
    "trend",
    "shapelet",
    "triangle",
    "square",
    "sawtooth",
    "random_walk",
)


def read(path: Path, root: Path, options: ReadOptions) -> list[SourceSeries]:
    kind = layout_type(path, TYPES, "a VisualTimeAnomaly type")
    base = "vta-" + kind.replace("_", "-")
    data = load_data_pkl(path)
    drops = data.get("drop_index")
    if drops is not None and len(drops) != len(data["series"]):
        raise SourceError(
            f"'drop_index' has {len(drops)} entries but 'series' has {len(data['series'])}"
        )

    def read_one(index: int, series: object, anom: object) -> SourceSeries:
        return _series(series, anom, None if drops is None else drops[index], base, index)

    return read_each(data, read_one)


def _series(series: object, anom: object, drop: object, base: str, index: int) -> SourceSeries:
    values = series_array(series)
    if values.ndim not in (1, 2) or values.size == 0:
        raise SourceError(f"shape {values.shape} is neither (length,) nor (length, variates)")
    if drop is not None:
        dropped = np.asarray(drop)
        if dropped.size and (
            not np.issubdtype(dropped.dtype, np.integer)
            or dropped.min() < 0
            or dropped.max() >= values.shape[0]
        ):
            raise SourceError(f"drop_index must hold indices below {values.shape[0]}")
        values[dropped.astype(int)] = np.nan
    family = f"{IRREGULAR_PREFIX}{base}" if np.isnan(values).any() else base
    if values.ndim == 1:
        intervals = truth_intervals(anom, values.size)
        label = anomaly_type_for(family, intervals)
        return SourceSeries(values, family, intervals, anomaly_type=label, index=index)
    values = values.T
    ids = np.asarray(anom)
    if ids.size and (
        ids.ndim != 1
        or not np.issubdtype(ids.dtype, np.integer)
        or ids.min() < 0
        or ids.max() >= values.shape[0]
    ):
        raise SourceError(f"anomalies {anom!r:.60} are not variate ids below {values.shape[0]}")
    variates = sorted({int(v) for v in ids.tolist()})
    label = anomaly_type_for(family, [], variates)
    return SourceSeries(values, family, [], variates, anomaly_type=label, index=index)
