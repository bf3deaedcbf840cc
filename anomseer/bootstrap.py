"""Confidence intervals over series, paired differences between runs, and seed pooling.

Percentile bootstrap: each resample draws the series with replacement (a fixed seed), keeping
all completions of a drawn series; a metric's value in a resample is the mean over the drawn
completions that define it. Vectorised with numpy: per-series sums and counts of each metric,
so the means of a block of resamples are two matrix products with the draw counts, and 1,000
resamples over thousands of series take milliseconds. Two runs compared on the same series
share the same draws (a paired bootstrap).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

RESAMPLES = 1000
"""Bootstrap resamples by default."""
SEED = 0
"""Seed of the resample draws by default (fixed, so reports are reproducible)."""
LEVEL = 0.95
"""Confidence level of the intervals by default."""
BOOTSTRAP_SETTINGS = {"over": "series", "resamples": RESAMPLES, "seed": SEED, "level": LEVEL}
"""How the intervals in ``metrics.json`` are drawn (written there as ``bootstrap``)."""
HEADLINE = (
    ("aff_precision", "Aff-P"),
    ("aff_recall", "Aff-R"),
    ("aff_f1", "Aff-F1"),
    ("class_accuracy", "Acc"),
    ("f1", "F1"),
    ("pa_f1", "PA-F1"),
)
"""Per-completion means that get intervals: key in the scores (``class_accuracy`` is the
mean of ``class_correct``) and column title."""
HEADLINE_KEYS = tuple(key for key, _ in HEADLINE)
_BLOCK = 100
"""Resamples drawn at once: memory stays at a block x series array of draw counts."""


def record_value(record: Mapping, key: str) -> float:
    """One metric of one ``predictions.jsonl`` record; NaN where the metric is undefined."""
    scores = record["scores"]
    value = scores["class_correct"] if key == "class_accuracy" else scores.get(key)
    return math.nan if value is None else float(value)


@dataclass(frozen=True)
class SeriesScores:
    """Per-series sums and counts of the defined values of each metric, ``[series, metric]``."""

    series: tuple[str, ...]
    sums: np.ndarray
    counts: np.ndarray

    @classmethod
    def from_values(cls, series: Sequence[str], values: np.ndarray) -> SeriesScores:
        """From one row of metric values per completion (NaN = undefined) and its series id."""
        names = tuple(dict.fromkeys(series))
        index = {name: i for i, name in enumerate(names)}
        rows = np.fromiter((index[name] for name in series), dtype=np.int64, count=len(series))
        defined = ~np.isnan(values)
        sums = np.zeros((len(names), values.shape[1]))
        counts = np.zeros((len(names), values.shape[1]))
        np.add.at(sums, rows, np.where(defined, values, 0.0))
        np.add.at(counts, rows, defined)
        return cls(names, sums, counts)

    def means(self) -> np.ndarray:
        """Mean of each metric over all completions that define it (NaN where none does)."""
        return _ratio(self.sums.sum(axis=0), self.counts.sum(axis=0))

    def subset(self, series: Sequence[str]) -> SeriesScores:
        """The rows of `series`, in that order."""
        index = {name: i for i, name in enumerate(self.series)}
        rows = [index[name] for name in series]
        return SeriesScores(tuple(series), self.sums[rows], self.counts[rows])


def series_scores(records: Sequence[Mapping], keys: Sequence[str] = HEADLINE_KEYS) -> SeriesScores:
    """`SeriesScores` of ``predictions.jsonl`` records (series = row ``id``)."""
    values = np.array([[record_value(r, key) for key in keys] for r in records], dtype=float)
    return SeriesScores.from_values(
        [str(r["id"]) for r in records], values.reshape(len(records), len(keys))
    )


def _ratio(sums: np.ndarray, counts: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, sums / np.where(counts > 0, counts, 1.0), np.nan)


def resample_counts(n: int, resamples: int = RESAMPLES, seed: int = SEED) -> Iterator[np.ndarray]:
    """How often each of `n` series is drawn in each resample, in blocks ``[block, n]``.

    Resample r draws ``n`` series uniformly with replacement:
    ``numpy.random.default_rng(seed).integers(0, n, (block, n))`` per block, in order.
    """
    rng = np.random.default_rng(seed)
    for start in range(0, resamples, _BLOCK):
        block = min(_BLOCK, resamples - start)
        draws = rng.integers(0, n, size=(block, n))
        flat = (draws + n * np.arange(block)[:, None]).ravel()
        yield np.bincount(flat, minlength=block * n).reshape(block, n).astype(float)


def resampled_means(
    scores: Sequence[SeriesScores], resamples: int = RESAMPLES, seed: int = SEED
) -> list[np.ndarray]:
    """Each scores' metric means in every resample, ``[resamples, metric]``; all use the same
    draws, so they must list the same series in the same order."""
    if any(s.series != scores[0].series for s in scores):
        raise ValueError("paired resampling needs the same series in the same order")
    blocks: list[list[np.ndarray]] = [[] for _ in scores]
    for counts in resample_counts(len(scores[0].series), resamples, seed):
        for out, s in zip(blocks, scores, strict=True):
            out.append(_ratio(counts @ s.sums, counts @ s.counts))
    return [np.concatenate(out) for out in blocks]


def percentile_interval(samples: np.ndarray, level: float = LEVEL) -> np.ndarray:
    """Percentile interval of each column of ``[resamples, metric]``, ``[metric, 2]``; NaN
    where no resample defines the metric."""
    tail = 100.0 * (1.0 - level) / 2.0
    defined = ~np.isnan(samples).all(axis=0)
    interval = np.full((samples.shape[1], 2), np.nan)
    if defined.any():
        interval[defined] = np.nanpercentile(samples[:, defined], [tail, 100.0 - tail], axis=0).T
    return interval


def bootstrap_interval(
    scores: SeriesScores, resamples: int = RESAMPLES, seed: int = SEED, level: float = LEVEL
) -> np.ndarray:
    """Percentile-bootstrap interval of each metric's mean over series, ``[metric, 2]``."""
    (samples,) = resampled_means([scores], resamples, seed)
    return percentile_interval(samples, level)


def paired_difference(
    base: SeriesScores,
    other: SeriesScores,
    resamples: int = RESAMPLES,
    seed: int = SEED,
    level: float = LEVEL,
) -> tuple[np.ndarray, np.ndarray]:
    """``other - base`` of each metric's mean on the same series, and its paired-bootstrap
    interval ``[metric, 2]``."""
    base_means, other_means = resampled_means([base, other], resamples, seed)
    return other.means() - base.means(), percentile_interval(other_means - base_means, level)


def group_intervals(
    records: Sequence[Mapping], resamples: int = RESAMPLES, seed: int = SEED, level: float = LEVEL
) -> dict[str, list[float] | None]:
    """``{metric: [low, high]}`` (None where undefined) of the headline metrics of `records`,
    for ``metrics.json``."""
    interval = bootstrap_interval(series_scores(records), resamples, seed, level)
    return {
        key: None if np.isnan(low) else [float(low), float(high)]
        for key, (low, high) in zip(HEADLINE_KEYS, interval, strict=True)
    }
