"""Cut long series into plot-sized windows, clip the truth to each, and thin out normal ones.

A window is ``[offset, offset + length)`` of its series; truth inside it is shifted by
``offset``, so an answer's interval ``[s, e)`` on the plot is ``[offset + s, offset + e)`` in
the source file. Two ways to place windows: :func:`anomaly_aware_windows` (the default for
real data) puts every anomaly that fits whole inside one window with normal context on both
sides and never overlaps two windows; :func:`window_offsets` is the fixed grid.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def window_offsets(length: int, window: int, stride: int) -> list[int]:
    """Start of every window: every ``stride`` points while a whole window fits, plus one
    window ending at the last point when the strides leave a tail uncovered. A series no
    longer than ``window`` is one window starting at 0."""
    if window < 1 or stride < 1:
        raise ValueError(f"window ({window}) and stride ({stride}) must be positive")
    if length <= window:
        return [0]
    offsets = list(range(0, length - window + 1, stride))
    if offsets[-1] + window < length:
        offsets.append(length - window)
    return offsets


def context_points(window: int) -> int:
    """Normal points an anomaly-aware window keeps on each side of its anomalies (5 %)."""
    return max(1, window // 20)


def anomaly_aware_windows(
    start: int,
    stop: int,
    window: int,
    intervals: Sequence[Sequence[int]],
    rng: np.random.Generator,
    min_length: int = 1,
) -> list[tuple[int, int]]:
    """Non-overlapping ``(offset, length)`` windows over ``[start, stop)`` of a series.

    Anomalies are grouped left to right while a group spans at most the window less
    :func:`context_points` on each side; each group gets one window holding it whole with
    that normal context on both sides, at a position drawn from ``rng`` (so anomalies do not
    sit at one place in every plot) among those that leave the next group its own context.
    Where neighbours are too close, the room left for the group after next goes first, then
    the context; two groups that fit one window without context share it. A longer anomaly
    is covered by consecutive windows. The stretches between are tiled with whole windows of
    normal points (a remainder shorter than a window is left out). A region shorter than
    ``window`` is one window; a last stretch holding an anomaly but too short for a whole
    window becomes one shorter window when it has at least ``min_length`` points."""
    if window < 1 or stop - start < min_length:
        return []
    if stop - start <= window:
        return [(start, stop - start)]
    context = context_points(window)
    groups = _groups(intervals, start, stop, window - 2 * context)
    chosen: list[tuple[int, int]] = []
    position, k = start, 0
    while k < len(groups) and position + window <= stop:
        first, end = groups[k]
        following = groups[k + 1] if k + 1 < len(groups) else (stop + window, stop + window)
        k += 1
        if end <= position:
            continue
        if end - first > window:  # too long: consecutive windows over it
            offset = max(position, min(first - context, stop - window))
            while offset < end and offset + window <= stop:
                chosen.append((offset, window))
                offset += window
            position = offset
            continue
        # the latest start that still holds the next group whole before the one after it
        after = groups[k + 1][0] if k + 1 < len(groups) else stop + window
        room_for_next = min(following[0], after - window) - window
        options = (
            (
                end + context - window,
                min(first - context, following[0] - context - window, room_for_next),
            ),
            (end + context - window, min(first - context, following[0] - context - window)),
            (end + context - window, min(first - context, room_for_next)),
            (end - window, min(first, room_for_next)),
            (end - window, min(first, following[0] - window)),
        )
        feasible = [
            (max(low, position), min(high, stop - window))
            for low, high in options
            if max(low, position) <= min(high, stop - window)
        ]
        if not feasible and following[1] - first <= window:  # one window for both groups
            groups[k] = (first, following[1])
            continue
        low, high = feasible[0] if feasible else (position, position)
        offset = int(rng.integers(low, high + 1))
        chosen.append((offset, window))
        position = offset + window
    if position < stop and any(e > position for _, e in groups) and stop - position >= min_length:
        chosen.append((position, stop - position))
    return _tile_gaps(chosen, start, stop, window)


def _groups(
    intervals: Sequence[Sequence[int]], start: int, stop: int, room: int
) -> list[tuple[int, int]]:
    """The intervals inside ``[start, stop)``, sorted, merged left to right into groups that
    span at most ``room`` points (a longer interval is a group of its own)."""
    groups: list[tuple[int, int]] = []
    for s, e in sorted((int(s), int(e)) for s, e in intervals):
        s, e = max(s, start), min(e, stop)
        if s >= e:
            continue
        if groups and max(e, groups[-1][1]) - groups[-1][0] <= room:
            groups[-1] = (groups[-1][0], max(e, groups[-1][1]))
        else:
            groups.append((s, e))
    return groups


def _tile_gaps(
    chosen: list[tuple[int, int]], start: int, stop: int, window: int
) -> list[tuple[int, int]]:
    """``chosen`` plus whole windows tiling each stretch of ``[start, stop)`` between them."""
    result, position = [], start
    for offset, length in [*chosen, (stop, 0)]:
        while position + window <= offset:
            result.append((position, window))
            position += window
        if length:
            result.append((offset, length))
        position = max(position, offset + length)
    return result


def keep_normal(anomalous: int, normal: int, ratio: float | None, seed: int) -> np.ndarray:
    """Which of ``normal`` anomaly-free windows to keep (sorted positions among them) so they
    make up ``ratio`` of the kept windows next to ``anomalous`` anomalous ones: ``round(ratio /
    (1 - ratio) * anomalous)``, or all of them when there are fewer. ``None`` keeps every one.
    The choice is uniform, drawn from ``seed``."""
    if ratio is None:
        return np.arange(normal)
    if not 0.0 <= ratio < 1.0:
        raise ValueError(f"normal ratio must be in [0, 1), got {ratio}")
    wanted = min(normal, round(ratio / (1.0 - ratio) * anomalous))
    chosen = np.random.default_rng(seed).choice(normal, size=wanted, replace=False)
    return np.sort(chosen)


def scale_window(values: np.ndarray) -> np.ndarray:
    """Min-max scale each variate's finite values to [-1, 1] (a constant one becomes 0; NaN
    stays NaN), so real data fits the paper's fixed y-limits."""
    x = np.asarray(values, dtype=float)
    rows = np.atleast_2d(x)
    scaled = np.empty_like(rows)
    for i, row in enumerate(rows):
        finite = row[np.isfinite(row)]
        low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 0.0)
        scaled[i] = 2.0 * (row - low) / (high - low) - 1.0 if high > low else row * 0.0
    return scaled.reshape(x.shape)
