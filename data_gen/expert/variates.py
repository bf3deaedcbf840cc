"""The multivariate analysis: variates compared by how well one sinusoid explains each."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from data_gen.expert.panel import MIN_DISCORD_WINDOW, fill_missing, noise_level

SINE_EXCESS_THRESHOLD = 1.3
"""A variate departs when the residual of its best sinusoid is this many times its noise level
(sinusoid plus white noise gives about 1.0-1.2)."""


@dataclass(frozen=True)
class VariateEvidence:
    """Per variate: the best sinusoid's frequency (cycles per point) and its residual std
    divided by the variate's noise level (``excess``); ``flagged`` lists the variates whose
    excess reaches ``SINE_EXCESS_THRESHOLD``."""

    length: int
    frequencies: list[float]
    excess: list[float]
    flagged: list[int]


def analyze_variates(series: np.ndarray) -> VariateEvidence:
    """Compare the variates of a ``(variates, length)`` series by how well one sinusoid
    explains each (NaN points are interpolated first)."""
    values = np.asarray(series, dtype=float)
    if values.ndim != 2 or values.shape[1] < 4 * MIN_DISCORD_WINDOW:
        raise ValueError(
            f"expected a (variates, length) series with length >= {4 * MIN_DISCORD_WINDOW}"
        )
    frequencies, excess = [], []
    for row in values:
        x = fill_missing(row)
        frequency, residual = best_sinusoid(x)
        frequencies.append(frequency)
        excess.append(float(residual.std()) / max(noise_level(x), 1e-12))
    flagged = [v for v, e in enumerate(excess) if e >= SINE_EXCESS_THRESHOLD]
    return VariateEvidence(values.shape[1], frequencies, excess, flagged)


def best_sinusoid(x: np.ndarray) -> tuple[float, np.ndarray]:
    """Frequency (cycles per point) of the least-squares sinusoid plus offset, refined from the
    zero-padded FFT peak within one bin, and the residual of that fit."""
    from scipy.optimize import minimize_scalar

    padded = 8 * x.size
    spectrum = np.abs(np.fft.rfft(x - x.mean(), padded))
    coarse = (int(np.argmax(spectrum[1:])) + 1) / padded
    bounds = (max(coarse - 1 / x.size, 0.5 / padded), min(coarse + 1 / x.size, 0.5))
    result = minimize_scalar(
        lambda f: float(np.square(_sinusoid_residual(x, f)).sum()),
        bounds=bounds,
        method="bounded",
        options={"xatol": 1e-6},
    )
    return float(result.x), _sinusoid_residual(x, float(result.x))


def _sinusoid_residual(x: np.ndarray, frequency: float) -> np.ndarray:
    angle = 2 * np.pi * frequency * np.arange(x.size)
    design = np.stack([np.sin(angle), np.cos(angle), np.ones(x.size)], axis=1)
    coefficients, *_ = np.linalg.lstsq(design, x, rcond=None)
    return x - design @ coefficients
