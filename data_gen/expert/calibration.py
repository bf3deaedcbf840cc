"""Per-series thresholds for the panel: a real series' own normal part sets how far each score
must depart (robust |z|) before it counts."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from data_gen.expert.panel import DEFAULT_THRESHOLDS, MIN_DISCORD_WINDOW, Thresholds, analyze

CALIBRATION_QUANTILE = 0.9
"""Calibrated thresholds sit above this quantile of the reference windows' peak |z| ..."""
CALIBRATION_MARGIN = 1.2
"""... times this margin (never below the defaults)."""
CALIBRATION_WINDOWS = 16
"""At most this many reference windows, spread evenly, are analysed (long series)."""
MIN_CALIBRATION_WINDOWS = 2
"""Fewer reference windows than this leave the default thresholds."""


@dataclass(frozen=True)
class Reference:
    """Peak |z| of each score (columns in :class:`Thresholds` order) in windows
    ``[starts[i], stops[i])`` of a stretch of a series taken as normal."""

    starts: np.ndarray
    stops: np.ndarray
    peaks: np.ndarray

    def thresholds(self, exclude: tuple[int, int] | None = None) -> Thresholds:
        """Each score's default or ``CALIBRATION_MARGIN`` times the ``CALIBRATION_QUANTILE``
        quantile of the windows' peaks, whichever is larger, leaving out the windows that
        overlap ``exclude = (start, stop)`` (the window being judged must not set its own
        bar); the defaults with fewer than ``MIN_CALIBRATION_WINDOWS`` windows left."""
        keep = np.ones(self.starts.size, dtype=bool)
        if exclude is not None:
            keep = (self.stops <= exclude[0]) | (self.starts >= exclude[1])
        if keep.sum() < MIN_CALIBRATION_WINDOWS:
            return DEFAULT_THRESHOLDS
        quantile = np.quantile(self.peaks[keep], CALIBRATION_QUANTILE, axis=0)
        defaults = dataclasses.astuple(DEFAULT_THRESHOLDS)
        levels = (
            max(float(CALIBRATION_MARGIN * q), d) for q, d in zip(quantile, defaults, strict=True)
        )
        return Thresholds(*levels)


def reference_peaks(reference: np.ndarray, window: int) -> Reference:
    """The panel's peak |z| per score in windows of ``window`` points of ``reference`` (a
    univariate stretch of a real series taken as normal: its published train part, or the
    whole series, where anomalies are rare and the quantile keeps them out). The last window
    joins its neighbour when shorter than the panel's minimum; at most ``CALIBRATION_WINDOWS``
    windows, spread evenly, are analysed. A multivariate or too short stretch has none."""
    x = np.asarray(reference, dtype=float)
    minimum = 4 * MIN_DISCORD_WINDOW
    if x.ndim != 1 or x.size < minimum:
        return Reference(np.zeros(0, int), np.zeros(0, int), np.zeros((0, 5)))
    starts = list(range(0, x.size, window))
    if len(starts) > 1 and x.size - starts[-1] < minimum:
        starts.pop()
    stops = [*starts[1:], x.size]
    spread = np.unique(np.linspace(0, len(starts) - 1, CALIBRATION_WINDOWS).round().astype(int))
    peaks = []
    for i in spread:
        evidence = analyze(x[starts[i] : stops[i]])
        scores = evidence.scores
        peaks.append(
            (
                evidence.global_stats.max_abs_z,
                evidence.local.max_abs_z,
                float(np.abs(scores["frequency_z"]).max()),
                float(np.abs(scores["slope_z"]).max()),
                evidence.discord.z,
            )
        )
    chosen = np.asarray(spread)
    return Reference(np.asarray(starts)[chosen], np.asarray(stops)[chosen], np.array(peaks))


def calibrate(reference: np.ndarray, window: int) -> Thresholds:
    """Thresholds from a stretch taken as normal: :func:`reference_peaks` then
    :meth:`Reference.thresholds` over all its windows."""
    return reference_peaks(reference, window).thresholds()
