"""Trivial baselines of a run's localisation scores, on the run's own rows.

Affiliation and point-adjusted scores reward trivial answers, so a run's score means little
without the score of answering without looking. Each baseline answers every completion of the
run with a fixed rule, is scored by ``anomseer.metrics.score_sample`` exactly as the run is,
and is summarised like the run's ``overall`` group:

- ``whole_series``: the whole series (every variate of a multivariate row) is anomalous;
- ``no_anomaly``: nothing is anomalous;
- ``most_common_answer``: the run's most frequent valid answer (intervals and variates),
  given on every row;
- ``random_intervals``: on each completion, intervals of the lengths the run answered there
  (as many, each placed uniformly at random inside the series; for multivariate rows as
  many variate ids drawn at random), averaged over ``RANDOM_DRAWS`` seeded draws.

Baselines are answers about *where*, not *what*: their class columns are undefined (None).
Each localisation metric of the run is then compared with its best baseline by a paired
bootstrap over series (``anomseer.bootstrap.paired_difference``): the run is *above* the
baseline when the interval of run minus baseline lies above 0.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from anomseer.bootstrap import SeriesScores, group_intervals, paired_difference, series_scores
from anomseer.metrics import (
    MEAN_KEYS,
    SampleScore,
    aggregate_scores,
    is_multivariate_row,
    missing_mask,
    score_sample,
)
from anomseer.protocol import Answer

if TYPE_CHECKING:
    from datasets import Dataset

BASELINES = ("whole_series", "no_anomaly", "most_common_answer", "random_intervals")
"""The trivial answers, in report order."""
RANDOM_DRAWS = 10
"""Random answers drawn per completion; its baseline score is their mean."""
RANDOM_SEED = 0
"""Seed of the random answers (fixed, so reports are reproducible)."""
COMPARED = MEAN_KEYS
"""Localisation metrics compared with the best baseline (the per-completion means)."""
UNDEFINED = (
    "class_accuracy", "class_macro_f1", "format_rate", "failures", "faithfulness", "claims"
)
"""Summary keys that do not apply to a trivial answer, which has no class and no reasoning
(None in its group)."""


@dataclasses.dataclass(frozen=True)
class RowTruth:
    """What scoring a completion of one row needs beyond its record: the series' length, its
    missing points (univariate) and its number of variates (multivariate, else None)."""

    length: int
    missing: np.ndarray | None
    variates: int | None

    @classmethod
    def of(cls, series: Sequence, length: int, truth_variates: Sequence[int] | None) -> RowTruth:
        if is_multivariate_row(series, truth_variates):
            return cls(int(length), None, len(series))
        return cls(int(length), missing_mask(series), None)


def row_truths(rows: Dataset, ids: Sequence[str]) -> dict[str, RowTruth]:
    """``RowTruth`` of the first ``len(ids)`` dataset rows (which carry ``ids``)."""
    columns = ["series", "length", *(["variates"] if "variates" in rows.column_names else [])]
    shapes = rows.select_columns(columns).select(range(len(ids)))
    return {
        row_id: RowTruth.of(row["series"], row["length"], row.get("variates"))
        for row_id, row in zip(ids, shapes, strict=True)
    }


def score_answer(record: Mapping, answer: Answer, truth: RowTruth) -> SampleScore:
    """``answer`` scored against the truth of ``record`` (a ``predictions.jsonl`` record)."""
    label = record["scores"]["truth_label"]
    intervals = record["truth"]["intervals"]
    if truth.variates is not None:
        variates = record["truth"]["variates"]
        return score_sample(answer, intervals, label, truth.length, truth_variates=variates)
    return score_sample(answer, intervals, label, truth.length, missing=truth.missing)


def trivial_answer(intervals: Sequence[Sequence[int]] = (), variates: Sequence[int] = ()) -> Answer:
    """A valid answer with these intervals and variates and no class."""
    return Answer(
        intervals=[(int(s), int(e)) for s, e in intervals],
        variates=[int(v) for v in variates],
        answer_valid=True,
        format_valid=True,
    )


def whole_series_answer(truth: RowTruth) -> Answer:
    return trivial_answer([(0, truth.length)], range(truth.variates or 0))


def most_common_answer(records: Sequence[Mapping]) -> Answer | None:
    """The run's most frequent valid answer (the first seen among equals); None when no
    answer of the run is valid."""
    counts = Counter(
        (
            tuple(tuple(span) for span in r["answer"]["intervals"]),
            tuple(r["answer"]["variates"]),
        )
        for r in records
        if r["answer"]["answer_valid"]
    )
    if not counts:
        return None
    (intervals, variates), _ = counts.most_common(1)[0]
    return trivial_answer(intervals, variates)


def random_answer(record: Mapping, truth: RowTruth, rng: np.random.Generator) -> Answer:
    """Intervals of the lengths ``record``'s answer gave, each placed uniformly at random in the
    series (as many random variate ids for a multivariate row); an invalid answer gave none."""
    answer = record["answer"]
    if not answer["answer_valid"]:
        return trivial_answer()
    lengths = [min(max(1, int(e) - int(s)), truth.length) for s, e in answer["intervals"]]
    starts = rng.integers(0, [truth.length - n + 1 for n in lengths]) if lengths else []
    intervals = [(int(s), int(s) + n) for s, n in zip(starts, lengths, strict=True)]
    variates: Sequence[int] = ()
    if truth.variates is not None:
        count = min(len(answer["variates"]), truth.variates)
        variates = sorted(rng.choice(truth.variates, size=count, replace=False).tolist())
    return trivial_answer(intervals, variates)


def mean_score(scores: Sequence[SampleScore]) -> SampleScore:
    """The mean of each float term of several scores of one completion."""
    first = scores[0]
    names = [field.name for field in dataclasses.fields(first)]
    floats = [name for name in names if isinstance(getattr(first, name), float)]
    return dataclasses.replace(
        first, **{name: float(np.mean([getattr(s, name) for s in scores])) for name in floats}
    )


def baseline_scores(
    records: Sequence[Mapping],
    truths: Mapping[str, RowTruth],
    draws: int = RANDOM_DRAWS,
    seed: int = RANDOM_SEED,
) -> dict[str, list[SampleScore]]:
    """Each baseline's score of every record (same order); ``most_common_answer`` is left out
    when the run has no valid answer."""
    common = most_common_answer(records)
    rng = np.random.default_rng(seed)
    scores: dict[str, list[SampleScore]] = {name: [] for name in BASELINES}
    for record in records:
        truth = truths[record["id"]]
        fixed = {"whole_series": whole_series_answer(truth), "no_anomaly": trivial_answer()}
        if common is not None:
            fixed["most_common_answer"] = common
        for name, answer in fixed.items():
            scores[name].append(score_answer(record, answer, truth))
        randoms = [
            score_answer(record, random_answer(record, truth, rng), truth) for _ in range(draws)
        ]
        scores["random_intervals"].append(mean_score(randoms))
    return {name: values for name, values in scores.items() if values}


def _score_records(records: Sequence[Mapping], scores: Sequence[SampleScore]) -> list[dict]:
    """Records of a baseline: the run's row ids with the baseline's scores."""
    return [{"id": r["id"], "scores": s.as_dict()} for r, s in zip(records, scores, strict=True)]


def summarize_baseline(records: Sequence[dict], scores: Sequence[SampleScore]) -> dict:
    """A baseline's group, with the keys of the run's ``overall`` (class columns None)."""
    group = aggregate_scores(scores)["overall"]
    group.update(dict.fromkeys(UNDEFINED))
    undefined_intervals = {"class_accuracy": None, "faithfulness": None}
    group["intervals"] = {**group_intervals(records), **undefined_intervals}
    return group


def compare_with_best(
    run: SeriesScores, baselines: Mapping[str, SeriesScores], keys: Sequence[str] = COMPARED
) -> dict[str, dict]:
    """Per metric: the best baseline (highest mean), its value, the run's, and the paired
    bootstrap difference run minus that baseline; ``above`` when its interval lies above 0."""
    run_means = run.means()
    differences = {name: paired_difference(scores, run) for name, scores in baselines.items()}
    out = {}
    for k, key in enumerate(keys):
        candidates = {
            name: float(s.means()[k]) for name, s in baselines.items() if not np.isnan(s.means()[k])
        }
        if not candidates or np.isnan(run_means[k]):
            continue
        best = max(candidates, key=candidates.__getitem__)
        difference, interval = differences[best]
        out[key] = {
            "best_baseline": best,
            "baseline": candidates[best],
            "run": float(run_means[k]),
            "difference": float(difference[k]),
            "interval": [float(interval[k, 0]), float(interval[k, 1])],
            "above": bool(interval[k, 0] > 0),
        }
    return out


def baselines_block(
    records: Sequence[Mapping],
    truths: Mapping[str, RowTruth],
    draws: int = RANDOM_DRAWS,
    seed: int = RANDOM_SEED,
) -> dict:
    """The ``metrics.json`` entries: ``baselines`` (one group per baseline) and
    ``against_baselines`` (how to read them, the most common answer, and per metric the
    comparison with the best baseline)."""
    scores = baseline_scores(records, truths, draws, seed)
    score_records = {name: _score_records(records, values) for name, values in scores.items()}
    common = most_common_answer(records)
    return {
        "baselines": {
            name: summarize_baseline(score_records[name], values) for name, values in scores.items()
        },
        "against_baselines": {
            "random_draws": draws,
            "random_seed": seed,
            "most_common_answer": None
            if common is None
            else {"intervals": [list(s) for s in common.intervals], "variates": common.variates},
            "metrics": compare_with_best(
                series_scores(records, COMPARED),
                {name: series_scores(r, COMPARED) for name, r in score_records.items()},
            ),
        },
    }


def run_baselines(records: Sequence[Mapping], rows: Dataset, ids: Sequence[str]) -> dict:
    """``baselines_block`` of a run's records over its dataset rows (the first ``len(ids)``)."""
    return baselines_block(records, row_truths(rows, ids))
