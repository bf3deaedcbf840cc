"""VisualTimeAnomaly-style types (SPEC 2.2): univariate point and window anomalies on a noisy
sine, and multivariate series whose anomalous variates are replaced whole by another shape.

Every call builds its own base signal from its arguments, so nothing compounds across series
(the public generator let the seasonal frequency grow with each series, SPEC section 9).
"""

from __future__ import annotations

from dataclasses import dataclass

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


@dataclass(frozen=True)
class SineParameters:
    """The base ``noisy_sine`` and where anomalies go: ``ratio * length`` anomalous points,
    single points or windows of ``2 * radius`` points (a point's local std uses ``radius``)."""

    frequency: float = 0.04
    amplitude: float = 1.5
    noise: float = 0.05
    ratio: float = 0.05
    radius: int = 5


@dataclass(frozen=True)
class FactorParameters(SineParameters):
    """:class:`SineParameters` plus the ``factor`` the anomaly type scales by."""

    factor: float = 3.0


GLOBAL_POINT = FactorParameters(factor=3.5)
CONTEXTUAL_POINT = FactorParameters(factor=2.5)
SEASONAL = FactorParameters(factor=3.0)
TREND_WINDOW = FactorParameters(factor=0.5)
SHAPELET = SineParameters()


def global_point_series(rng: np.random.Generator, length: int, p: FactorParameters) -> Sample:
    """``ratio * length`` points scaled by ``factor`` (3.5) times their local std (window of
    ``radius`` each side) and pushed to at least the series maximum (or minimum)."""
    return _point_outliers(rng, length, p, outside=True)


def contextual_point_series(
    rng: np.random.Generator, length: int, p: FactorParameters
) -> Sample:
    """As the global type with ``factor`` 2.5, pulled back inside the series range."""
    return _point_outliers(rng, length, p, outside=False)


def _point_outliers(
    rng: np.random.Generator, length: int, p: FactorParameters, outside: bool
) -> Sample:
    base = _base(rng, length, p)
    series = base.copy()
    high, low = base.max(), base.min()
    points = random_points(rng, length, int(p.ratio * length))
    for point in points:
        local_std = base[max(0, point - p.radius) : point + p.radius].std()
        value = base[point] * p.factor * local_std
        if outside:
            value = max(value, high) if value >= 0 else min(value, low)
        else:
            value = min(max(value, low), high)
        series[point] = value
    return Sample(series, points_to_intervals(points))


def _base(rng: np.random.Generator, length: int, p: SineParameters) -> np.ndarray:
    return noisy_sine(rng, length, p.frequency, p.amplitude, p.noise)


def _windows(rng: np.random.Generator, length: int, p: SineParameters):
    count = max(1, int(p.ratio * length / (2 * p.radius)))
    return random_windows(rng, length, count, p.radius)


def seasonal_series(rng: np.random.Generator, length: int, p: FactorParameters) -> Sample:
    """Windows replaced by the base sine at ``factor`` (3) times its frequency."""
    return _replaced_windows(rng, length, p, p.frequency * p.factor)


def trend_window_series(rng: np.random.Generator, length: int, p: FactorParameters) -> Sample:
    """Windows get a ramp +-``factor * arange(window)`` (factor 0.5) added; the series after a
    window keeps the level the ramp reached (a level change), and only the window is
    labelled."""
    series = _base(rng, length, p)
    intervals = _windows(rng, length, p)
    for start, end in intervals:
        ramp = rng.choice((-1.0, 1.0)) * p.factor * np.arange(end - start)
        series[start:end] += ramp
        series[end:] += ramp[-1]
    return Sample(series, intervals)


def shapelet_series(rng: np.random.Generator, length: int, p: SineParameters) -> Sample:
    """Windows replaced by a square-wave approximation of ``SQUARE_HARMONICS`` odd harmonics."""
    return _replaced_windows(rng, length, p, p.frequency, SQUARE_HARMONICS)


def _replaced_windows(
    rng: np.random.Generator,
    length: int,
    p: SineParameters,
    replacement_frequency: float,
    replacement_harmonics: int = 1,
) -> Sample:
    """The base sine with its anomaly windows taken from a second wave (same amplitude and
    noise) of ``replacement_frequency`` and ``replacement_harmonics``."""
    series = _base(rng, length, p)
    intervals = _windows(rng, length, p)
    replacement = noisy_sine(
        rng, length, replacement_frequency, p.amplitude, p.noise, harmonics=replacement_harmonics
    )
    for start, end in intervals:
        series[start:end] = replacement[start:end]
    return Sample(series, intervals)


# ----------------------------------------------------------------------------- multivariate

VARIATE_SHAPES = ("triangle", "square", "sawtooth", "random-walk")


@dataclass(frozen=True)
class VariateParameters:
    """A grid of ``d`` variates (``d`` drawn from ``num_variates``); each variate draws its
    frequency, amplitude, offset and noise std from these [low, high] ranges."""

    num_variates: tuple[int, ...] = (4, 9, 16, 25, 36)
    frequency: tuple[float, float] = (0.03, 0.05)
    amplitude: tuple[float, float] = (0.5, 2.0)
    offset: tuple[float, float] = (-1.0, 1.0)
    noise: tuple[float, float] = (0.05, 0.2)


def variate_wise_series(
    rng: np.random.Generator, length: int, shape: str, p: VariateParameters
) -> Sample:
    """``d`` variates, each a random sine or cosine; 1 to floor(sqrt(d)) - 1 of them are
    replaced whole by a ``shape`` signal with parameters from the same ranges. The truth is the
    sorted list of replaced variate ids."""
    if shape not in VARIATE_SHAPES:
        raise ValueError(f"unknown variate shape {shape!r}; expected one of {VARIATE_SHAPES}")
    dims = int(rng.choice(p.num_variates))
    series = np.stack([_variate(rng, length, None, p) for _ in range(dims)])
    count = int(rng.integers(1, int(np.sqrt(dims)) - 1, endpoint=True))
    anomalous = sorted(int(v) for v in rng.choice(dims, size=count, replace=False))
    for variate in anomalous:
        series[variate] = _variate(rng, length, shape, p)
    return Sample(series, [], anomalous)


def _variate(
    rng: np.random.Generator, length: int, shape: str | None, p: VariateParameters
) -> np.ndarray:
    from scipy import signal

    freq, amp, shift, noise_std = (
        rng.uniform(*p.frequency),
        rng.uniform(*p.amplitude),
        rng.uniform(*p.offset),
        rng.uniform(*p.noise),
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
