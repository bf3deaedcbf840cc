"""Half-open index intervals ``[start, end)`` over a series of ``length`` points (numpy only).

The one home of the interval algebra: merging, clipping, masks and windows. A single point
``p`` is ``[p, p + 1)``; intervals that touch (``[1, 3)`` and ``[3, 5)``) merge into one.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

Interval = tuple[int, int]
Intervals = Sequence[Sequence[int]]


def merge_intervals(spans: Iterable[Sequence[int]]) -> list[Interval]:
    """Sort half-open intervals and merge the ones that overlap or touch."""
    merged: list[Interval] = []
    for start, end in sorted((int(s), int(e)) for s, e in spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def normalize_intervals(intervals: Intervals, length: int) -> list[Interval]:
    """Intervals clipped to ``[0, length)``, empty ones dropped, sorted and merged."""
    clipped = ((max(int(s), 0), min(int(e), length)) for s, e in intervals)
    return merge_intervals((s, e) for s, e in clipped if s < e)


def intervals_to_mask(intervals: Intervals, length: int) -> np.ndarray:
    """Boolean vector of ``length`` points, True inside the intervals."""
    mask = np.zeros(length, dtype=bool)
    for start, end in intervals:
        mask[max(int(start), 0) : max(int(end), 0)] = True
    return mask


def mask_to_intervals(mask: np.ndarray) -> list[Interval]:
    """The maximal runs of True in a boolean vector, as half-open intervals."""
    edges = np.diff(np.concatenate(([0], np.asarray(mask, dtype=bool).astype(np.int8), [0])))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return [(int(s), int(e)) for s, e in zip(starts, ends, strict=True)]


def overlaps_any(start: int, end: int, intervals: Intervals) -> bool:
    """Whether ``[start, end)`` shares at least one point with one of ``intervals``."""
    return any(s < end and start < e for s, e in intervals)


def points_to_intervals(points: Iterable[int]) -> list[Interval]:
    """Anomalous point indices as merged intervals (``p -> [p, p + 1)``)."""
    return merge_intervals((int(p), int(p) + 1) for p in points)


def remove_points(
    intervals: Intervals, length: int, removed: np.ndarray
) -> tuple[list[Interval], int]:
    """Delete the points where the boolean ``removed`` is True from the time axis: the
    intervals re-indexed on the remaining points, and the number of remaining points."""
    if len(removed) != length:
        raise ValueError(f"mask has {len(removed)} points for a series of length {length}")
    kept = intervals_to_mask(intervals, length)[~np.asarray(removed, dtype=bool)]
    return mask_to_intervals(kept), len(kept)


def clip_intervals(intervals: Intervals, offset: int, length: int) -> list[Interval]:
    """The parts of ``intervals`` inside the window ``[offset, offset + length)``, in window
    coordinates (0 at ``offset``)."""
    clipped = []
    for start, end in intervals:
        start, end = max(int(start), offset), min(int(end), offset + length)
        if start < end:
            clipped.append((start - offset, end - offset))
    return clipped


def cuts_an_anomaly(intervals: Intervals, offset: int, length: int) -> bool:
    """Whether the window ``[offset, offset + length)`` splits an interval (an anomaly) at one
    of its edges (part of it inside, part outside)."""
    stop = offset + length
    return any(s < offset < e or s < stop < e for s, e in intervals)
