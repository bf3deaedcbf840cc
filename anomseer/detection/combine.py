"""Window answers -> one score per point of the whole series, global intervals and classes.

The rule: a window's vote for a point it covers is the share of its completions (``n`` per
window) whose answer marks the point; a point's score is the mean vote of the windows covering
it. A failed request or an invalid answer marks nothing. With ``n = 1`` the score is the share
of covering windows that mark the point; with ``--n`` it is weighted by the samples' agreement.
Detected intervals are the runs of points scoring at least the threshold; each takes the label
most answers overlapping it gave (ties go to the protocol's label order).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from anomseer.intervals import Interval, mask_to_intervals
from anomseer.protocol import LABELS


@dataclass(frozen=True)
class WindowAnswers:
    """The answers about one window ``[offset, offset + length)``: per completion, its
    intervals (window coordinates; empty for a failed or invalid one) and its label."""

    offset: int
    length: int
    intervals: Sequence[Sequence[Interval]]
    labels: Sequence[str | None]


def point_scores(length: int, windows: Sequence[WindowAnswers]) -> np.ndarray:
    """The mean vote of the covering windows at every point (0 where no window covers it)."""
    votes = np.zeros(length + 1)
    cover = np.zeros(length + 1)
    for window in windows:
        stop = window.offset + window.length
        cover[window.offset] += 1
        cover[stop] -= 1
        share = 1.0 / max(1, len(window.intervals))
        for spans in window.intervals:
            for start, end in spans:
                votes[window.offset + max(0, start)] += share
                votes[window.offset + min(window.length, end)] -= share
    covering = np.cumsum(cover)[:length]
    marked = np.cumsum(votes)[:length]
    return np.divide(marked, covering, out=np.zeros(length), where=covering > 0)


def detected_intervals(score: np.ndarray, threshold: float) -> list[Interval]:
    """Runs of points whose score is at least ``threshold``."""
    return mask_to_intervals(np.asarray(score) >= threshold)


def interval_classes(detected: Sequence[Interval], windows: Sequence[WindowAnswers]) -> list[str]:
    """The label most answers overlapping each detected interval gave (``unknown`` when none
    gave one)."""
    spans = [
        (window.offset + start, window.offset + end, label)
        for window in windows
        for intervals, label in zip(window.intervals, window.labels, strict=True)
        for start, end in intervals
        if label is not None
    ]
    classes = []
    for start, end in detected:
        counts = Counter(label for s, e, label in spans if s < end and start < e)
        best = max(counts.values(), default=0)
        winners = [label for label in LABELS if counts.get(label) == best and best]
        classes.append(winners[0] if winners else "unknown")
    return classes
