"""Where anomalies go: half-open index intervals drawn from a random generator (SPEC section 2)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from anomseer.intervals import merge_intervals


@dataclass(frozen=True)
class ExponentialPlacement:
    """AnomLLM-style placement (SPEC 2.1): alternate a normal gap ~ Exp(mean ``normal_rate``)
    floored at ``min_normal`` and an anomaly ~ Exp(mean ``anomaly_rate``) floored at
    ``min_anomaly``, up to ``max_intervals`` anomalies."""

    normal_rate: float
    anomaly_rate: float
    min_anomaly: int
    min_normal: int
    max_intervals: int = 8


def exponential_intervals(
    rng: np.random.Generator, length: int, placement: ExponentialPlacement
) -> list[tuple[int, int]]:
    """Intervals placed as ``placement`` says; the last anomaly is cut at ``length``, and none
    may fit."""
    p = placement
    intervals: list[tuple[int, int]] = []
    position = 0
    while len(intervals) < p.max_intervals:
        position += max(p.min_normal, int(rng.exponential(p.normal_rate)))
        if position >= length:
            break
        end = min(length, position + max(p.min_anomaly, int(rng.exponential(p.anomaly_rate))))
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
