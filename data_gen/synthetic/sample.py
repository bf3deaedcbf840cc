"""One generated series with its truth."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Sample:
    """``series`` is ``(length,)`` or ``(variates, length)`` (NaN for dropped points);
    ``intervals`` are half-open; ``variates`` lists the anomalous variate ids of a
    multivariate series. No intervals and no variates means a normal series."""

    series: np.ndarray
    intervals: list[tuple[int, int]] = field(default_factory=list)
    variates: list[int] = field(default_factory=list)
