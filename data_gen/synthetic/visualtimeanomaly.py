"""VisualTimeAnomaly-style types (SPEC 2.2): univariate point and window anomalies on a noisy
sine, and multivariate series whose anomalous variates are replaced whole by another shape.

Every call builds its own base signal from its arguments, so nothing compounds across series
(the public generator let the seasonal frequency grow with each series, SPEC section 9).
"""

from __future__ import annotations

import numpy as np

from anomseer.intervals import points_to_intervals
from data_gen.synthetic.placement import random_points, random_windows
from data_gen.synthetic.sample import Sample

SQUARE_HARMONICS = 20


def noisy_sine(
    rng: np.random.Generator,
    length: int,
    frequency: float,
    amplitude: float,
    noise: float,
    harmonics: int = 1,
) -> np.ndarray:
    """``amplitude * (wave(2 pi frequency t) + noise * N(0, 1))``; ``harmonics > 1`` sums that
    many odd harmonics into a square-wave approximation (4/pi sum sin((2k+1)w)/(2k+1))."""
    angle = 2 * np.pi * frequency * np.arange(length)
    if harmonics == 1:
        wave = np.sin(angle)
    else:
        odd = 2 * np.arange(harmonics) + 1
        wave = (4 / np.pi) * (np.sin(np.outer(angle, odd)) / odd).sum(axis=1)
    return amplitude * (wave + noise * rng.standard_normal(length))


def global_point_series(
    rng: np.random.Generator,
    length: int,
    *,
    frequency: float = 0.04,
    amplitude: float = 1.5,
    noise: float = 0.05,
    ratio: float = 0.05,
    radius: int = 5,
    factor: float = 3.5,
) -> Sample:
    """``ratio * length`` points scaled by ``factor`` times their local std (window of
    ``radius`` each side) and pushed to at least the series maximum (or minimum)."""
    return _point_outliers(rng, length, frequency, amplitude, noise, ratio, radius, factor, True)


def contextual_point_series(
    rng: np.random.Generator,
    length: int,
    *,
    frequency: float = 0.04,
    amplitude: float = 1.5,
    noise: float = 0.05,
    ratio: float = 0.05,
    radius: int = 5,
    factor: float = 2.5,
) -> Sample:
    """As the global type with ``factor`` 2.5, pulled back inside the series range."""
    return _point_outliers(rng, length, frequency, amplitude, noise, ratio, radius, factor, False)


def _point_outliers(
    rng: np.random.Generator,
    length: int,
    frequency: float,
    amplitude: float,
    noise: float,
    ratio: float,
    radius: int,
    factor: float,
    global_: bool,
) -> Sample:
    base = noisy_sine(rng, length, frequency, amplitude, noise)
    series = base.copy()
    high, low = base.max(), base.min()
    points = random_points(rng, length, int(ratio * length))
    for p in points:
        local_std = base[max(0, p - radius) : p + radius].std()
        value = base[p] * factor * local_std
        if global_:
            value = max(value, high) if value >= 0 else min(value, low)
        else:
            value = min(max(value, low), high)
        series[p] = value
    return Sample(series, points_to_intervals(points))


def _windows(rng: np.random.Generator, length: int, ratio: float, radius: int):
    return random_windows(rng, length, max(1, int(ratio * length / (2 * radius))), radius)


def seasonal_series(
    rng: np.random.Generator,
    length: int,
    *,
    frequency: float = 0.04,
    amplitude: float = 1.5,
    noise: float = 0.05,
    ratio: float = 0.05,
    radius: int = 5,
    factor: float = 3.0,
) -> Sample:
    """Windows replaced by the base sine at ``factor`` times its frequency."""
    return _replaced_windows(
        rng, length, frequency, amplitude, noise, ratio, radius, frequency * factor
    )


def trend_window_series(
    rng: np.random.Generator,
    length: int,
    *,
    frequency: float = 0.04,
    amplitude: float = 1.5,
    noise: float = 0.05,
    ratio: float = 0.05,
    radius: int = 5,
    factor: float = 0.5,
) -> Sample:
    """Windows get a ramp +-``factor * arange(window)`` added; the series after a window keeps
    the level the ramp reached (a level change), and only the window is labelled."""
    series = noisy_sine(rng, length, frequency, amplitude, noise)
    intervals = _windows(rng, length, ratio, radius)
    for start, end in intervals:
        ramp = rng.choice((-1.0, 1.0)) * factor * np.arange(end - start)
        series[start:end] += ramp
        series[end:] += ramp[-1]
    return Sample(series, intervals)


def shapelet_series(
    rng: np.random.Generator,
    length: int,
    *,
    frequency: float = 0.04,
    amplitude: float = 1.5,
    noise: float = 0.05,
    ratio: float = 0.05,
    radius: int = 5,
) -> Sample:
    """Windows replaced by a square-wave approximation of ``SQUARE_HARMONICS`` odd harmonics."""
    return _replaced_windows(
        rng, length, frequency, amplitude, noise, ratio, radius, frequency, SQUARE_HARMONICS
    )


def _replaced_windows(
    rng: np.random.Generator,
    length: int,
    frequency: float,
    amplitude: float,
    noise: float,
    ratio: float,
    radius: int,
    replacement_frequency: float,
    replacement_harmonics: int = 1,
) -> Sample:
    """The base sine with its anomaly windows taken from a second wave (same amplitude and
    noise) of ``replacement_frequency`` and ``replacement_harmonics``."""
    series = noisy_sine(rng, length, frequency, amplitude, noise)
    intervals = _windows(rng, length, ratio, radius)
    replacement = noisy_sine(
        rng, length, replacement_frequency, amplitude, noise, harmonics=replacement_harmonics
    )
    for start, end in intervals:
        series[start:end] = replacement[start:end]
    return Sample(series, intervals)


# ----------------------------------------------------------------------------- multivariate

VARIATE_SHAPES = ("triangle", "square", "sawtooth", "random-walk")


def variate_wise_series(
    rng: np.random.Generator,
    length: int,
    shape: str,
    *,
    num_variates: tuple[int, ...] = (4, 9, 16, 25, 36),
    frequency: tuple[float, float] = (0.03, 0.05),
    amplitude: tuple[float, float] = (0.5, 2.0),
    offset: tuple[float, float] = (-1.0, 1.0),
    noise: tuple[float, float] = (0.05, 0.2),
) -> Sample:
    """``d`` variates (``d`` drawn from ``num_variates``), each a random sine or cosine; 1 to
    floor(sqrt(d)) - 1 of them are replaced whole by a ``shape`` signal with parameters from the
    same ranges. The truth is the sorted list of replaced variate ids."""
    if shape not in VARIATE_SHAPES:
        raise ValueError(f"unknown variate shape {shape!r}; expected one of {VARIATE_SHAPES}")
    dims = int(rng.choice(num_variates))
    series = np.stack(
        [_variate(rng, length, None, frequency, amplitude, offset, noise) for _ in range(dims)]
    )
    count = int(rng.integers(1, int(np.sqrt(dims)) - 1, endpoint=True))
    anomalous = sorted(int(v) for v in rng.choice(dims, size=count, replace=False))
    for variate in anomalous:
        series[variate] = _variate(rng, length, shape, frequency, amplitude, offset, noise)
    return Sample(series, [], anomalous)


def _variate(
    rng: np.random.Generator,
    length: int,
    shape: str | None,
    frequency: tuple[float, float],
    amplitude: tuple[float, float],
    offset: tuple[float, float],
    noise: tuple[float, float],
) -> np.ndarray:
    from scipy import signal

    freq, amp, shift, noise_std = (
        rng.uniform(*frequency),
        rng.uniform(*amplitude),
        rng.uniform(*offset),
        rng.uniform(*noise),
    )
    angle = 2 * np.pi * freq * np.arange(length)
    if shape is None:
        wave = np.sin(angle) if rng.random() < 0.5 else np.cos(angle)
    elif shape == "triangle":
        wave = signal.sawtooth(angle, width=0.5)
    elif shape == "square":
        wave = signal.square(angle)
    elif shape == "sawtooth":
        wave = signal.sawtooth(angle)
    else:
        walk = np.cumsum(rng.standard_normal(length))
        span = np.ptp(walk)
        wave = 2 * (walk - walk.min()) / span - 1 if span > 0 else np.zeros(length)
    return amp * wave + shift + rng.normal(0.0, noise_std, length)
