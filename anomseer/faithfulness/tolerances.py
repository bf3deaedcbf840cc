"""How far a stated value may lie from the value recomputed from the series and still count as
true. One rule per kind of quantity, each tied to a resolution the expert panel already uses:

- statistics (levels, spreads, z-scores, periods, slopes, distances): the larger of half a unit
  of the last digit written (``0.111`` -> 0.0005: a correctly rounded number is always true),
  ``RELATIVE`` of the recomputed value, and a floor for quantities in the series' units of one
  visible step of the plot (the panel's ``VISIBLE_FRACTION`` of the std);
- positions: ``POSITION_POINTS`` points either way (the width of the panel's local window);
- the ends of a stretch: one smoothing window of the analysis that found it;
- counts, lengths, labels, interval ends of the answer: exact (positions of the answer get
  ``POSITION_POINTS``).
"""

from __future__ import annotations

import math

from data_gen.expert.panel import (
    GRADIENT_WINDOW,
    LOCAL_WINDOW,
    SLOPE_FLOOR_POINTS,
    VISIBLE_FRACTION,
)

RELATIVE = 0.1
"""A statistic within 10 % of its recomputed value is the same reading of the series (a plot
read by eye, or a number rounded to one or two significant digits)."""
POSITION_POINTS = LOCAL_WINDOW
"""A position within this many points of the recomputed one is the same place."""
STRETCH_WINDOWS = {
    "global": LOCAL_WINDOW,
    "local": LOCAL_WINDOW,
    "frequency": LOCAL_WINDOW,
    "trend": GRADIENT_WINDOW,
}
"""Points either way the ends of a stated stretch may move: the smoothing window of the
analysis's score (the local median and the local frequency average 5 points, the gradient 21)."""


def half_unit(written: str) -> float:
    """Half a unit of the last digit of a number as written: ``'0.111'`` -> 0.0005, ``'50'`` ->
    0.5, ``'3%'`` -> 0.005 (a share)."""
    text = written.strip().lstrip("+-~").rstrip("%")
    decimals = len(text.partition(".")[2])
    unit = 10.0**-decimals
    return (unit / 100 if written.strip().endswith("%") else unit) / 2


def statistic_tolerance(written: str, recomputed: float, floor: float = 0.0) -> float:
    """Tolerance of a stated statistic: rounding, ``RELATIVE`` of the recomputed value, floor."""
    return max(half_unit(written), RELATIVE * abs(recomputed), floor)


def level_floor(std: float) -> float:
    """Floor for values in the series' units: one visible step of the plot."""
    return VISIBLE_FRACTION * std


def slope_floor(std: float) -> float:
    """Floor for slopes per point: the panel's trend floor (one visible step over
    ``SLOPE_FLOOR_POINTS`` points)."""
    return VISIBLE_FRACTION * std / SLOPE_FLOOR_POINTS


def within(stated: float, recomputed: float | None, tolerance: float) -> bool:
    """``|stated - recomputed| <= tolerance`` for finite numbers; never for a missing one."""
    if recomputed is None or not (math.isfinite(stated) and math.isfinite(recomputed)):
        return False
    return abs(stated - recomputed) <= tolerance
