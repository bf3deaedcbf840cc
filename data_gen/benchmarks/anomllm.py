"""AnomLLM layout (Zhou and Yu, 2024): ``<family>/<split>/data.pkl`` holding ``{"series": [...],
"anom": [...]}``, one ``(length, 1)`` array per series and, per series, one list of
``(start, end)`` half-open intervals per sensor.

The ``figs/`` folder beside each ``data.pkl`` is never read: those PNGs are drawn with the
truth shaded, so every plot is rendered again from the values. The family folder names the
anomaly type (``range`` -> global point, ``noisy-freq`` -> seasonal, ...).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from data_gen.benchmarks import pickled
from data_gen.benchmarks.pickled import layout_type, load_data_pkl, read_each, series_array
from data_gen.benchmarks.source import ReadOptions, SourceError, SourceSeries, truth_intervals
from data_gen.synthetic.families import FAMILIES as SYNTHETIC_FAMILIES
from data_gen.synthetic.families import anomaly_type_for

FILE_DEPTH = pickled.FILE_DEPTH
find = pickled.find
FAMILIES = tuple(name for name in SYNTHETIC_FAMILIES if not name.startswith("vta-"))


def read(path: Path, root: Path, options: ReadOptions) -> list[SourceSeries]:
    family = layout_type(path, FAMILIES, "an AnomLLM family")

    def read_one(index: int, series: object, anom: object) -> SourceSeries:
        values = _univariate(series)
        intervals = truth_intervals(_one_sensor(anom), values.size)
        label = anomaly_type_for(family, intervals)
        return SourceSeries(values, family, intervals, anomaly_type=label, index=index)

    return read_each(load_data_pkl(path), read_one)


def _univariate(series: object) -> np.ndarray:
    values = series_array(series)
    if values.ndim != 1:
        raise SourceError(
            f"shape {values.shape} is not (length, 1) as in AnomLLM (multi-sensor series are "
            "not read)"
        )
    return values


def _one_sensor(anom: object) -> object:
    """The intervals of a single-sensor series: ``[[(s, e), ...]]`` (one list per sensor, as
    AnomLLM stores them) or a flat ``[(s, e), ...]``."""
    if (
        isinstance(anom, (list, tuple))
        and len(anom) == 1
        and isinstance(anom[0], (list, tuple))
        and all(isinstance(item, (list, tuple)) for item in anom[0])
    ):
        return anom[0]
    return anom
