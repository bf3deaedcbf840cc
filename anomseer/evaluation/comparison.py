"""Runs compared on the rows they all answered: each headline metric with its bootstrap
interval over series, the paired difference against the first run, the same per anomaly type,
and runs of one setting with different seeds pooled into a group (mean and spread)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from anomseer.bootstrap import (
    HEADLINE,
    HEADLINE_KEYS,
    LEVEL,
    RESAMPLES,
    SEED,
    SeriesScores,
    bootstrap_interval,
    paired_difference,
    record_value,
)
from anomseer.errors import UserInputError
from anomseer.evaluation.predictions import PREDICTIONS_FILE, PredictionLog
from anomseer.evaluation.report import format_estimate, markdown_table
from anomseer.protocol import LABELS

Key = tuple[str, int]
"""A completion: row id and sample index."""


@dataclass(frozen=True)
class Entry:
    """One line of the comparison: a run, or a group of runs of one setting (seeds) whose
    per-completion scores are averaged."""

    name: str
    description: str
    runs: Sequence[Mapping[Key, dict]]
    """Each run's records by (id, sample)."""

    @property
    def grouped(self) -> bool:
        return len(self.runs) > 1


def load_records(out: str | os.PathLike) -> dict[Key, dict]:
    """The latest ``predictions.jsonl`` record of each (id, sample) of a run folder."""
    path = Path(out) / PREDICTIONS_FILE
    if not path.is_file():
        raise UserInputError(
            f"{out} has no {PREDICTIONS_FILE}; evaluate into it first"
        )
    return PredictionLog(path).latest()


def compare_shared_rows(
    entries: Sequence[Entry],
    resamples: int = RESAMPLES,
    seed: int = SEED,
    level: float = LEVEL,
) -> str:
    """Markdown: the entries on the completions every run answered (matched by row id and
    sample), headline metrics with intervals, paired differences against the first entry,
    per anomaly type, and the seed spread of groups."""
    shared = sorted(set.intersection(*(set(run) for e in entries for run in e.runs)))
    if not shared:
        raise UserInputError(
            "the runs share no rows (matched by row id and sample); evaluate them on the same data"
        )
    series = [row_id for row_id, _ in shared]
    scores = [SeriesScores.from_values(series, _pooled_values(e.runs, shared)) for e in entries]
    first_run = entries[0].runs[0]
    labels = {key[0]: first_run[key]["scores"]["truth_label"] for key in shared}
    totals = ", ".join(f"{e.name} {'/'.join(str(len(run)) for run in e.runs)}" for e in entries)
    parts = [
        f"Compared on the {len(scores[0].series)} series ({len(shared)} completions) every run "
        f"answered, matched by row id and sample (completions per run: {totals}). "
        f"`value [low, high]`: {level:.0%} percentile-bootstrap interval over series "
        f"({resamples} resamples, seed {seed}).",
        _metric_table(entries, scores, resamples, seed, level),
    ]
    if len(entries) > 1:
        parts += [
            f"Paired difference against {entries[0].name} (same series, same resamples); "
            "`*` = the interval excludes 0:",
            _difference_table(entries, scores, resamples, seed, level),
        ]
    parts += [
        "Per anomaly type (same rows):",
        _type_table(entries, scores, labels, resamples, seed, level),
    ]
    groups = [(e, s) for e, s in zip(entries, scores, strict=True) if e.grouped]
    if groups:
        parts += [
            "Seeds pooled: a group's scores above are each completion's score averaged over "
            "its runs; here the mean ± standard deviation of its runs' means (same rows):",
            _spread_table(groups, shared, series),
        ]
    return "\n\n".join(parts) + "\n"


def _pooled_values(runs: Sequence[Mapping[Key, dict]], shared: Sequence[Key]) -> np.ndarray:
    """``[completion, metric]`` headline values averaged over `runs` (NaN where none defines
    them)."""
    stacked = np.array(
        [[[record_value(run[key], k) for k in HEADLINE_KEYS] for key in shared] for run in runs]
    )
    defined = ~np.isnan(stacked)
    counts = defined.sum(axis=0)
    total = np.where(defined, stacked, 0.0).sum(axis=0)
    return np.where(counts > 0, total / np.maximum(counts, 1), np.nan)


def _cells(means: np.ndarray, interval: np.ndarray, signed: bool = False) -> list[str]:
    return [
        format_estimate(float(m), None if np.isnan(m) else list(i), signed)
        for m, i in zip(means, interval, strict=True)
    ]


def _metric_table(entries, scores, resamples, seed, level) -> str:
    rows = [
        [e.name, e.description, *_cells(s.means(), bootstrap_interval(s, resamples, seed, level))]
        for e, s in zip(entries, scores, strict=True)
    ]
    header = ["run", "backend / model", *(title for _, title in HEADLINE)]
    return markdown_table(header, rows, text_columns=2)


def _difference_table(entries, scores, resamples, seed, level) -> str:
    rows = []
    for e, s in zip(entries[1:], scores[1:], strict=True):
        difference, interval = paired_difference(scores[0], s, resamples, seed, level)
        rows.append([e.name, *_cells(difference, interval, signed=True)])
    return markdown_table(["run", *(f"Δ{title}" for _, title in HEADLINE)], rows)


def _type_table(entries, scores, labels, resamples, seed, level) -> str:
    keys = [HEADLINE_KEYS.index("aff_f1"), HEADLINE_KEYS.index("class_accuracy")]
    rows = []
    for label in LABELS:
        of_type = [name for name in scores[0].series if labels[name] == label]
        if not of_type:
            continue
        subsets = [s.subset(of_type) for s in scores]
        for i, (e, s) in enumerate(zip(entries, subsets, strict=True)):
            interval = bootstrap_interval(s, resamples, seed, level)
            cells = _cells(s.means()[keys], interval[keys])
            if i == 0:
                cells += ["", ""]
            else:
                difference, diff_interval = paired_difference(subsets[0], s, resamples, seed, level)
                cells += _cells(difference[keys], diff_interval[keys], signed=True)
            rows.append([label, e.name, len(of_type), *cells])
    header = ["anomaly type", "run", "series", "Aff-F1", "Acc", "ΔAff-F1", "ΔAcc"]
    return markdown_table(header, rows, text_columns=2)


def _spread_table(groups, shared, series) -> str:
    rows = []
    for entry, _ in groups:
        per_run = np.array(
            [
                SeriesScores.from_values(series, _pooled_values([run], shared)).means()
                for run in entry.runs
            ]
        )
        cells = [
            "–" if np.isnan(column).any() else f"{column.mean():.3f} ± {column.std(ddof=1):.3f}"
            for column in per_run.T
        ]
        rows.append([entry.name, len(entry.runs), *cells])
    return markdown_table(["group", "runs", *(title for _, title in HEADLINE)], rows)
