"""Dataset rows: any series plus its truth becomes one row with every column of
``anomseer.columns.COLUMNS`` (DESIGN.md).

The synthetic builder and the real-benchmark converters both call :func:`build_row`, so a row
means the same thing whatever produced it: a label-free image, the conversational prompt, the
expert chain of thought and the SFT completion built from it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from anomseer.protocol import (
    NORMAL_LABEL,
    build_messages,
    format_answer,
    normalize_label,
)
from data_gen.expcot import EXPCOT_STYLES, write_brief_expcot, write_expcot, write_variate_expcot
from data_gen.expert.panel import DEFAULT_THRESHOLDS, Thresholds, analyze
from data_gen.expert.variates import analyze_variates
from data_gen.render import PlotRenderer, png_bytes

PNG_COMPRESS_LEVEL = 1
"""zlib level of the stored PNGs: level 1 is about twice as fast as 6 and about 1 % larger."""


def build_row(
    *,
    id: str,
    family: str,
    series: np.ndarray | Sequence,
    intervals: Sequence[Sequence[int]],
    anomaly_type: str,
    renderer: PlotRenderer,
    variates: Sequence[int] | None = None,
    expcot_style: str = "full",
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
) -> dict:
    """One dataset row from a series and its truth.

    ``series`` is ``(length,)`` or ``(variates, length)`` with NaN for missing points;
    ``intervals`` are half-open ``[start, end)`` pairs; ``variates`` the anomalous variate ids
    of a multivariate series; ``anomaly_type`` one of the six labels. The image comes from
    ``renderer`` and sees the values only; ``expcot`` is written from the expert analyses and
    the truth (a univariate series analysed with ``thresholds``), in ``expcot_style``
    (``EXPCOT_STYLES``; the multivariate trace is short already and has one style);
    ``completion`` is ``format_answer(intervals, anomaly_type, think=expcot, ...)``.
    Raises ``ValueError`` for a label, interval or variate id that does not fit the series.
    """
    if expcot_style not in EXPCOT_STYLES:
        raise ValueError(f"row {id}: expcot_style must be one of {EXPCOT_STYLES}")
    values = np.asarray(series, dtype=float)
    if values.ndim not in (1, 2) or values.size == 0:
        raise ValueError(f"row {id}: series must be 1-D or (variates, length), got {values.shape}")
    label = normalize_label(anomaly_type)
    if label is None:
        raise ValueError(f"row {id}: unknown anomaly type {anomaly_type!r}")
    length = values.shape[-1]
    spans = [[int(s), int(e)] for s, e in intervals]
    if any(not 0 <= s < e <= length for s, e in spans):
        raise ValueError(f"row {id}: intervals {spans} must satisfy 0 <= start < end <= {length}")
    ids = sorted({int(v) for v in (variates or ())})
    if (label == NORMAL_LABEL) != (not spans and not ids):
        raise ValueError(
            f"row {id}: anomaly type {label!r} does not match the truth (intervals {spans}, "
            f"variates {ids}); a normal row has neither, an anomalous row needs one"
        )
    if values.ndim == 1:
        if ids:
            raise ValueError(f"row {id}: a univariate series has no variate ids")
        write = write_brief_expcot if expcot_style == "brief" else write_expcot
        expcot = write(analyze(values, thresholds), spans, label)
        text = format_answer(spans, label, think=expcot)
        num_variates = None
    else:
        num_variates = values.shape[0]
        if any(v >= num_variates for v in ids):
            raise ValueError(f"row {id}: variate ids {ids} exceed {num_variates} variates")
        expcot = write_variate_expcot(analyze_variates(values), ids, label)
        text = format_answer(spans, label, think=expcot, variates=ids)
    image = png_bytes(renderer.render(values), compress_level=PNG_COMPRESS_LEVEL)
    return {
        "id": id,
        "family": family,
        "anomaly_type": label,
        "length": int(length),
        "series": values.tolist(),
        "intervals": spans,
        "variates": ids,
        "image": {"bytes": image, "path": None},
        "prompt": build_messages(int(length), num_variates),
        "completion": [{"role": "assistant", "content": [{"type": "text", "text": text}]}],
        "expcot": expcot,
    }

