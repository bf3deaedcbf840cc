"""Cut long series into plot-sized windows, clip the truth to each, and thin out normal ones.

A window is ``[offset, offset + length)`` of its series; truth inside it is shifted by
``offset``, so an answer's interval ``[s, e)`` on the plot is ``[offset + s, offset + e)`` in
the source file.
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


def clip_intervals(
    intervals: Sequence[Sequence[int]], offset: int, length: int
) -> list[tuple[int, int]]:
    """The parts of half-open ``intervals`` inside ``[offset, offset + length)``, in window
    coordinates (0 at ``offset``)."""
    clipped = []
    for start, end in intervals:
        start, end = max(int(start), offset), min(int(end), offset + length)
        if start < end:
            clipped.append((start - offset, end - offset))
    return clipped


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
