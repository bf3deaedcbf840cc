"""Localisation and classification scores for AnomSeer answers (numpy only).

Intervals are half-open ``(start, end)`` index pairs over ``[0, length)`` (SPEC section 1).
Per-series scores follow SPEC section 4: when truth and prediction are both empty every
localisation term is 1; when exactly one is empty, or the answer is invalid, every term is 0.
Aggregates are means of per-series scores (SPEC section 6); invalid answers count as 0 and
are counted, never dropped.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence, Sized
from dataclasses import asdict, dataclass, fields

import numpy as np

from anomseer.intervals import (
    Interval,
    Intervals,
    intervals_to_mask,
    mask_to_intervals,
    normalize_intervals,
    remove_points,
)
from anomseer.protocol import LABELS, Answer, normalize_label, parse_answer

# ----------------------------------------------------------------------------- missing points


def missing_mask(series_or_mask: Sequence | np.ndarray) -> np.ndarray:
    """Boolean mask of missing points: a boolean mask as is, or the NaN (or None) entries of
    a univariate series."""
    values = np.asarray(series_or_mask)
    if values.dtype == bool:
        return values
    return np.isnan(np.asarray(series_or_mask, dtype=float))


# ----------------------------------------------------------------------------- point scores


def harmonic_f1(precision: float, recall: float) -> float:
    """``2PR / (P + R)``; 0 when both are 0 or either is undefined (NaN)."""
    total = precision + recall
    if not total > 0:
        return 0.0
    return 2.0 * precision * recall / total


def _precision_recall_f1(true_pos: int, pred_pos: int, truth_pos: int) -> tuple[float, ...]:
    precision = true_pos / pred_pos if pred_pos else 0.0
    recall = true_pos / truth_pos if truth_pos else 0.0
    return precision, recall, harmonic_f1(precision, recall)


def point_precision_recall_f1(
    prediction: Intervals, truth: Intervals, length: int
) -> tuple[float, float, float]:
    """Point-wise precision, recall and F1 of the binary vectors (zero_division = 0)."""
    pred = intervals_to_mask(prediction, length)
    true = intervals_to_mask(truth, length)
    return _precision_recall_f1(
        int(np.count_nonzero(pred & true)), int(np.count_nonzero(pred)), int(true.sum())
    )


def point_adjusted_f1(prediction: Intervals, truth: Intervals, length: int) -> float:
    """Point-adjusted F1: a truth event with any predicted point in it counts as wholly
    detected, then point-wise F1 (zero_division = 0)."""
    pred = intervals_to_mask(prediction, length)
    true = intervals_to_mask(truth, length)
    for start, end in mask_to_intervals(true):
        if pred[start:end].any():
            pred[start:end] = True
    return _precision_recall_f1(
        int(np.count_nonzero(pred & true)), int(np.count_nonzero(pred)), int(true.sum())
    )[2]


def set_precision_recall_f1(
    predicted: Iterable[int], truth: Iterable[int]
) -> tuple[float, float, float]:
    """Precision, recall and F1 of two sets of ids, e.g. anomalous variates (zero_division = 0)."""
    pred, true = set(predicted), set(truth)
    return _precision_recall_f1(len(pred & true), len(pred), len(true))


# ----------------------------------------------------------------------------- affiliation
#
# Huet et al. (KDD 2022), closed form for events [a, b] in zones [x, y] (|E| = y - x).
# Precision: a predicted point u at distance d = dist(u, [a, b]) scores the probability that a
# uniform point of the zone is at least as far from the event:
#     F(d) = 1 for d = 0,   F(d) = ((a - x - d)^+ + (y - b - d)^+) / |E| for d > 0,
# and G(d) = integral_0^d F = sum over c in {a - x, y - b} of (c m - m^2 / 2) / |E|, m = min(d, c).
# Recall: an event point t whose nearest prediction piece is [p, q] at distance s scores
# 1 - min(2 s, room) / |E|, with room = p - x when the piece is right of t and y - q when it
# is left of t; integral_0^s min(2 v, room) dv = min(s, room/2)^2 + room (s - room/2)^+.
# Event points are assigned to their nearest piece by cutting at midpoints between pieces.
# Everything is evaluated on padded (series, event, prediction) arrays.


def _pad(interval_lists: Sequence[list[Interval]], fill: np.ndarray) -> tuple[np.ndarray, ...]:
    """Padded ``(n, width)`` start, end and validity arrays; padding sits at ``fill``."""
    n = len(interval_lists)
    width = max(1, max(map(len, interval_lists), default=0))
    start = np.repeat(fill[:, None], width, axis=1)
    end = start.copy()
    valid = np.zeros((n, width), dtype=bool)
    rows = [i for i, spans in enumerate(interval_lists) for _ in spans]
    if rows:
        cols = [k for spans in interval_lists for k in range(len(spans))]
        flat = np.array([span for spans in interval_lists for span in spans], dtype=float)
        start[rows, cols] = flat[:, 0]
        end[rows, cols] = flat[:, 1]
        valid[rows, cols] = True
    return start, end, valid


def _positive(values: np.ndarray) -> np.ndarray:
    return np.maximum(values, 0.0)


def _mean_where(values: np.ndarray, defined: np.ndarray) -> np.ndarray:
    """Mean over the last axis of the defined entries; NaN where none is defined."""
    count = defined.sum(-1)
    total = np.where(defined, values, 0.0).sum(-1)
    return np.divide(total, count, out=np.full(total.shape, np.nan), where=count > 0)


def affiliation_precision_recall_batch(
    predictions: Sequence[Intervals], truths: Sequence[Intervals], lengths: Sequence[int]
) -> tuple[np.ndarray, np.ndarray]:
    """Affiliation precision and recall of many series at once (arrays of shape ``(n,)``).

    Precision is NaN for a series with no prediction, recall is NaN for one with no truth
    event (both are means over empty sets there).
    """
    if not len(predictions) == len(truths) == len(lengths):
        raise ValueError("predictions, truths and lengths must have the same number of series")
    ends = np.asarray(lengths, dtype=float)
    lengths = [int(n) for n in lengths]
    truths = [normalize_intervals(t, n) for t, n in zip(truths, lengths, strict=True)]
    predictions = [normalize_intervals(p, n) for p, n in zip(predictions, lengths, strict=True)]

    # Events (padding sits at the range end) and their zones, cut at midpoints between events.
    a, b, event = _pad(truths, ends)
    x = np.empty_like(a)
    x[:, 0] = 0.0
    x[:, 1:] = (b[:, :-1] + a[:, 1:]) / 2.0
    y = np.empty_like(a)
    y[:, -1] = ends
    y[:, :-1] = np.where(event[:, 1:], x[:, 1:], ends[:, None])
    zone = np.where(event, y - x, 1.0)

    # Prediction pieces: each prediction cut to each zone; axes (series, event, prediction).
    starts, stops, predicted = _pad(predictions, np.zeros(len(lengths)))
    a, b, x, y, zone = a[..., None], b[..., None], x[..., None], y[..., None], zone[..., None]
    p = np.maximum(starts[:, None, :], x)
    q = np.minimum(stops[:, None, :], y)
    piece = (q > p) & event[..., None] & predicted[:, None, :]

    left_room, right_room = a - x, y - b

    def survival_integral(d: np.ndarray) -> np.ndarray:
        m_left, m_right = np.minimum(d, left_room), np.minimum(d, right_room)
        area = left_room * m_left - m_left**2 / 2 + right_room * m_right - m_right**2 / 2
        return area / zone

    inside = _positive(np.minimum(q, b) - np.maximum(p, a))
    # the piece's parts before and after the event span distances [near, far]: G(far) - G(near)
    g = survival_integral(_positive(np.stack((a - p, a - q, q - b, p - b))))
    outside = (g[0] - g[1]) + (g[2] - g[3])
    mass = np.where(piece, inside + outside, 0.0).sum(-1)
    span = np.where(piece, q - p, 0.0).sum(-1)
    zone_precision = np.divide(mass, span, out=np.zeros_like(mass), where=span > 0)
    precision = _mean_where(zone_precision, span > 0)

    # Event points go to their nearest piece of the zone: cut the event at piece midpoints.
    previous = np.zeros_like(piece)
    previous[..., 1:] = piece[..., :-1]
    following = np.zeros_like(piece)
    following[..., :-1] = piece[..., 1:]
    lower = np.full_like(p, np.nan)
    lower[..., 1:] = (q[..., :-1] + p[..., 1:]) / 2.0
    upper = np.full_like(p, np.nan)
    upper[..., :-1] = lower[..., 1:]
    c = np.maximum(a, np.where(previous, lower, x))
    d = np.minimum(b, np.where(following, upper, y))
    part = piece & (d > c)

    def closer_integral(s: np.ndarray, room: np.ndarray) -> np.ndarray:
        half = room / 2.0
        return np.minimum(s, half) ** 2 + room * _positive(s - half)

    # distances [near, far] from the event part's points left of the piece, then right of it
    s = _positive(np.stack((p - d, p - c, c - q, d - q)))
    room = np.stack((p - x, p - x, y - q, y - q))
    closer = closer_integral(s, room)
    distant = (s[1] - s[0] + s[3] - s[2]) - (closer[1] - closer[0] + closer[3] - closer[2]) / zone
    covered = _positive(np.minimum(d, q) - np.maximum(c, p))
    event_mass = np.where(part, covered + distant, 0.0).sum(-1)
    event_recall = event_mass / np.where(event, b[..., 0] - a[..., 0], 1.0)
    recall = _mean_where(event_recall, event)
    return precision, recall


def affiliation_precision_recall(
    prediction: Intervals, truth: Intervals, length: int
) -> tuple[float, float]:
    """Affiliation precision and recall (Huet et al. 2022) over the time range ``[0, length)``.

    Precision is NaN when no zone holds a prediction; recall is NaN when there is no truth
    event. Intervals are clipped to the range and merged first.
    """
    precision, recall = affiliation_precision_recall_batch([prediction], [truth], [length])
    return float(precision[0]), float(recall[0])


# ----------------------------------------------------------------------------- classes


def class_accuracy(truth: Sequence[str], predicted: Sequence[str | None]) -> float:
    """Share of exact label matches (labels normalised; an unreadable label is wrong)."""
    if len(truth) != len(predicted):
        raise ValueError("truth and predicted labels must have the same length")
    if not truth:
        return math.nan
    pairs = zip(truth, predicted, strict=True)
    return sum(_label_matches(t, p) for t, p in pairs) / len(truth)


def class_macro_f1(truth: Sequence[str], predicted: Sequence[str | None]) -> float:
    """Macro F1 over the labels that occur in the truth or the predictions (zero_division = 0).

    An unreadable predicted label is a miss for its true class and no label's false positive.
    """
    if len(truth) != len(predicted):
        raise ValueError("truth and predicted labels must have the same length")
    true = [normalize_label(t) for t in truth]
    pred = [normalize_label(p) for p in predicted]
    present = [label for label in LABELS if label in true or label in pred]
    if not present:
        return math.nan
    scores = []
    for label in present:
        tp = sum(t == label and p == label for t, p in zip(true, pred, strict=True))
        fp = sum(t != label and p == label for t, p in zip(true, pred, strict=True))
        fn = sum(t == label and p != label for t, p in zip(true, pred, strict=True))
        scores.append(2 * tp / (2 * tp + fp + fn))
    return float(np.mean(scores))


def _label_matches(truth: str, predicted: str | None) -> bool:
    return predicted is not None and normalize_label(predicted) == normalize_label(truth)


# ----------------------------------------------------------------------------- one sample


LOCALIZATION_KEYS = ("precision", "recall", "f1", "aff_precision", "aff_recall", "aff_f1")
"""The six localisation terms whose mean is the localisation reward (SPEC section 4)."""


@dataclass(frozen=True)
class SampleScore:
    """Scores of one answer. For multivariate rows ``precision``/``recall``/``f1`` are those of
    the variate-id sets and the affiliation and point-adjusted terms are NaN (not defined)."""

    truth_label: str
    predicted_label: str | None
    answer_valid: bool
    format_valid: bool
    class_correct: bool
    multivariate: bool
    precision: float
    recall: float
    f1: float
    aff_precision: float
    aff_recall: float
    aff_f1: float
    pa_f1: float
    localization: float
    """Mean of the defined localisation terms (six, or three for multivariate rows)."""

    def as_dict(self) -> dict:
        """JSON-ready dict (NaN becomes None)."""
        return {k: _or_none(v) if isinstance(v, float) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, values: Mapping) -> SampleScore:
        """The score ``as_dict`` wrote (None becomes NaN again in the float fields)."""
        floats = {f.name for f in fields(cls) if f.type == "float"}
        return cls(
            **{
                f.name: math.nan if f.name in floats and values[f.name] is None else values[f.name]
                for f in fields(cls)
            }
        )


def score_sample(
    answer: Answer,
    truth_intervals: Intervals,
    truth_label: str,
    length: int,
    *,
    truth_variates: Iterable[int] | None = None,
    missing: Sequence | np.ndarray | None = None,
) -> SampleScore:
    """Score one parsed answer against the truth.

    ``truth_variates`` (a list, possibly empty) marks a multivariate row, scored on the
    variate-id sets. ``missing`` is the series (NaN = missing) or a boolean mask of missing
    points; those points are deleted from the time axis of truth and prediction first.
    The class is judged on the parsed label even when the ``<answer>`` block is invalid.
    """
    canonical = normalize_label(truth_label)
    if canonical is None:
        raise ValueError(f"unknown truth label {truth_label!r}; expected one of {LABELS}")
    multivariate = truth_variates is not None
    if multivariate:
        terms = _variate_terms(answer, truth_variates)
    else:
        terms = _interval_terms(answer, truth_intervals, length, missing)
    defined = [terms[k] for k in LOCALIZATION_KEYS if not math.isnan(terms[k])]
    return SampleScore(
        truth_label=canonical,
        predicted_label=answer.label,
        answer_valid=answer.answer_valid,
        format_valid=answer.format_valid,
        class_correct=answer.label == canonical,
        multivariate=multivariate,
        localization=sum(defined) / len(defined),
        **terms,
    )


def _convention(answer: Answer, predicted: Sized, truth: Sized) -> float | None:
    """1 when both are empty, 0 when exactly one is or the answer is invalid, else None."""
    if not answer.answer_valid:
        return 0.0
    if not predicted and not truth:
        return 1.0
    if not predicted or not truth:
        return 0.0
    return None


def _variate_terms(answer: Answer, truth_variates: Iterable[int]) -> dict[str, float]:
    truth = {int(v) for v in truth_variates}
    fixed = _convention(answer, answer.variates, truth)
    if fixed is None:
        precision, recall, f1 = set_precision_recall_f1(answer.variates, truth)
    else:
        precision = recall = f1 = fixed
    nan = math.nan
    return {
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "aff_precision": nan,
        "aff_recall": nan,
        "aff_f1": nan,
        "pa_f1": nan,
    }


def _interval_terms(
    answer: Answer, truth_intervals: Intervals, length: int, missing: Sequence | None
) -> dict[str, float]:
    truth = normalize_intervals(truth_intervals, length)
    predicted = normalize_intervals(answer.intervals, length)
    if missing is not None:
        mask = missing_mask(missing)
        truth, _ = remove_points(truth, length, mask)
        predicted, length = remove_points(predicted, length, mask)
    fixed = _convention(answer, predicted, truth)
    if fixed is not None:
        return dict.fromkeys((*LOCALIZATION_KEYS, "pa_f1"), fixed)
    precision, recall, f1 = point_precision_recall_f1(predicted, truth, length)
    aff_precision, aff_recall = affiliation_precision_recall(predicted, truth, length)
    return {
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "aff_precision": aff_precision,
        "aff_recall": aff_recall,
        "aff_f1": harmonic_f1(aff_precision, aff_recall),
        "pa_f1": point_adjusted_f1(predicted, truth, length),
    }


def is_multivariate_row(series: Sequence | None, variates: Sequence[int] | None) -> bool:
    """Whether a dataset row is multivariate: its series is a list of variates, or (when the
    series is not at hand) it names anomalous variates."""
    if series is not None and len(series) > 0:
        return isinstance(series[0], Sequence | np.ndarray)
    return variates is not None and len(variates) > 0


def score_completion(
    text: str,
    *,
    intervals: Intervals,
    anomaly_type: str,
    length: int,
    variates: Sequence[int] | None = None,
    series: Sequence | None = None,
) -> tuple[Answer, SampleScore]:
    """Parse a raw completion and score it against one dataset row (its DESIGN columns)."""
    multivariate = is_multivariate_row(series, variates)
    answer = parse_answer(text, length=length, multivariate=multivariate)
    if multivariate:
        truth_variates = [] if variates is None else variates
        score = score_sample(answer, intervals, anomaly_type, length, truth_variates=truth_variates)
    else:
        score = score_sample(answer, intervals, anomaly_type, length, missing=series)
    return answer, score


# ----------------------------------------------------------------------------- aggregation


MEAN_KEYS = (*LOCALIZATION_KEYS, "pa_f1", "localization")
"""Per-group means reported by ``aggregate_scores`` (None where no series defines them)."""


def aggregate_scores(
    scores: Sequence[SampleScore], families: Sequence[str] | None = None
) -> dict[str, dict]:
    """Means of per-series scores overall, per anomaly type and per family.

    Returns ``{"overall": group, "by_type": {label: group}, "by_family": {family: group}}``,
    each group holding ``count``, ``invalid_answers``, ``invalid_format``, the ``MEAN_KEYS``,
    ``class_accuracy``, ``class_macro_f1`` and ``format_rate`` (None where undefined).
    ``by_family`` is empty without ``families``.
    """
    if families is not None and len(families) != len(scores):
        raise ValueError("families must have one entry per score")
    by_type: dict[str, list[SampleScore]] = {label: [] for label in LABELS}
    by_family: dict[str, list[SampleScore]] = {}
    for i, score in enumerate(scores):
        by_type[score.truth_label].append(score)
        if families is not None:
            by_family.setdefault(str(families[i]), []).append(score)
    return {
        "overall": _summarize(scores),
        "by_type": {label: _summarize(group) for label, group in by_type.items() if group},
        "by_family": {name: _summarize(by_family[name]) for name in sorted(by_family)},
    }


def _summarize(scores: Sequence[SampleScore]) -> dict:
    columns: dict[str, list[float]] = {key: [] for key in MEAN_KEYS}
    for score in scores:
        for key in MEAN_KEYS:
            value = getattr(score, key)
            if not math.isnan(value):
                columns[key].append(value)
    truth = [s.truth_label for s in scores]
    predicted = [s.predicted_label for s in scores]
    formats = [s.format_valid for s in scores]
    summary: dict = {
        "count": len(scores),
        "invalid_answers": sum(not s.answer_valid for s in scores),
        "invalid_format": sum(not s.format_valid for s in scores),
    }
    summary.update({key: float(np.mean(v)) if v else None for key, v in columns.items()})
    summary["class_accuracy"] = _or_none(class_accuracy(truth, predicted))
    summary["class_macro_f1"] = _or_none(class_macro_f1(truth, predicted))
    summary["format_rate"] = _or_none(float(np.mean(formats)) if formats else math.nan)
    return summary


def _or_none(value: float) -> float | None:
    return None if math.isnan(value) else value
