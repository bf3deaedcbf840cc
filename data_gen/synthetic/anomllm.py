"""AnomLLM-style families (SPEC 2.1): the paper's training set, length 1000, univariate.

Each generator is a pure function of a random generator, a length and its parameters (a
frozen dataclass whose defaults are the SPEC's numbers; ``placement`` says where anomalies
go). ``noise_std`` adds N(0, noise_std) everywhere at the end (the ``noisy-*`` families set it
to 0.08).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from data_gen.synthetic.placement import ExponentialPlacement, exponential_intervals
from data_gen.synthetic.sample import Sample

# SPEC 2.1's placement per family: (normal_rate, anomaly_rate, min_anomaly, min_normal)
RANGE_PLACEMENT = ExponentialPlacement(800.0, 20.0, 5, 10)
POINT_PLACEMENT = ExponentialPlacement(800.0, 30.0, 5, 200)
FREQ_PLACEMENT = ExponentialPlacement(450.0, 15.0, 7, 20)
TREND_PLACEMENT = ExponentialPlacement(1700.0, 100.0, 50, 800)


@dataclass(frozen=True)
class RangeParameters:
    placement: ExponentialPlacement = RANGE_PLACEMENT
    base_std: float = 0.1
    shift: tuple[float, float] = (0.5, 0.8)


@dataclass(frozen=True)
class WaveParameters:
    """A sine of ``frequency`` cycles per point, with N(0, ``noise_std``) added at the end."""

    placement: ExponentialPlacement
    frequency: float = 0.03
    noise_std: float = 0.0


@dataclass(frozen=True)
class PointParameters(WaveParameters):
    placement: ExponentialPlacement = POINT_PLACEMENT
    anomaly_std: float = 0.5


@dataclass(frozen=True)
class FreqParameters(WaveParameters):
    placement: ExponentialPlacement = FREQ_PLACEMENT
    factor: float = 3.0


@dataclass(frozen=True)
class TrendParameters(WaveParameters):
    placement: ExponentialPlacement = TREND_PLACEMENT
    frequency: float = 0.02
    normal_slope: float = 3.0
    anomaly_slope: tuple[float, float] = (6.0, 20.0)


def range_series(rng: np.random.Generator, length: int, p: RangeParameters) -> Sample:
    """N(0, base_std) noise; each anomalous point gets +-U(shift) added (sign per point)."""
    intervals = exponential_intervals(rng, length, p.placement)
    series = rng.normal(0.0, p.base_std, length)
    for start, end in intervals:
        size = end - start
        series[start:end] += rng.choice((-1.0, 1.0), size) * rng.uniform(*p.shift, size)
    return Sample(series, intervals)


def point_series(rng: np.random.Generator, length: int, p: PointParameters) -> Sample:
    """sin(2 pi frequency t); anomalous values are replaced by N(0, anomaly_std) draws."""
    intervals = exponential_intervals(rng, length, p.placement)
    series = np.sin(2 * np.pi * p.frequency * np.arange(length))
    for start, end in intervals:
        series[start:end] = rng.normal(0.0, p.anomaly_std, end - start)
    return Sample(_add_noise(rng, series, p.noise_std), intervals)


def freq_series(rng: np.random.Generator, length: int, p: FreqParameters) -> Sample:
    """A sine whose instantaneous frequency is multiplied or divided by ``factor`` (50/50 per
    interval) inside each anomaly; the phase is integrated, so the wave stays continuous."""
    intervals = exponential_intervals(rng, length, p.placement)
    instantaneous = np.full(length, p.frequency)
    for start, end in intervals:
        faster = rng.random() < 0.5
        instantaneous[start:end] = p.frequency * p.factor if faster else p.frequency / p.factor
    phase = 2 * np.pi * np.concatenate(([0.0], np.cumsum(instantaneous[:-1])))
    return Sample(_add_noise(rng, np.sin(phase), p.noise_std), intervals)


def trend_series(rng: np.random.Generator, length: int, p: TrendParameters) -> Sample:
    """sin(2 pi frequency t) plus a piecewise-linear trend (slope ``normal_slope / length``,
    U(anomaly_slope) / length inside anomalies), rescaled to [-1, 1]. ``flat-trend`` uses
    anomaly_slope (4.5, 6)."""
    intervals = exponential_intervals(rng, length, p.placement)
    slopes = np.full(length, p.normal_slope / length)
    for start, end in intervals:
        slopes[start:end] = rng.uniform(*p.anomaly_slope) / length
    trend = np.concatenate(([0.0], np.cumsum(slopes[:-1])))
    series = np.sin(2 * np.pi * p.frequency * np.arange(length)) + trend
    low, high = series.min(), series.max()
    series = 2.0 * (series - low) / (high - low) - 1.0
    return Sample(_add_noise(rng, series, p.noise_std), intervals)


def _add_noise(rng: np.random.Generator, series: np.ndarray, noise_std: float) -> np.ndarray:
    return series + rng.normal(0.0, noise_std, series.shape) if noise_std > 0 else series
