"""An anomaly type for labelled intervals whose source gives none (UCR, TSB-AD, TSB-UAD, NAB,
Yahoo), and the anomalous variates of a multivariate source that labels only time (TSB-AD-M).

Real benchmarks mark where anomalies are, not what kind they are, but every row needs one of
the protocol's labels, and its ExpCoT ties the evidence inside the truth to that label. The
label is the expert panel's reading of the truth: the label-free detector's rule
(``data_gen.expert.detector.classify``) applied to the labelled points and to the panel's departures
that overlap them, in the detector's order: labelled points largely outside the range of the
other points -> global point; a new period -> seasonal; a slope change -> trend; a local
departure -> contextual point. When nothing departs inside the truth, the anomaly is a change
of shape that no point, rhythm or slope analysis explains: shapelet. It is a heuristic,
recorded as such in the rows (``type_source = "expert"``): class scores on these rows measure
agreement with it, not with a ground-truth type. ``scripts/bench_expert_label.py`` measures
how often it agrees with the known types of the synthetic families.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from anomseer.intervals import intervals_to_mask, overlaps_any
from anomseer.protocol import NORMAL_LABEL
from data_gen.expert.detector import classify
from data_gen.expert.panel import (
    GLOBAL_Z_THRESHOLD,
    VISIBLE_FRACTION,
    Evidence,
    Span,
    analyze,
    fill_missing,
    robust_scale,
)

FALLBACK_LABEL = "shapelet"


def expert_label(series: np.ndarray, intervals: Sequence[Sequence[int]]) -> str:
    """The label the expert panel gives the labelled ``intervals`` of a univariate series."""
    if not intervals:
        return NORMAL_LABEL
    evidence = analyze(np.asarray(series, dtype=float))
    label = classify(restrict_to(evidence, intervals)).label
    return FALLBACK_LABEL if label == NORMAL_LABEL else label


def expert_variates(series: np.ndarray, intervals: Sequence[Sequence[int]]) -> list[int]:
    """The variates of a ``(variates, length)`` series whose labelled points depart most from
    the rest of that variate (for sources that label time points, not variates): each
    variate's peak robust |z| inside ``intervals`` against the median and MAD of its other
    points (floored like the panel's scales); the variates above ``GLOBAL_Z_THRESHOLD``, or
    the largest one when none is."""
    values = np.asarray(series, dtype=float)
    inside = intervals_to_mask(intervals, values.shape[1])
    peaks = []
    for row in values:
        x = fill_missing(row)
        rest = x[~inside] if (~inside).any() else x
        scale = max(robust_scale(rest), VISIBLE_FRACTION * float(x.std()) + 1e-12)
        peaks.append(float(np.abs(x[inside] - np.median(rest)).max()) / scale)
    flagged = [v for v, peak in enumerate(peaks) if peak > GLOBAL_Z_THRESHOLD]
    return flagged or [int(np.argmax(peaks))]


def restrict_to(evidence: Evidence, intervals: Sequence[Sequence[int]]) -> Evidence:
    """The evidence with only the departures that overlap ``intervals``; the labelled points
    themselves stand in for the global departures, so the detector's global rule asks whether
    they lie outside the range of the other points (the discord is kept: it falls back to
    shapelet either way)."""

    def overlapping(spans: list[Span]) -> list[int]:
        return [i for i, span in enumerate(spans) if overlaps_any(span.start, span.end, intervals)]

    local, periodicity, trend = evidence.local, evidence.periodicity, evidence.trend
    keep_period, keep_trend = overlapping(periodicity.spans), overlapping(trend.spans)
    labelled = [Span(int(s), int(e), int(s), 0.0) for s, e in intervals]
    return dataclasses.replace(
        evidence,
        global_stats=dataclasses.replace(evidence.global_stats, spans=labelled),
        local=dataclasses.replace(local, spans=[local.spans[i] for i in overlapping(local.spans)]),
        periodicity=dataclasses.replace(
            periodicity,
            spans=[periodicity.spans[i] for i in keep_period],
            span_periods=[periodicity.span_periods[i] for i in keep_period],
            span_spreads=[periodicity.span_spreads[i] for i in keep_period],
        ),
        trend=dataclasses.replace(
            trend,
            spans=[trend.spans[i] for i in keep_trend],
            span_slopes=[trend.span_slopes[i] for i in keep_trend],
        ),
    )
