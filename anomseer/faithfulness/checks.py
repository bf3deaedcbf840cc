"""Each claim kind recomputed from the series (or read from the answer) and compared with its
tolerance (:mod:`anomseer.faithfulness.tolerances`). A check returns ``(recomputed, tolerance,
verified)``, or None when the claim cannot be checked here (a univariate claim about a
multivariate series, an answer claim without a parseable answer)."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from anomseer.faithfulness.claims import Stated
from anomseer.faithfulness.series_facts import SeriesFacts
from anomseer.faithfulness.tolerances import (
    POSITION_POINTS,
    STRETCH_WINDOWS,
    half_unit,
    level_floor,
    slope_floor,
    statistic_tolerance,
    within,
)
from anomseer.protocol import Answer
from data_gen.expcot import SLOPE_UNIT
from data_gen.expert.panel import GRADIENT_WINDOW, LOCAL_WINDOW, Z_THRESHOLD, departure_spans
from data_gen.expert.variates import SINE_EXCESS_THRESHOLD

Result = tuple[object, float, bool]
Check = Callable[[Stated, SeriesFacts, Answer | None], Result | None]

_SCORES = {"global": "global_z", "local": "local_z", "frequency": "frequency_z", "trend": "slope_z"}
_GAPS = {"global": 1, "local": LOCAL_WINDOW, "frequency": LOCAL_WINDOW, "trend": GRADIENT_WINDOW}
"""Score and join gap of each analysis's departures, as ``data_gen.expert.panel`` finds them."""


def _statistic(stated: Stated, recomputed: float | None, floor: float = 0.0) -> Result:
    if recomputed is None:
        return None, half_unit(stated.written), False
    tolerance = statistic_tolerance(stated.written, recomputed, floor)
    return _round(recomputed), tolerance, within(float(stated.value), recomputed, tolerance)


def _round(value: float) -> float:
    return float(f"{value:.6g}") if math.isfinite(value) else value


def _exact(stated: Stated, recomputed: object) -> Result:
    return recomputed, 0.0, stated.value == recomputed


def _univariate(check: Callable[[Stated, SeriesFacts], Result | None]) -> Check:
    """A check that needs the univariate panel."""
    return lambda stated, facts, answer: None if facts.evidence is None else check(stated, facts)


def _global(field: str, level: bool = True) -> Check:
    def check(stated: Stated, facts: SeriesFacts) -> Result:
        value = getattr(facts.evidence.global_stats, field)
        return _statistic(stated, value, level_floor(facts.std) if level else 0.0)

    return _univariate(check)


def _noise(stated: Stated, facts: SeriesFacts) -> Result:
    return _statistic(stated, facts.evidence.noise, level_floor(facts.std))


def _length(stated: Stated, facts: SeriesFacts, answer: Answer | None) -> Result:
    return _exact(stated, facts.length)


def _missing(stated: Stated, facts: SeriesFacts) -> Result:
    return _exact(stated, facts.evidence.missing)


def _in_series(facts: SeriesFacts, position: int) -> bool:
    return 0 <= position < facts.length


def _span(facts: SeriesFacts, at: tuple[int, int]) -> tuple[int, int] | None:
    start, end = max(0, at[0]), min(facts.length, at[1])
    return (start, end) if start < end else None


def _peak(stated: Stated, facts: SeriesFacts) -> tuple[int, float] | None:
    """Position and |z| of the peak of the claim's analysis, in its interval or overall."""
    evidence = facts.evidence
    if stated.at is None:
        stats = evidence.global_stats if stated.analysis == "global" else evidence.local
        return stats.argmax, stats.max_abs_z
    span = _span(facts, stated.at)
    if span is None:
        return None
    position, z = evidence.peak_inside(_SCORES[stated.analysis], *span)
    return position, abs(z)


def _peak_position(stated: Stated, facts: SeriesFacts) -> Result:
    peak = _peak(stated, facts)
    position = None if peak is None else peak[0]
    verified = position is not None and abs(int(stated.value) - position) <= POSITION_POINTS
    return position, float(POSITION_POINTS), verified


def _peak_z(stated: Stated, facts: SeriesFacts) -> Result:
    peak = _peak(stated, facts)
    return _statistic(stated, None if peak is None else peak[1])


def _robust_scale(stated: Stated, facts: SeriesFacts) -> Result:
    return _statistic(stated, facts.evidence.global_stats.scale, level_floor(facts.std))


def _local_scale(stated: Stated, facts: SeriesFacts) -> Result:
    return _statistic(stated, facts.evidence.local.scale, level_floor(facts.std))


def _spans(stated: Stated, facts: SeriesFacts) -> list[tuple[int, int]]:
    """The departures of the claim's analysis at the threshold the text states."""
    z = facts.evidence.scores[_SCORES[stated.analysis]]
    spans = departure_spans(z, stated.threshold, gap=_GAPS[stated.analysis])
    return [(s.start, s.end) for s in spans]


def _stretch_count(stated: Stated, facts: SeriesFacts) -> Result:
    return _exact(stated, len(_spans(stated, facts)))


def _stretch(stated: Stated, facts: SeriesFacts) -> Result:
    window = STRETCH_WINDOWS[stated.analysis]
    start, end = stated.value
    spans = _spans(stated, facts)
    nearest = min(spans, key=lambda s: abs(s[0] - start) + abs(s[1] - end), default=None)
    verified = nearest is not None and max(abs(nearest[0] - start), abs(nearest[1] - end)) <= window
    return None if nearest is None else list(nearest), float(window), verified


def _period(stated: Stated, facts: SeriesFacts) -> Result:
    period = facts.evidence.periodicity.period
    if stated.value is None or period is None:
        return _round(period) if period else None, 0.0, stated.value == period
    return _statistic(stated, period)


def _power_share(stated: Stated, facts: SeriesFacts) -> Result:
    return _statistic(stated, facts.evidence.periodicity.power_share)


def _local_period(stated: Stated, facts: SeriesFacts) -> Result:
    span = _span(facts, stated.at)
    if span is None:
        return _statistic(stated, None)
    frequency = float(np.median(facts.evidence.scores["frequency"][slice(*span)]))
    return _statistic(stated, 1.0 / frequency if frequency > 0 else None)


def _per_unit(stated: Stated, slope: float | None, std: float) -> Result:
    """A slope written per ``SLOPE_UNIT`` points."""
    recomputed = None if slope is None else slope * SLOPE_UNIT
    return _statistic(stated, recomputed, slope_floor(std) * SLOPE_UNIT)


def _typical_slope(stated: Stated, facts: SeriesFacts) -> Result:
    return _per_unit(stated, facts.evidence.trend.typical_slope, facts.std)


def _mean_slope(stated: Stated, facts: SeriesFacts) -> Result:
    span = _span(facts, stated.at)
    slope = None if span is None else float(np.mean(facts.evidence.scores["slope"][slice(*span)]))
    return _per_unit(stated, slope, facts.std)


def _discord_position(stated: Stated, facts: SeriesFacts) -> Result:
    start = facts.evidence.discord.start
    return start, float(POSITION_POINTS), abs(int(stated.value) - start) <= POSITION_POINTS


def _discord_distance(stated: Stated, facts: SeriesFacts) -> Result:
    return _statistic(stated, facts.evidence.discord.distance)


def _discord_z(stated: Stated, facts: SeriesFacts) -> Result:
    return _statistic(stated, facts.evidence.discord.z)


def _near(values: np.ndarray, position: int, stated: float) -> float | None:
    """The value within ``POSITION_POINTS`` of ``position`` closest to ``stated``."""
    if not 0 <= position < values.size:
        return None
    nearby = values[max(0, position - POSITION_POINTS) : position + POSITION_POINTS + 1]
    return float(nearby[np.argmin(np.abs(nearby - stated))])


def _value(stated: Stated, facts: SeriesFacts) -> Result:
    value = _near(facts.values, stated.at, float(stated.value))
    return _statistic(stated, value, level_floor(facts.std))


def _profile(stated: Stated, facts: SeriesFacts) -> Result:
    if int(stated.analysis) != facts.evidence.discord.window:
        return facts.evidence.discord.window, 0.0, False
    value = _near(facts.evidence.scores["matrix_profile"], stated.at, float(stated.value))
    return _statistic(stated, value)


def _unlabelled_range(stated: Stated, facts: SeriesFacts, answer: Answer | None) -> Result | None:
    """The value range outside the answer's intervals (the labelled points of the trace)."""
    if facts.evidence is None or answer is None or not answer.answer_valid:
        return None
    outside = np.ones(facts.length, dtype=bool)
    for start, end in answer.intervals:
        outside[start:end] = False
    rest = facts.values[outside] if outside.any() else facts.values
    low, high = float(rest.min()), float(rest.max())
    (stated_low, stated_high), floor = stated.value, level_floor(facts.std)
    written_low, _, written_high = stated.written.partition(" ")
    tol = max(
        statistic_tolerance(written_low, low, floor), statistic_tolerance(written_high, high, floor)
    )
    verified = within(stated_low, low, tol) and within(stated_high, high, tol)
    return [_round(low), _round(high)], tol, verified


def _spike(stated: Stated, facts: SeriesFacts) -> Result:
    """A spike or dip near ``t``: a global or local |z| above the SPEC's 3 sigma within
    ``POSITION_POINTS`` of it."""
    position = int(stated.at)
    if not _in_series(facts, position):
        return None, float(POSITION_POINTS), False
    window = slice(max(0, position - POSITION_POINTS), position + POSITION_POINTS + 1)
    scores = facts.evidence.scores
    z = np.maximum(np.abs(scores["global_z"][window]), np.abs(scores["local_z"][window]))
    peak = int(np.argmax(z))
    return window.start + peak, float(POSITION_POINTS), bool(z[peak] > Z_THRESHOLD)


def _direction(stated: Stated, facts: SeriesFacts) -> Result:
    """Rising or falling over ``[start, end)``: the sign of the mean trend gradient there, and
    a change across the stretch of at least one visible step."""
    span = _span(facts, stated.at)
    if span is None:
        return None, 0.0, False
    slope = float(np.mean(facts.evidence.scores["slope"][slice(*span)]))
    visible = abs(slope) * (span[1] - span[0]) >= level_floor(facts.std)
    sign = int(np.sign(slope)) if visible else 0
    return sign, 0.0, sign == stated.value


def _no_departure(stated: Stated, facts: SeriesFacts) -> Result:
    evidence = facts.evidence
    analyses = (evidence.global_stats, evidence.local, evidence.periodicity, evidence.trend)
    departures = sum(len(a.spans) for a in analyses)
    return departures, 0.0, departures == 0


def _multivariate(check: Callable[[Stated, SeriesFacts], Result]) -> Check:
    return lambda stated, facts, answer: None if facts.variates is None else check(stated, facts)


def _variate_count(stated: Stated, facts: SeriesFacts) -> Result:
    return _exact(stated, len(facts.variates.excess))


def _median_excess(stated: Stated, facts: SeriesFacts) -> Result:
    return _statistic(stated, float(np.median(facts.variates.excess)))


def _excess(stated: Stated, facts: SeriesFacts) -> Result:
    excess = facts.variates.excess
    return _statistic(stated, excess[stated.at] if 0 <= stated.at < len(excess) else None)


def _flagged(stated: Stated, facts: SeriesFacts) -> Result:
    flagged = [v for v, e in enumerate(facts.variates.excess) if e >= SINE_EXCESS_THRESHOLD]
    return flagged, 0.0, list(stated.value) == flagged


def _answered(check: Callable[[Stated, Answer], Result]) -> Check:
    """A claim about the text's own answer: checkable when the answer parses."""
    return lambda stated, facts, answer: (
        check(stated, answer) if answer is not None and answer.answer_valid else None
    )


def _answer_count(stated: Stated, answer: Answer) -> Result:
    return _exact(stated, len(answer.intervals))


def _answer_interval(stated: Stated, answer: Answer) -> Result:
    start, end = stated.value
    nearest = min(answer.intervals, key=lambda s: abs(s[0] - start) + abs(s[1] - end), default=None)
    verified = (
        nearest is not None
        and max(abs(nearest[0] - start), abs(nearest[1] - end)) <= POSITION_POINTS
    )
    return None if nearest is None else list(nearest), float(POSITION_POINTS), verified


def _answer_class(stated: Stated, answer: Answer) -> Result:
    return _exact(stated, answer.label)


def _answer_variates(stated: Stated, answer: Answer) -> Result:
    return list(answer.variates), 0.0, sorted(stated.value) == sorted(answer.variates)


CHECKS: dict[str, Check] = {
    "length": _length,
    "missing": _univariate(_missing),
    "noise": _univariate(_noise),
    "mean": _global("mean"),
    "std": _global("std"),
    "median": _global("median"),
    "robust scale": _univariate(_robust_scale),
    "local scale": _univariate(_local_scale),
    "peak z": _univariate(_peak_z),
    "peak position": _univariate(_peak_position),
    "stretch count": _univariate(_stretch_count),
    "stretch": _univariate(_stretch),
    "period": _univariate(_period),
    "power share": _univariate(_power_share),
    "local period": _univariate(_local_period),
    "typical slope": _univariate(_typical_slope),
    "mean slope": _univariate(_mean_slope),
    "discord position": _univariate(_discord_position),
    "discord distance": _univariate(_discord_distance),
    "discord z": _univariate(_discord_z),
    "value": _univariate(_value),
    "profile": _univariate(_profile),
    "unlabelled range": _unlabelled_range,
    "spike": _univariate(_spike),
    "direction": _univariate(_direction),
    "no departure": _univariate(_no_departure),
    "variate count": _multivariate(_variate_count),
    "median excess": _multivariate(_median_excess),
    "excess": _multivariate(_excess),
    "flagged variates": _multivariate(_flagged),
    "answer count": _answered(_answer_count),
    "answer interval": _answered(_answer_interval),
    "answer class": _answered(_answer_class),
    "answer variates": _answered(_answer_variates),
}
"""The check of every claim kind :mod:`anomseer.faithfulness.claims` extracts."""
