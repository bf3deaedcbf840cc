"""A label-free classical detector on the expert panel: the evaluator's baseline.

:func:`classify` decides a label and intervals from the evidence alone; :func:`expert_detect`
turns a univariate or multivariate series into a well-formed answer with the evidence text as
its ``think``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from anomseer.intervals import intervals_to_mask, mask_to_intervals, overlaps_any
from anomseer.protocol import NORMAL_LABEL, Answer
from data_gen.expcot import describe_evidence, describe_variates
from data_gen.expert.panel import (
    DEFAULT_THRESHOLDS,
    VISIBLE_FRACTION,
    Evidence,
    Periodicity,
    Span,
    Thresholds,
    analyze,
)
from data_gen.expert.variates import analyze_variates

PERIOD_RATIO = 1.5
"""A frequency departure counts as a seasonal change when the local period differs from the
dominant one by at least this factor (either way)."""
MAX_PERIOD_RATIO = 5.0
"""Beyond this factor the local "period" is a break in the wave (a jump), not a new period."""
MAX_PERIOD_SPREAD = 0.6
MIN_SEASONAL_POINTS = 3
OUTSIDE_MARGIN = VISIBLE_FRACTION
"""Global points lie outside the range of the other points by this fraction of that range."""
MIN_OUTSIDE_SHARE = 0.25
"""Departures are global points when at least this share of them lies outside that range."""


@dataclass(frozen=True)
class Finding:
    """What the detector concluded: a label, the intervals, and the analysis that decided."""

    label: str
    intervals: list[tuple[int, int]]
    analysis: str


def classify(evidence: Evidence) -> Finding:
    """Decide label and intervals from the evidence alone (no truth), in a fixed order:
    departures largely outside the range of the other points -> global point; a steady period
    change by ``PERIOD_RATIO`` -> seasonal; a slope change away from local departures ->
    trend; other local departures -> contextual point; a matrix-profile discord above the
    threshold -> shapelet; else normal."""
    departures = evidence.global_stats.spans + evidence.local.spans
    outside = _outside_range(evidence.scores["values"], departures)
    if outside:
        return Finding("global point", outside, "global")
    seasonal = seasonal_spans(evidence.periodicity)
    if seasonal:
        return Finding("seasonal", [(s.start, s.end) for s in seasonal], "frequency")
    local = [(s.start, s.end) for s in evidence.local.spans]
    trend = [
        (s.start, s.end)
        for s in evidence.trend.spans
        if not overlaps_any(s.start, s.end, local)
    ]
    if trend:
        return Finding("trend", trend, "trend")
    if local:
        return Finding("contextual point", local, "local")
    if evidence.discord.z > evidence.thresholds.discord_z:
        start = evidence.discord.start
        return Finding("shapelet", [(start, start + evidence.discord.window)], "discord")
    return Finding(NORMAL_LABEL, [], "none")


def seasonal_spans(periodicity: Periodicity) -> list[Span]:
    """Frequency departures that look like a new period: at least ``MIN_SEASONAL_POINTS``
    long, a local period ``PERIOD_RATIO`` to ``MAX_PERIOD_RATIO`` times longer or shorter, and
    a steady local frequency (relative spread at most ``MAX_PERIOD_SPREAD``; noise gives a
    large spread)."""
    if periodicity.period is None:
        return []
    kept = []
    for span, period, spread in zip(
        periodicity.spans, periodicity.span_periods, periodicity.span_spreads, strict=True
    ):
        ratio = max(period / periodicity.period, periodicity.period / period)
        if (
            span.end - span.start >= MIN_SEASONAL_POINTS
            and PERIOD_RATIO <= ratio <= MAX_PERIOD_RATIO
            and spread <= MAX_PERIOD_SPREAD
        ):
            kept.append(span)
    return kept


def _outside_range(values: np.ndarray, spans: list[Span]) -> list[tuple[int, int]]:
    """The departing points outside the range of all other points (by ``OUTSIDE_MARGIN`` of
    that range), when they are ``MIN_OUTSIDE_SHARE`` of the departing points; else none."""
    departing = intervals_to_mask([(s.start, s.end) for s in spans], values.size)
    rest = values[~departing]
    if not departing.any() or rest.size == 0:
        return []
    low, high = float(rest.min()), float(rest.max())
    margin = OUTSIDE_MARGIN * (high - low)
    outside = departing & ((values > high + margin) | (values < low - margin))
    if outside.sum() < MIN_OUTSIDE_SHARE * departing.sum():
        return []
    return mask_to_intervals(outside)


def expert_detect(series: np.ndarray, thresholds: Thresholds = DEFAULT_THRESHOLDS) -> Answer:
    """A label-free classical detector. A 1-D series goes through :func:`analyze` (with
    ``thresholds``) and :func:`classify`; a 2-D ``(variates, length)`` series through
    :func:`analyze_variates`, whose flagged variates become the answer (class ``shapelet``,
    or ``normal`` when none). ``think`` holds the evidence text; the answer is always
    well-formed."""
    values = np.asarray(series, dtype=float)
    if values.ndim == 2:
        evidence = analyze_variates(values)
        label = "shapelet" if evidence.flagged else NORMAL_LABEL
        think = describe_variates(evidence)
        return Answer(
            variates=list(evidence.flagged),
            label=label,
            format_valid=True,
            answer_valid=True,
            think=think,
        )
    evidence = analyze(values, thresholds)
    finding = classify(evidence)
    think = f"{describe_evidence(evidence)} The detector's rule picks the {finding.analysis} "
    think += "analysis." if finding.label != NORMAL_LABEL else "nothing: no rule fires."
    return Answer(
        intervals=list(finding.intervals),
        label=finding.label,
        format_valid=True,
        answer_valid=True,
        think=think,
    )
