"""Expert chain of thought (ExpCoT, SPEC section 3): fluent, deterministic text written from the
expert evidence and the truth. Every number in it comes from the series (through
``data_gen.expert.panel``) or from the truth intervals; nothing is random.

The trace first reports each analysis of the panel (label-free: :func:`describe_evidence`),
then ties the evidence to the labelled intervals and class (:func:`write_expcot`). It is the
``<think>`` part of the SFT target and the reference text of TimerPO's grounded advantage; it
never goes into the prompt.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from anomseer.protocol import NORMAL_LABEL, normalize_label
from data_gen.expert.panel import GRADIENT_ORDER, GRADIENT_WINDOW, LOCAL_WINDOW, Evidence, Span
from data_gen.expert.variates import SINE_EXCESS_THRESHOLD, VariateEvidence

EXPCOT_STYLES = ("full", "brief")
"""``full``: every analysis of the panel, then the evidence per labelled interval (real
training). ``brief``: the class at first sight, the interval count, the decisive numbers of the
first labelled interval and the class, short enough for a tiny model to learn on a CPU (the
demo)."""
MAX_LISTED = 3
"""Stretches listed per analysis (and truth intervals detailed); the rest are counted."""
SLOPE_UNIT = 100
"""Slopes are written per this many points."""


def describe_evidence(evidence: Evidence) -> str:
    """The panel's findings in plain sentences, without any truth."""
    g, local, p, t, d = (
        evidence.global_stats,
        evidence.local,
        evidence.periodicity,
        evidence.trend,
        evidence.discord,
    )
    missing = (
        f", {evidence.missing} of them missing and filled by linear interpolation"
        if evidence.missing
        else ""
    )
    noisy = "noisy, so slow changes are read from a smoothed copy" if evidence.noisy else "clean"
    global_condition = f"|z| > {evidence.thresholds.global_z:.3g}"
    local_condition = f"|z| > {evidence.thresholds.local_z:.3g}"
    parts = [
        f"The series has {evidence.length} points{missing}; its noise level is "
        f"{evidence.noise:.3f} ({noisy}).",
        f"Global statistics: mean {g.mean:.3f}, std {g.std:.3f}; robust z-scores (median "
        f"{g.median:.3f}, scale {g.scale:.3f}) peak at |z| = {abs_z(g.max_abs_z)} at "
        f"t = {g.argmax}; "
        + (
            f"{_count(g.spans)} {'has' if len(g.spans) == 1 else 'have'} {global_condition}: "
            f"{_listing(g.spans)}"
            if g.spans
            else f"no point has {global_condition}"
        )
        + ".",
        f"Local context: residuals from a running median of {LOCAL_WINDOW} points, in units of "
        f"{local.scale:.3f}, peak at |z| = {abs_z(local.max_abs_z)} at t = {local.argmax}; "
        + (
            f"{_count(local.spans)} {'has' if len(local.spans) == 1 else 'have'} "
            f"{local_condition}: {_listing(local.spans)}"
            if local.spans
            else f"no point has {local_condition}"
        )
        + ".",
    ]
    if p.period is None:
        parts.append(
            f"Frequency: no dominant period (the largest FFT peak holds {p.power_share:.0%} of "
            "the power)."
        )
    else:
        periods = [f" with period {period:.1f}" for period in p.span_periods]
        parts.append(
            f"Frequency: the FFT's dominant period is {p.period:.1f} points "
            f"({p.power_share:.0%} of the power); the local period from the analytic signal "
            f"{_departs(p.spans, periods, evidence.thresholds.frequency_z)}."
        )
    slopes = [f" at {_slope(slope)}" for slope in t.span_slopes]
    parts.append(
        f"Trend: after {t.smoothing}, the Savitzky-Golay gradient (window {GRADIENT_WINDOW}, "
        f"order {GRADIENT_ORDER}) is typically {_slope(t.typical_slope)} and "
        f"{_departs(t.spans, slopes, evidence.thresholds.slope_z)}."
    )
    parts.append(
        f"Shape: the matrix-profile discord (window {d.window}) starts at t = {d.start}, "
        f"distance {d.distance:.2f} to its nearest neighbour (z = {d.z:.1f})."
    )
    return " ".join(parts)


def write_expcot(evidence: Evidence, intervals: Sequence[Sequence[int]], label: str) -> str:
    """The ExpCoT of a univariate series: the panel's findings, then the evidence inside each
    labelled interval, then the class."""
    canonical = normalize_label(label)
    if canonical is None:
        raise ValueError(f"unknown label {label!r}")
    return f"{describe_evidence(evidence)} {_conclusion(evidence, intervals, canonical)}"


def write_brief_expcot(evidence: Evidence, intervals: Sequence[Sequence[int]], label: str) -> str:
    """The brief ExpCoT: the class the plot shows at first sight, the interval count, the
    evidence inside the first labelled interval of the class's analysis, then the class.

    The first sight comes first so the model's one decision that needs the plot is made
    before any text that names the class; after it the trace follows from it."""
    canonical = normalize_label(label)
    if canonical is None:
        raise ValueError(f"unknown label {label!r}")
    first_sight = f"At first sight: {canonical}."
    if canonical == NORMAL_LABEL or not intervals:
        return f"{first_sight} No stretch differs in kind from the rest, so the series is normal."
    count = len(intervals)
    start, end = (int(v) for v in intervals[0])
    inside = _inside(evidence, start, end, canonical, _unlabelled_range(evidence, intervals))
    return (
        f"{first_sight} {count} anomalous interval{'s' if count != 1 else ''}. {inside} "
        f"So the class is {canonical}."
    )


def _unlabelled_range(
    evidence: Evidence, intervals: Sequence[Sequence[int]]
) -> tuple[float, float]:
    """Value range of the points outside every labelled interval (all points if none are)."""
    values = evidence.scores["values"]
    outside = np.ones(values.size, dtype=bool)
    for s, e in intervals:
        outside[int(s) : int(e)] = False
    rest = values[outside] if outside.any() else values
    return float(rest.min()), float(rest.max())


def _conclusion(evidence: Evidence, intervals: Sequence[Sequence[int]], label: str) -> str:
    if label == NORMAL_LABEL or not intervals:
        flagged = (
            evidence.global_stats.spans
            or evidence.local.spans
            or evidence.periodicity.spans
            or evidence.trend.spans
        )
        if flagged:
            return (
                "Conclusion: the departures above are brief and weak, the kind noise and "
                "window edges produce; no stretch differs in kind from the rest, so the series "
                "is normal."
            )
        return "Conclusion: no analysis finds a departure, so the series is normal."
    unlabelled = _unlabelled_range(evidence, intervals)
    details = [
        _inside(evidence, int(s), int(e), label, unlabelled) for s, e in intervals[:MAX_LISTED]
    ]
    extra = len(intervals) - MAX_LISTED
    more = ""
    if extra == 1:
        more = " The other labelled interval looks the same."
    elif extra > 1:
        more = f" The other {extra} labelled intervals look the same."
    count = len(intervals)
    return (
        f"Conclusion: {count} anomalous interval{'s' if count != 1 else ''}. "
        + " ".join(details)
        + f"{more} {_REASONS[label]}, so the class is {label}."
    )


_REASONS = {
    "global point": "The values jump outside the range the rest of the series keeps",
    "contextual point": "The values break from their neighbours while staying inside the "
    "series' overall range",
    "seasonal": "The rhythm changes (a different period) while level and trend hold",
    "trend": "The level drifts at a different rate than elsewhere, not a spike or a new rhythm",
    "shapelet": "The waveform takes a shape seen nowhere else in the series",
}


def _inside(
    evidence: Evidence, start: int, end: int, label: str, unlabelled: tuple[float, float]
) -> str:
    """The evidence of the label's analysis inside ``[start, end)``; ``unlabelled`` is the
    value range of the points outside every labelled interval."""
    where = f"[{start}, {end})"
    scores = evidence.scores
    if scores["missing"][start:end].all():
        return f"In {where} the points are missing, so the plot shows a gap there."
    if label == "global point":
        peak, z = evidence.peak_inside("global_z", start, end)
        value = float(scores["values"][peak])
        low, high = unlabelled
        if value > high or value < low:
            position = "outside"
        elif value in (high, low):
            position = "at the edge of"
        else:
            position = "inside"
        return (
            f"In {where} the value reaches {value:.2f} at t = {peak} (robust |z| = {abs_z(z)}), "
            f"{position} the range [{low:.2f}, {high:.2f}] of the unlabelled points."
        )
    if label == "contextual point":
        peak, z = evidence.peak_inside("local_z", start, end)
        return f"In {where} the local z-score reaches {abs_z(z)} at t = {peak}."
    if label == "seasonal":
        frequency = float(np.median(scores["frequency"][start:end]))
        period = f"{1 / frequency:.1f}" if frequency > 0 else "undefined"
        typical = evidence.periodicity.period
        against = f" against the typical {typical:.1f}" if typical is not None else ""
        return f"In {where} the local period is {period} points{against}."
    if label == "trend":
        slope = float(np.mean(scores["slope"][start:end]))
        return (
            f"In {where} the gradient averages {_slope(slope)} against the typical "
            f"{_slope(evidence.trend.typical_slope)}."
        )
    profile = scores["matrix_profile"]
    window = evidence.discord.window
    first = max(0, start - window + 1)
    last = max(first + 1, min(end, profile.size))
    offset = int(np.argmax(profile[first:last]))
    return (
        f"In {where} the subsequence starting at t = {first + offset} lies at distance "
        f"{profile[first + offset]:.2f} from its nearest neighbour (window {window})."
    )


def describe_variates(evidence: VariateEvidence) -> str:
    """The multivariate panel's findings, without any truth."""
    excess = np.asarray(evidence.excess)
    order = np.argsort(-excess, kind="stable")[:MAX_LISTED]
    top = ", ".join(f"variate {v}: {excess[v]:.2f}" for v in order)
    flagged = (
        f"variates {list(evidence.flagged)} reach {SINE_EXCESS_THRESHOLD:g}"
        if evidence.flagged
        else f"no variate reaches {SINE_EXCESS_THRESHOLD:g}"
    )
    return (
        f"The grid shows {len(excess)} variates of {evidence.length} points. For each variate "
        "the best-fitting sinusoid leaves a residual; divided by the variate's noise level this "
        f"excess is near 1 for a sinusoid plus noise. The median excess is "
        f"{float(np.median(excess)):.2f}; the largest are {top}; {flagged}."
    )


def write_variate_expcot(evidence: VariateEvidence, variates: Sequence[int], label: str) -> str:
    """The ExpCoT of a multivariate series: per-variate evidence tied to the labelled ids."""
    canonical = normalize_label(label)
    if canonical is None:
        raise ValueError(f"unknown label {label!r}")
    text = describe_variates(evidence)
    if canonical == NORMAL_LABEL or not variates:
        return f"{text} Conclusion: every variate follows a sinusoid, so the series is normal."
    ids = [int(v) for v in variates]
    values = ", ".join(f"{evidence.excess[v]:.2f}" for v in ids)
    subject = (
        f"variates {ids} (excess {values}) follow"
        if len(ids) > 1
        else (f"variate {ids[0]} (excess {values}) follows")
    )
    return (
        f"{text} Conclusion: {subject} a waveform other than the sinusoid the other variates "
        f"share, so the class is {canonical}."
    )


def abs_z(value: float) -> str:
    """|z| with one decimal."""
    return f"{abs(value):.1f}"


def _slope(slope: float) -> str:
    return f"{slope * SLOPE_UNIT:+.3f} per {SLOPE_UNIT} points"


def _count(spans: Sequence[Span]) -> str:
    return f"{len(spans)} stretch{'es' if len(spans) != 1 else ''}"


def _listing(spans: Sequence[Span], details: Sequence[str] = ()) -> str:
    """The first ``MAX_LISTED`` spans as ``[start, end)`` plus their details, and a count of
    the rest."""
    details = list(details) or [""] * len(spans)
    listed = ", ".join(
        f"[{s.start}, {s.end}){detail}"
        for s, detail in zip(spans[:MAX_LISTED], details, strict=False)
    )
    rest = len(spans) - MAX_LISTED
    return f"{listed} and {rest} more" if rest > 0 else listed


def _departs(spans: Sequence[Span], details: Sequence[str], threshold: float) -> str:
    if not spans:
        return f"stays within {threshold:.3g} sigma of it"
    return (
        f"departs by more than {threshold:.3g} sigma in {_count(spans)}: {_listing(spans, details)}"
    )
