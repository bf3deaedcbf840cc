"""Where anomalies go: half-open index intervals drawn from a random generator (SPEC section 2)."""

from __future__ import annotations

import numpy as np

from anomseer.intervals import merge_intervals


def exponential_intervals(
    rng: np.random.Generator,
    length: int,
    *,
    normal_rate: float,
    anomaly_rate: float,
    min_anomaly: int,
    min_normal: int,
    max_intervals: int = 8,
) -> list[tuple[int, int]]:
    """AnomLLM-style placement: alternate a normal gap ~ Exp(mean ``normal_rate``) floored at
    ``min_normal`` and an anomaly ~ Exp(mean ``anomaly_rate``) floored at ``min_anomaly``, up
    to ``max_intervals`` anomalies. The last anomaly is cut at ``length``; none may fit."""
    intervals: list[tuple[int, int]] = []
    position = 0
    while len(intervals) < max_intervals:
        position += max(min_normal, int(rng.exponential(normal_rate)))
        if position >= length:
            break
        end = min(length, position + max(min_anomaly, int(rng.exponential(anomaly_rate))))
        intervals.append((position, end))
        position = end
    return intervals


def random_points(rng: np.random.Generator, length: int, count: int) -> np.ndarray:
    """``count`` distinct indices in ``[0, length)``, sorted."""
    return np.sort(rng.choice(length, size=count, replace=False))


def random_windows(
    rng: np.random.Generator, length: int, count: int, radius: int
) -> list[tuple[int, int]]:
    """``count`` windows ``[c - radius, c + radius)`` around distinct centres, merged when they
    overlap."""
    centres = rng.choice(np.arange(radius, length - radius + 1), size=count, replace=False)
    return merge_intervals((int(c) - radius, int(c) + radius) for c in centres)
