"""Whole-series anomaly-score metrics as TSB-AD defines them (numpy only).

``tsb_ad_metrics(score, label, sliding_window)`` returns the nine numbers of TSB-AD's
``get_metrics(score, labels, slidingWindow)`` (TSB-AD 1.5, its defaults: VUS over 250
thresholds, the threshold-dependent metrics at their best over 100 equally spaced score
thresholds) and ``find_length_rank`` its sliding window. ``binary_metrics(label, pred)`` gives
the five threshold-dependent ones for a given binary prediction (TSB-AD's ``pred=`` path).

TSB-AD's definitions are kept with their quirks, so that numbers can be put beside its tables:
- Standard-F1 is the best ``2PR / (P + R + 1e-5)`` over the precision-recall curve;
- PA-F1's backward fill never reaches index 0 (an event starting at 0 and first hit later
  leaves point 0 unmarked);
- Event-based F1 ends an event that runs to the series end one point early;
- R-based F1 (Tatbul et al., flat bias, alpha 0.2 for recall, 0 for precision) sees no event
  in an all-anomalous vector;
- Affiliation-F is ``2PR / (P + R + 1e-15)`` and NaN when nothing is predicted;
- VUS (Paparrizos et al. 2022) averages range-AUC over buffer widths ``0..sliding_window``.
Every metric needs at least one anomalous and one normal point.
"""

from __future__ import annotations

import math

import numpy as np

from anomseer.metrics import affiliation_precision_recall_batch

METRIC_KEYS = (
    "AUC-PR",
    "AUC-ROC",
    "VUS-PR",
    "VUS-ROC",
    "Standard-F1",
    "PA-F1",
    "Event-based-F1",
    "R-based-F1",
    "Affiliation-F",
)
"""TSB-AD's ``get_metrics`` keys, in its order."""

THRESHOLD_KEYS = METRIC_KEYS[4:]
"""The threshold-dependent metrics, also defined for a binary prediction."""

VUS_THRESHOLDS = 250
BEST_OF_THRESHOLDS = 100

# ----------------------------------------------------------------------------- window length


def autocorrelation(series: np.ndarray, max_lag: int) -> np.ndarray:
    """Sample autocorrelation at lags ``0..max_lag`` (demeaned, biased, via FFT)."""
    x = np.asarray(series, dtype=float) - np.mean(series)
    n = len(x)
    spectrum = np.fft.rfft(x, n=2 * n)
    acov = np.fft.irfft(spectrum * np.conj(spectrum), n=2 * n)[: min(n, max_lag + 1)]
    return acov / acov[0]


def find_length_rank(series: np.ndarray, rank: int = 1) -> int:
    """TSB-AD's sliding window: the lag of the highest local maximum of the autocorrelation
    over lags 3..403 of the first 20,000 points (rank 1), 125 when that lag is outside
    6..303 or there is none; 0 for a multivariate series, 1 for rank 0."""
    data = np.squeeze(np.asarray(series, dtype=float))
    if data.ndim > 1:
        return 0
    if rank == 0:
        return 1
    if rank != 1:
        raise ValueError("find_length_rank implements rank 0 and 1")
    base = 3
    acf = autocorrelation(data[:20000], 400)[base:]
    peaks = np.flatnonzero((acf[1:-1] > acf[:-2]) & (acf[1:-1] > acf[2:])) + 1
    if not len(peaks):
        return 125
    best = peaks[np.argsort(acf[peaks])[::-1][0]]
    if best < 3 or best > 300:
        return 125
    return int(best + base)


# ----------------------------------------------------------------------------- helpers


def _runs(vector: np.ndarray) -> np.ndarray:
    """Runs of nonzero values as inclusive ``(k, 2)`` [start, end] rows."""
    flags = np.concatenate(([0], (np.asarray(vector) > 0).astype(np.int8), [0]))
    edges = np.diff(flags)
    return np.column_stack((np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1))


def _tsb_runs(vector: np.ndarray) -> np.ndarray:
    """TSB-AD's ``range_convers_new``: the runs, but none in a vector without a 0/1 change."""
    runs = _runs(vector)
    flags = np.asarray(vector) > 0
    return runs if flags.any() and not flags.all() else runs[:0]


def _f1(true_pos: float, pred_pos: float, truth_pos: float) -> float:
    """sklearn's binary F1 (zero_division 0)."""
    denominator = pred_pos + truth_pos
    return 2.0 * true_pos / denominator if denominator else 0.0


def _check(label: np.ndarray, other: np.ndarray, name: str) -> tuple[np.ndarray, np.ndarray]:
    label = np.asarray(label).astype(int).ravel()
    other = np.asarray(other).ravel()
    if len(label) != len(other):
        raise ValueError(f"{name} and label must have the same length")
    if not (label > 0).any() or (label > 0).all():
        raise ValueError("series metrics need at least one anomalous and one normal point")
    return label, other


# ----------------------------------------------------------------------------- threshold-free


def _curve_counts(score: np.ndarray, truth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """True and false positive counts at each distinct score, highest threshold first."""
    order = np.argsort(-score, kind="mergesort")
    ordered, hits = score[order], truth[order]
    last = np.r_[np.flatnonzero(np.diff(ordered)), len(ordered) - 1]
    true_pos = np.cumsum(hits)[last].astype(float)
    return true_pos, (last + 1) - true_pos


def auc_roc(score: np.ndarray, label: np.ndarray) -> float:
    """Area under the ROC curve (trapezoids over the distinct score thresholds)."""
    label, score = _check(label, score, "score")
    tp, fp = _curve_counts(np.asarray(score, dtype=float), label > 0)
    tpr = np.r_[0.0, tp / tp[-1]]
    fpr = np.r_[0.0, fp / fp[-1]]
    return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2.0))


def _precision_recall(score: np.ndarray, label: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    tp, fp = _curve_counts(np.asarray(score, dtype=float), label > 0)
    return tp / (tp + fp), tp / tp[-1]


def auc_pr(score: np.ndarray, label: np.ndarray) -> float:
    """Average precision: the sum of precision times recall gain over the distinct thresholds."""
    label, score = _check(label, score, "score")
    precision, recall = _precision_recall(score, label)
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def best_standard_f1(score: np.ndarray, label: np.ndarray) -> float:
    """TSB-AD's Standard-F1: the best ``2PR / (P + R + 1e-5)`` over the PR curve."""
    label, score = _check(label, score, "score")
    precision, recall = _precision_recall(score, label)
    return float(np.max(2 * precision * recall / (precision + recall + 1e-5)))


# ----------------------------------------------------------------------------- VUS


def _merged_ranges(events: np.ndarray, half: int, length: int) -> np.ndarray:
    """Events widened by ``half`` on each side, merged where they meet, clipped to the series."""
    starts, ends = events[:, 0] - half, events[:, 1] + half
    apart = ends[:-1] < starts[1:]
    first = np.r_[True, apart]
    last = np.r_[apart, True]
    merged = np.column_stack((starts[first], ends[last]))
    merged[0, 0] = max(merged[0, 0], 0)
    merged[-1, 1] = min(merged[-1, 1], length - 1)
    return merged


def _range_max(score: np.ndarray, ranges: np.ndarray) -> np.ndarray:
    """Maximum score in each inclusive, disjoint, ordered range."""
    bounds = np.column_stack((ranges[:, 0], ranges[:, 1] + 1)).ravel()
    if bounds[-1] >= len(score):
        bounds = bounds[:-1]
    return np.maximum.reduceat(score, bounds)[::2]


def _count_at_least(sorted_values: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """How many of the ascending ``sorted_values`` are >= each threshold."""
    return len(sorted_values) - np.searchsorted(sorted_values, thresholds, side="left")


def vus(
    score: np.ndarray, label: np.ndarray, sliding_window: int, thresholds: int = VUS_THRESHOLDS
) -> tuple[float, float]:
    """VUS-ROC and VUS-PR: range-AUC-ROC and range-AP averaged over buffer widths
    ``w = 0..sliding_window``.

    At width ``w`` each event is widened by ``w // 2`` points on each side with soft labels
    ``sqrt(1 - d / w)`` (d = distance to the event, summed over events, capped at 1). At each of
    ``thresholds`` thresholds (the sorted scores at evenly spaced ranks, ``score >= t``), with
    ``A`` the soft labels of the predicted buffer points: ``TP = hits + A``,
    ``P' = P + A / 2``, ``TPR = min(TP / P', 1) * (widened events hit / widened events)``,
    ``FPR = (predicted - TP) / (n - P')``, precision ``TP / predicted``. ROC runs from (0, 0)
    to (1, 1) by trapezoids; AP sums precision times TPR gain.
    """
    label, score = _check(label, score, "score")
    score = np.asarray(score, dtype=float)
    n = len(score)
    truth = label > 0
    events = _tsb_runs(label)
    cuts = np.linspace(0, n - 1, thresholds).astype(int)
    levels = np.sort(score)[::-1][cuts]
    predicted = _count_at_least(np.sort(score), levels).astype(float)
    hits = _count_at_least(np.sort(score[truth]), levels).astype(float)
    positives = float(truth.sum())

    # Buffer points (within sliding_window // 2 of an event, not anomalous), by score descending.
    outer = _merged_ranges(events, sliding_window // 2, n)
    near = np.zeros(n + 1, dtype=int)
    np.add.at(near, outer[:, 0], 1)
    np.add.at(near, outer[:, 1] + 1, -1)
    buffer = np.flatnonzero((np.cumsum(near[:n]) > 0) & ~truth)
    buffer = buffer[np.argsort(-score[buffer], kind="mergesort")]
    taken = _count_at_least(np.sort(score[buffer]), levels)
    position = np.full(n, -1)
    position[buffer] = np.arange(len(buffer))

    roc, ap = [], []
    for width in range(sliding_window + 1):
        half = width // 2
        soft = np.zeros(len(buffer))
        if half:
            distance = np.arange(1, half + 1)
            weight = np.sqrt(1 - distance / width)
            right = events[:, 1:2] + distance
            left = events[:, 0:1] - distance
            spots = np.concatenate((right.ravel(), left.ravel()))
            weights = np.tile(weight, 2 * len(events))
            inside = (spots >= 0) & (spots < n)
            slot = position[spots[inside]]
            kept = slot >= 0
            soft = np.minimum(np.bincount(slot[kept], weights[inside][kept], len(buffer)), 1.0)
        gained = np.r_[0.0, np.cumsum(soft)][taken]
        true_pos = hits + gained
        new_positives = positives + gained / 2
        ranges = _merged_ranges(events, half, n)
        found = _count_at_least(np.sort(_range_max(score, ranges)), levels) / len(ranges)
        tpr = np.minimum(true_pos / new_positives, 1.0) * found
        fpr = (predicted - true_pos) / (n - new_positives)
        precision = true_pos / predicted
        tpr_curve, fpr_curve = np.r_[0.0, tpr, 1.0], np.r_[0.0, fpr, 1.0]
        roc.append(np.dot(np.diff(fpr_curve), (tpr_curve[1:] + tpr_curve[:-1]) / 2))
        ap.append(np.dot(np.diff(tpr_curve[:-1]), precision))
    return float(np.mean(roc)), float(np.mean(ap))


# ----------------------------------------------------------------------------- binary predictions


def point_adjusted_f1(label: np.ndarray, pred: np.ndarray) -> float:
    """PA-F1 of a binary prediction: an event with a predicted point counts as wholly
    predicted (TSB-AD's backward fill stops before index 0, so an event starting at 0 and
    first hit later leaves point 0 as it was)."""
    truth = label > 0
    events = _runs(truth)
    covered = np.r_[0, np.cumsum(pred)]
    starts, stops = events[:, 0], events[:, 1] + 1
    hit = covered[stops] > covered[starts]
    filled = np.maximum(starts, 1)
    added = np.maximum(stops - filled - (covered[stops] - covered[filled]), 0)
    gain = int(added[hit].sum())
    return _f1(np.count_nonzero(pred & truth) + gain, pred.sum() + gain, truth.sum())


def event_f1(label: np.ndarray, pred: np.ndarray) -> float:
    """Event recall (events hit) with point precision, ``2RP / (R + P + 1e-15)``."""
    events = _runs(label == 1)
    ends = np.where(events[:, 1] == len(label) - 1, events[:, 1] - 1, events[:, 1])
    prefix = np.r_[0, np.cumsum(pred)]
    recall = np.mean(prefix[ends + 1] - prefix[events[:, 0]] > 0) if len(events) else math.nan
    predicted = pred.sum()
    precision = np.count_nonzero(pred & (label > 0)) / predicted if predicted else 0.0
    return float(2 * recall * precision / (recall + precision + 1e-15))


def _range_recall(truth: np.ndarray, pred: np.ndarray, alpha: float) -> float:
    """Tatbul et al.'s range recall of ``pred`` against ``truth`` (flat bias, reciprocal
    cardinality), TSB-AD's ``range_recall_new``; precision is this with the roles swapped."""
    events = _tsb_runs(truth)
    if not len(events):
        return 0.0
    starts, ends = events[:, 0], events[:, 1]
    covered = np.r_[0, np.cumsum(pred > 0)]
    hit = covered[ends + 1] - covered[starts]
    pieces = _tsb_runs(pred)
    # pieces meeting [start, end]: those starting by its end less those ending before its start
    meeting = np.searchsorted(pieces[:, 0], ends, side="right") - np.searchsorted(
        pieces[:, 1], starts, side="left"
    )
    cardinality = np.divide(1.0, meeting, out=np.zeros(len(hit)), where=meeting > 0)
    overlap = hit / (ends + 1 - starts) * cardinality
    return float(np.mean(alpha * (hit > 0) + (1 - alpha) * overlap))


def range_f1(label: np.ndarray, pred: np.ndarray) -> float:
    """R-based F1: range recall (alpha 0.2) and range precision (alpha 0)."""
    recall = _range_recall(label, pred, 0.2)
    precision = _range_recall(pred, label, 0.0)
    total = recall + precision
    return 2 * recall * precision / total if total else 0.0


def affiliation_f(label: np.ndarray, pred: np.ndarray) -> float:
    """Affiliation F, ``2PR / (P + R + 1e-15)``, of a binary prediction (NaN when empty).

    Each event's zone is scored on its own (``affiliation_precision_recall_batch`` with one
    series per zone holding that event and the predicted runs cut to the zone), which gives
    the same numbers as the whole series at once without its events-by-runs arrays. Zone ends
    are midpoints between events, so coordinates are doubled to keep them whole (affiliation
    is unchanged by scaling the time axis).
    """
    events, pieces = _runs(label) * 2, _runs(pred) * 2
    starts, ends = events[:, 0], events[:, 1] + 2
    piece_starts, piece_ends = pieces[:, 0], pieces[:, 1] + 2
    bounds = np.r_[0, (ends[:-1] + starts[1:]) // 2, 2 * len(label)]
    predictions, truths, lengths = [], [], []
    for k in range(len(events)):
        low, high = bounds[k], bounds[k + 1]
        first = np.searchsorted(piece_ends, low, side="right")
        last = np.searchsorted(piece_starts, high, side="left")
        spans = zip(piece_starts[first:last] - low, piece_ends[first:last] - low, strict=True)
        predictions.append([(int(p), int(q)) for p, q in spans])
        truths.append([(int(starts[k] - low), int(ends[k] - low))])
        lengths.append(int(high - low))
    precision, recall = affiliation_precision_recall_batch(predictions, truths, lengths)
    defined = precision[~np.isnan(precision)]
    p = defined.mean() if len(defined) else math.nan
    r = recall.mean()
    return float(2 * p * r / (p + r + 1e-15))


def binary_metrics(label: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    """The threshold-dependent metrics of a binary prediction (TSB-AD's ``pred=`` path)."""
    label, pred = _check(label, pred, "pred")
    pred = np.asarray(pred) > 0
    truth = label > 0
    return {
        "Standard-F1": _f1(np.count_nonzero(pred & truth), pred.sum(), truth.sum()),
        "PA-F1": point_adjusted_f1(label, pred),
        "Event-based-F1": event_f1(label, pred),
        "R-based-F1": range_f1(label, pred.astype(int)),
        "Affiliation-F": affiliation_f(label, pred),
    }


def _python_max(values: list[float]) -> float:
    """``max`` as Python's builtin takes it (a leading NaN wins, a later one is skipped)."""
    return float(max(values))


def best_over_thresholds(score: np.ndarray, label: np.ndarray) -> dict[str, float]:
    """PA-F1, Event-based-F1, R-based-F1 and Affiliation-F at their best over 100 equally
    spaced thresholds from the lowest to the highest score (``score > t``); thresholds that
    predict the same points are scored once."""
    label, score = _check(label, score, "score")
    score = np.asarray(score, dtype=float)
    levels = np.linspace(score.min(), score.max(), BEST_OF_THRESHOLDS)
    predicted = np.searchsorted(np.sort(score), levels, side="right")
    found: dict[int, tuple[float, ...]] = {}
    for level, count in zip(levels, predicted, strict=True):
        if count not in found:
            pred = score > level
            found[count] = (
                point_adjusted_f1(label, pred),
                event_f1(label, pred),
                range_f1(label, pred.astype(int)),
                affiliation_f(label, pred),
            )
    columns = zip(*(found[count] for count in predicted), strict=True)
    keys = ("PA-F1", "Event-based-F1", "R-based-F1", "Affiliation-F")
    return {key: _python_max(list(values)) for key, values in zip(keys, columns, strict=True)}


def tsb_ad_metrics(score: np.ndarray, label: np.ndarray, sliding_window: int) -> dict[str, float]:
    """TSB-AD's ``get_metrics(score, labels, slidingWindow)``, its nine metrics by name."""
    vus_roc, vus_pr = vus(score, label, sliding_window)
    metrics = {
        "AUC-PR": auc_pr(score, label),
        "AUC-ROC": auc_roc(score, label),
        "VUS-PR": vus_pr,
        "VUS-ROC": vus_roc,
        "Standard-F1": best_standard_f1(score, label),
    }
    metrics.update(best_over_thresholds(score, label))
    return {key: metrics[key] for key in METRIC_KEYS}
