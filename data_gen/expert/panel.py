"""The expert analysis panel (SPEC section 3) for a univariate series.

:func:`analyze` runs the whole panel and returns structured evidence (numbers and locations):
global z-scores, local (contextual) z-scores against a running median, the dominant period from
the FFT and the local period from the analytic signal, the trend gradient (Savitzky-Golay), and
the matrix-profile discord (STUMPY). The detector (``data_gen.expert.detector``) and the ExpCoT
text (``data_gen.expcot``) are written from the same evidence.

Scales use robust statistics (median and MAD) so an anomaly does not hide itself by inflating
the spread, with a floor so a noise-free series does not turn rounding into huge z-scores.
STUMPY compiles with numba on first use (about 20 s); :func:`warm_up` pays that once per
process and lets numba cache the compiled code on disk for later processes.
"""

from __future__ import annotations

import contextlib
import math
import warnings
from dataclasses import dataclass, field

import numpy as np

Z_THRESHOLD = 3.0
"""A score departs when its robust z-score exceeds this (the SPEC's 3 sigma)."""
GLOBAL_Z_THRESHOLD = 4.5
"""Global departures: the largest of 1000 normal draws exceeds 4.5 robust stds in 0.7 % of
series, 3 in 93 %."""
LOCAL_WINDOW = 5
"""Points in the running median a point is compared with (the point and two each side)."""
LOCAL_Z_THRESHOLD = 4.0
"""Local departures are residuals above this many noise stds: a running-median residual of
white noise exceeds 3 noise stds at 0.5 % of points, 4 at 0.02 %."""
VISIBLE_FRACTION = 0.02
"""Floor of every scale, as a fraction of the series' std: about one pixel of a paper plot."""
NOISE_WINDOW, NOISE_ORDER = 7, 2
NOISY_RATIO = 0.05
"""A series is noisy when its noise level exceeds this fraction of its std."""
SMOOTH_WINDOW, SMOOTH_ORDER = 31, 2
GRADIENT_WINDOW, GRADIENT_ORDER = 21, 2
SLOPE_FLOOR_POINTS = 100
"""Trend floor: a slope change that moves the level by less than the visible fraction of the
std over this many points is not a trend change."""
MIN_CYCLES = 4
"""A period must fit this many times into the series."""
MIN_PERIODICITY = 0.2
"""Least share of the spectrum's power in the dominant peak (+-1 bin) for a series to count
as periodic."""
FREQUENCY_FLOOR = 0.1
"""Floor of the local-frequency scale, as a fraction of the dominant frequency."""
DISCORD_WINDOW = 50
MIN_DISCORD_WINDOW = 10


@dataclass(frozen=True)
class Thresholds:
    """How far each score must depart (robust |z|) to count: the defaults were set on synthetic
    series; :func:`calibrate` raises them to what a real series' own normal part reaches."""

    global_z: float = GLOBAL_Z_THRESHOLD
    local_z: float = LOCAL_Z_THRESHOLD
    frequency_z: float = Z_THRESHOLD
    slope_z: float = Z_THRESHOLD
    discord_z: float = Z_THRESHOLD


DEFAULT_THRESHOLDS = Thresholds()


@dataclass(frozen=True)
class Span:
    """A half-open stretch ``[start, end)`` where a score departs, with its strongest point."""

    start: int
    end: int
    peak: int
    z: float


@dataclass(frozen=True)
class GlobalStats:
    """Mean and std, and robust z = (x - median) / scale with scale = 1.4826 MAD (floored)."""

    mean: float
    std: float
    median: float
    scale: float
    max_abs_z: float
    argmax: int
    spans: list[Span]


@dataclass(frozen=True)
class LocalStats:
    """Each point's residual from the running median of ``window`` points (with the peak
    departures replaced once by that median), in units of ``scale`` (the noise level, floored
    at the visible fraction of the std)."""

    window: int
    scale: float
    max_abs_z: float
    argmax: int
    spans: list[Span]


@dataclass(frozen=True)
class Periodicity:
    """FFT dominant period (None when no peak holds ``MIN_PERIODICITY`` of the power) and,
    where the local period departs from it, the median local period and the relative robust
    spread of the local frequency (small for a steady new period, large for noise)."""

    period: float | None
    power_share: float
    spans: list[Span]
    span_periods: list[float]
    span_spreads: list[float]


@dataclass(frozen=True)
class TrendStats:
    """Savitzky-Golay gradient of the trend component (``smoothing`` says how it was made)."""

    smoothing: str
    typical_slope: float
    spans: list[Span]
    span_slopes: list[float]


@dataclass(frozen=True)
class Discord:
    """The subsequence ``[start, start + window)`` farthest from its nearest neighbour."""

    window: int
    start: int
    distance: float
    z: float


@dataclass(frozen=True)
class Evidence:
    """The whole panel for one univariate series, plus the per-point scores behind it."""

    length: int
    missing: int
    noise: float
    noisy: bool
    global_stats: GlobalStats
    local: LocalStats
    periodicity: Periodicity
    trend: TrendStats
    discord: Discord
    thresholds: Thresholds = DEFAULT_THRESHOLDS
    scores: dict[str, np.ndarray] = field(repr=False, compare=False, default_factory=dict)
    """Per-point arrays: ``values`` (missing points interpolated), ``missing`` (bool),
    ``global_z``, ``local_z``, ``frequency`` (local, cycles per point), ``frequency_z``,
    ``slope`` (per point), ``slope_z``, ``discord_z`` (the largest discord z of the
    subsequences covering a point); ``matrix_profile`` has one value per subsequence."""

    def peak_inside(self, name: str, start: int, end: int) -> tuple[int, float]:
        """Index and value of the largest |score| ``name`` among the points of ``[start, end)``
        that are not missing (all of them when every one is)."""
        size = np.abs(self.scores[name][start:end])
        present = ~self.scores["missing"][start:end]
        offset = int(np.argmax(np.where(present, size, -1.0) if present.any() else size))
        return start + offset, float(self.scores[name][start + offset])


def warm_up() -> None:
    """Compile STUMPY's matrix profile now (numba caches it on disk for later processes)."""
    _stumpy().stump(np.sin(np.arange(64.0)), 8)


def analyze(series: np.ndarray, thresholds: Thresholds = DEFAULT_THRESHOLDS) -> Evidence:
    """Run the expert panel on a univariate series (NaN points are interpolated first); a
    score departs where its |z| exceeds its entry of ``thresholds``."""
    raw = np.asarray(series, dtype=float)
    if raw.ndim != 1 or raw.size < 4 * MIN_DISCORD_WINDOW:
        raise ValueError(f"expected a 1-D series of at least {4 * MIN_DISCORD_WINDOW} points")
    missing = int(np.isnan(raw).sum())
    x = fill_missing(raw)
    floor = VISIBLE_FRACTION * float(x.std()) + 1e-12
    noise = noise_level(x)
    noisy = bool(noise > NOISY_RATIO * float(x.std()))
    global_stats, global_z = _global_stats(x, floor, thresholds.global_z)
    local, local_z = _local_stats(x, noise, floor, thresholds.local_z)
    period, share = dominant_period(x)
    trend_part, smoothing, smoothing_edge = _trend_component(x, period, noisy)
    periodicity, frequency, frequency_z = _local_period(
        x - trend_part, period, share, thresholds.frequency_z
    )
    trend, slope, slope_z = _trend(trend_part, floor, smoothing_edge, smoothing, thresholds.slope_z)
    discord, profile, discord_z = _discord(x, period)
    scores = {
        "values": x,
        "missing": np.isnan(raw),
        "global_z": global_z,
        "local_z": local_z,
        "frequency": frequency,
        "frequency_z": frequency_z,
        "slope": slope,
        "slope_z": slope_z,
        "matrix_profile": profile,
        "discord_z": discord_z,
    }
    analyses = (global_stats, local, periodicity, trend, discord)
    return Evidence(x.size, missing, noise, noisy, *analyses, thresholds, scores)


def fill_missing(series: np.ndarray) -> np.ndarray:
    """Linear interpolation over NaN points (all-NaN becomes zeros)."""
    x = np.asarray(series, dtype=float)
    missing = np.isnan(x)
    if not missing.any():
        return x
    if missing.all():
        return np.zeros_like(x)
    index = np.arange(x.size)
    return np.interp(index, index[~missing], x[~missing])


def noise_level(x: np.ndarray) -> float:
    """Std of the white noise in ``x``: robust spread of the residual from a local quadratic
    fit (Savitzky-Golay, 7 points), divided by that fit's residual factor sqrt(1 - h0)."""
    from scipy.signal import savgol_coeffs, savgol_filter

    residual = x - savgol_filter(x, NOISE_WINDOW, NOISE_ORDER, mode="mirror")
    center = savgol_coeffs(NOISE_WINDOW, NOISE_ORDER)[NOISE_WINDOW // 2]
    return robust_scale(residual) / math.sqrt(1.0 - center)


def robust_scale(values: np.ndarray) -> float:
    """1.4826 * median absolute deviation: the std of normal data, unmoved by outliers."""
    return 1.4826 * float(np.median(np.abs(values - np.median(values))))


def departure_spans(z: np.ndarray, threshold: float = Z_THRESHOLD, gap: int = 1) -> list[Span]:
    """Stretches where |z| > threshold, joined across gaps shorter than ``gap`` points."""
    flagged = np.flatnonzero(np.abs(z) > threshold)
    if flagged.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(flagged) > gap)
    starts = np.concatenate(([flagged[0]], flagged[breaks + 1]))
    ends = np.concatenate((flagged[breaks], [flagged[-1]])) + 1
    spans = []
    for start, end in zip(starts, ends, strict=True):
        peak = int(start + np.argmax(np.abs(z[start:end])))
        spans.append(Span(int(start), int(end), peak, float(z[peak])))
    return spans


def _global_stats(x: np.ndarray, floor: float, threshold: float) -> tuple[GlobalStats, np.ndarray]:
    mean, std = float(x.mean()), float(x.std())
    median, scale = float(np.median(x)), max(robust_scale(x), floor)
    z = (x - median) / scale
    argmax = int(np.argmax(np.abs(z)))
    spans = departure_spans(z, threshold)
    return GlobalStats(mean, std, median, scale, float(abs(z[argmax])), argmax, spans), z


def _local_stats(
    x: np.ndarray, noise: float, floor: float, threshold: float
) -> tuple[LocalStats, np.ndarray]:
    """Residuals from a running median, twice: the second median runs over the series with the
    first pass's peak departures (largest within the window) replaced by their median, so a
    spike does not drag the median of its neighbours (on a slope it would shift it a step)."""
    from scipy.ndimage import maximum_filter1d, median_filter

    scale = max(noise, floor)
    median = median_filter(x, size=LOCAL_WINDOW, mode="nearest")
    size = np.abs(x - median) / scale
    peaks = (size > LOCAL_Z_THRESHOLD) & (size == maximum_filter1d(size, LOCAL_WINDOW))
    cleaned = np.where(peaks, median, x)
    z = (x - median_filter(cleaned, size=LOCAL_WINDOW, mode="nearest")) / scale
    argmax = int(np.argmax(np.abs(z)))
    spans = departure_spans(z, threshold, gap=LOCAL_WINDOW)
    return LocalStats(LOCAL_WINDOW, scale, float(abs(z[argmax])), argmax, spans), z


def dominant_period(x: np.ndarray) -> tuple[float | None, float]:
    """Period (points) of the largest FFT peak of the linearly detrended series among periods
    of at most a quarter of the series (``MIN_CYCLES`` cycles; slower swings are trend), and
    that peak's share (+-1 bin) of the power at those frequencies. The period is None when the
    share is below ``MIN_PERIODICITY``."""
    from scipy.signal import detrend

    power = np.abs(np.fft.rfft(detrend(x))) ** 2
    power[:MIN_CYCLES] = 0.0
    total = float(power.sum())
    if total <= 0:
        return None, 0.0
    peak = int(np.argmax(power))
    share = float(power[peak - 1 : peak + 2].sum()) / total
    if share < MIN_PERIODICITY:
        return None, share
    return x.size / peak, share


def _trend_component(
    x: np.ndarray, period: float | None, noisy: bool
) -> tuple[np.ndarray, str, int]:
    """The slow part of ``x``, how it was made, and how many points at each end it bends:
    a moving average over one period removes the cycle; an aperiodic noisy series is
    Savitzky-Golay smoothed; an aperiodic clean one is kept as it is."""
    from scipy.signal import savgol_filter

    if period is not None:
        window = round(period)
        smoothing = f"a moving average over one period ({window} points)"
        return _moving_average(x, window), smoothing, window // 2 + 1
    if noisy:
        smoothed = savgol_filter(x, SMOOTH_WINDOW, SMOOTH_ORDER, mode="nearest")
        smoothing = f"Savitzky-Golay smoothing (window {SMOOTH_WINDOW}, order {SMOOTH_ORDER})"
        return smoothed, smoothing, SMOOTH_WINDOW // 2 + 1
    return x, "the raw series", 0


def _local_period(
    cycle: np.ndarray, period: float | None, share: float, threshold: float
) -> tuple[Periodicity, np.ndarray, np.ndarray]:
    """Instantaneous frequency of the cyclic part (series minus trend) from its analytic signal
    (Hilbert transform), averaged over ``LOCAL_WINDOW`` points, as robust z-scores against the
    dominant frequency; the first and last half period are left out."""
    from scipy.signal import hilbert

    if period is None:
        return Periodicity(None, share, [], [], []), np.zeros_like(cycle), np.zeros_like(cycle)
    phase = np.unwrap(np.angle(hilbert(cycle - cycle.mean())))
    frequency = _moving_average(np.gradient(phase) / (2 * np.pi), LOCAL_WINDOW)
    typical = 1.0 / period
    z = (frequency - typical) / max(robust_scale(frequency), FREQUENCY_FLOOR * typical)
    edge = min(int(period / 2), cycle.size // 10)
    z[:edge] = 0.0
    z[cycle.size - edge :] = 0.0
    spans = departure_spans(z, threshold, gap=LOCAL_WINDOW)
    periods, spreads = [], []
    for span in spans:
        inside = frequency[span.start : span.end]
        center = float(np.median(inside))
        periods.append(1.0 / center if center > 0 else math.inf)
        spreads.append(robust_scale(inside) / abs(center) if center != 0 else math.inf)
    return Periodicity(period, share, spans, periods, spreads), frequency, z


def _trend(
    trend_part: np.ndarray, floor: float, smoothing_edge: int, smoothing: str, threshold: float
) -> tuple[TrendStats, np.ndarray, np.ndarray]:
    """Slopes and their z-scores; the points at each end that the smoothing and the gradient
    window bend are left out."""
    from scipy.signal import savgol_filter

    slope = savgol_filter(trend_part, GRADIENT_WINDOW, GRADIENT_ORDER, deriv=1, mode="nearest")
    typical = float(np.median(slope))
    z = (slope - typical) / max(robust_scale(slope), floor / SLOPE_FLOOR_POINTS)
    edge = min(smoothing_edge + GRADIENT_WINDOW // 2, slope.size // 4)
    z[:edge] = 0.0
    z[slope.size - edge :] = 0.0
    spans = departure_spans(z, threshold, gap=GRADIENT_WINDOW)
    slopes = [float(np.mean(slope[s.start : s.end])) for s in spans]
    return TrendStats(smoothing, typical, spans, slopes), slope, z


def discord_window(length: int, period: float | None) -> int:
    """Matrix-profile window: one period clipped to [10, 50], else 50 (at most length / 8)."""
    window = DISCORD_WINDOW if period is None else round(period)
    return int(min(max(window, MIN_DISCORD_WINDOW), DISCORD_WINDOW, length // 8))


def _discord(x: np.ndarray, period: float | None) -> tuple[Discord, np.ndarray, np.ndarray]:
    window = discord_window(x.size, period)
    profile = matrix_profile(x, window)
    finite = np.isfinite(profile)
    profile = np.where(finite, profile, 0.0)
    floor = 0.05 * math.sqrt(window)
    z = (profile - np.median(profile)) / max(robust_scale(profile), floor)
    start = int(np.argmax(profile))
    per_point = np.zeros(x.size)
    for offset in range(window):
        segment = per_point[offset : offset + profile.size]
        np.maximum(segment, z, out=segment)
    return Discord(window, start, float(profile[start]), float(z[start])), profile, per_point


def matrix_profile(x: np.ndarray, window: int) -> np.ndarray:
    """STUMPY's z-normalised matrix profile of ``x`` (one numba thread: on a series this short
    threads only add overhead, and data generation runs one process per core)."""
    import numba

    threads = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        with warnings.catch_warnings():
            # a noise-free periodic series has near-zero distances, which STUMPY warns about
            warnings.simplefilter("ignore", UserWarning)
            return np.asarray(_stumpy().stump(x, window)[:, 0], dtype=float)
    finally:
        numba.set_num_threads(threads)


def _moving_average(x: np.ndarray, window: int) -> np.ndarray:
    from scipy.ndimage import uniform_filter1d

    return uniform_filter1d(x, size=max(1, window), mode="nearest")


_STUMPY = None


def _stumpy():
    """STUMPY with numba's on-disk cache switched on for its compiled functions."""
    global _STUMPY
    if _STUMPY is None:
        import importlib

        import stumpy
        from stumpy import cache

        for module_name, function_name in cache.get_njit_funcs():
            function = getattr(importlib.import_module(f"stumpy.{module_name}"), function_name)
            # AttributeError: JIT disabled; RuntimeError: no writable cache location. Either
            # way numba compiles in memory as usual.
            with contextlib.suppress(AttributeError, RuntimeError):
                function.enable_caching()
        _STUMPY = stumpy
    return _STUMPY
