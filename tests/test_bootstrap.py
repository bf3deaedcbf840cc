"""Bootstrap intervals over series, paired differences on shared rows, and seed pooling."""

import math

import numpy as np
import pytest

from anomseer.bootstrap import (
    SeriesScores,
    bootstrap_interval,
    group_intervals,
    paired_difference,
    resample_counts,
    series_scores,
)
from anomseer.errors import UserInputError
from anomseer.evaluation.comparison import Entry, compare_shared_rows
from anomseer.evaluation.report import format_estimate

NAN = math.nan


def tiny_scores() -> SeriesScores:
    # series s0..s3 with values 0 | 1 | 1 and 0 (two completions) | 1
    values = np.array([[0.0], [1.0], [1.0], [0.0], [1.0]])
    return SeriesScores.from_values(["s0", "s1", "s2", "s2", "s3"], values)


def test_series_sums_and_counts_skip_undefined_values():
    values = np.array([[1.0, NAN], [0.0, 0.5], [1.0, 1.0]])
    scores = SeriesScores.from_values(["a", "b", "a"], values)
    assert scores.series == ("a", "b")
    assert scores.sums.tolist() == [[2.0, 1.0], [0.0, 0.5]]
    assert scores.counts.tolist() == [[2, 1], [1, 1]]
    assert scores.means().tolist() == pytest.approx([2 / 3, 0.75])


def test_bootstrap_interval_by_hand_with_a_fixed_seed():
    # seed 0 draws these series for 5 resamples of 4 (numpy's default_rng(0).integers(0, 4))
    draws = [[3, 2, 2, 1], [1, 0, 0, 0], [0, 3, 2, 3], [2, 2, 3, 2], [2, 2, 2, 3]]
    (counts,) = resample_counts(4, resamples=5, seed=0)
    assert counts.tolist() == [np.bincount(d, minlength=4).tolist() for d in draws]
    # per-series sums [0, 1, 1, 1], completions [1, 1, 2, 1]: resample means
    # 4/6, 1/4, 3/5, 4/7, 4/7 -> sorted 1/4, 4/7, 4/7, 3/5, 2/3; linear percentiles at
    # positions 0.1 and 3.9: 1/4 + 0.1 (4/7 - 1/4) = 79/280 and 3/5 + 0.9 (2/3 - 3/5) = 0.66
    interval = bootstrap_interval(tiny_scores(), resamples=5, seed=0)
    assert interval.tolist() == [pytest.approx([79 / 280, 0.66])]
    assert tiny_scores().means().tolist() == [0.6]


def test_resamples_come_in_blocks_and_a_seed_repeats_them():
    blocks = list(resample_counts(7, resamples=250, seed=3))
    assert [len(b) for b in blocks] == [100, 100, 50]
    assert all((b.sum(axis=1) == 7).all() for b in blocks)
    again = np.concatenate(list(resample_counts(7, resamples=250, seed=3)))
    assert (np.concatenate(blocks) == again).all()
    other = np.concatenate(list(resample_counts(7, resamples=250, seed=4)))
    assert (other != again).any()


def test_interval_of_a_constant_metric_is_a_point_and_undefined_stays_undefined():
    scores = SeriesScores.from_values(list("abcd"), np.array([[0.5, NAN]] * 4))
    assert bootstrap_interval(scores, 200).tolist()[0] == [0.5, 0.5]
    assert np.isnan(bootstrap_interval(scores, 200)[1]).all()


def random_outcomes(n: int, p: float, seed: int) -> np.ndarray:
    return (np.random.default_rng(seed).random((n, 1)) < p).astype(float)


def test_paired_interval_excludes_zero_for_a_better_run_and_includes_it_for_equal_ones():
    names = [f"s{i}" for i in range(300)]
    base = SeriesScores.from_values(names, random_outcomes(300, 0.4, 1))
    better = SeriesScores.from_values(names, random_outcomes(300, 0.8, 2))
    difference, interval = paired_difference(base, better)
    assert 0.3 < difference[0] < 0.5 and 0 < interval[0, 0] < difference[0] < interval[0, 1]
    assert format_estimate(difference[0], interval[0], signed=True).endswith("] *")

    same, same_interval = paired_difference(base, base)
    assert same.tolist() == [0.0] and same_interval.tolist() == [[0.0, 0.0]]
    assert not format_estimate(0.0, [0.0, 0.0], signed=True).endswith("*")
    # another draw of the same quality: the interval covers 0
    alike = SeriesScores.from_values(names, random_outcomes(300, 0.4, 3))
    _, alike_interval = paired_difference(base, alike)
    assert alike_interval[0, 0] < 0 < alike_interval[0, 1]


def test_paired_resampling_needs_the_same_series():
    a = SeriesScores.from_values(["x", "y"], np.zeros((2, 1)))
    b = SeriesScores.from_values(["y", "x"], np.zeros((2, 1)))
    with pytest.raises(ValueError, match="same series"):
        paired_difference(a, b)


def test_format_estimate():
    assert format_estimate(0.8123, [0.7744, 0.849]) == "0.812 [0.774, 0.849]"
    assert format_estimate(-0.05, [-0.09, -0.01], signed=True) == "-0.050 [-0.090, -0.010] *"
    assert format_estimate(0.01, [-0.02, 0.04], signed=True) == "+0.010 [-0.020, +0.040]"
    assert format_estimate(None, None) == "–" and format_estimate(0.5, None) == "0.500"


def record(row_id: str, aff_f1: float | None, correct: bool, label="seasonal", sample=0) -> dict:
    scores = {
        "truth_label": label,
        "class_correct": correct,
        "aff_precision": aff_f1,
        "aff_recall": aff_f1,
        "aff_f1": aff_f1,
        "f1": aff_f1 or 0.0,
        "pa_f1": aff_f1,
    }
    return {"id": row_id, "sample": sample, "scores": scores}


def run(*records: dict) -> dict:
    return {(r["id"], r["sample"]): r for r in records}


def test_group_intervals_for_metrics_json():
    records = [record("a", 1.0, True), record("b", 0.0, False), record("c", None, True)]
    intervals = group_intervals(records, resamples=50)
    assert set(intervals) == {
        "aff_precision",
        "aff_recall",
        "aff_f1",
        "class_accuracy",
        "f1",
        "pa_f1",
    }
    low, high = intervals["aff_f1"]
    assert 0.0 <= low <= 0.5 <= high <= 1.0
    assert group_intervals([record("c", None, True)], resamples=50)["aff_f1"] is None
    assert series_scores(records).counts[:, 2].tolist() == [1, 1, 0]


def test_comparison_uses_only_the_shared_rows_and_states_their_number():
    first = run(record("a", 1.0, True), record("b", 0.0, True), record("c", 1.0, False))
    # "second" misses row c and has an extra row d; rows a and b are shared
    second = run(record("a", 0.5, True), record("b", 0.0, False), record("d", 1.0, True))
    text = compare_shared_rows(
        [Entry("first", "expert", [first]), Entry("second", "hf m", [second])], resamples=200
    )
    assert "on the 2 series (2 completions)" in text
    assert "completions per run: first 3, second 3" in text
    lines = text.splitlines()
    first_row = next(line for line in lines if line.startswith("| first | expert |"))
    # shared rows a, b: Aff-F1 mean (1 + 0) / 2 = 0.5, accuracy 1.0
    assert (
        first_row.split(" | ")[4].startswith("0.500 [") and "| 1.000 [1.000, 1.000] |" in first_row
    )
    difference_row = next(line for line in lines if line.startswith("| second | -0.250 ["))
    assert "| -0.500 [" in difference_row  # accuracy 0.5 - 1.0
    assert "| seasonal | second | 2 |" in text


def test_comparison_refuses_runs_without_shared_rows():
    with pytest.raises(UserInputError, match="share no rows"):
        compare_shared_rows(
            [
                Entry("x", "", [run(record("a", 1.0, True))]),
                Entry("y", "", [run(record("b", 1.0, True))]),
            ]
        )


def test_seed_group_pools_scores_and_reports_the_spread():
    # three seeds over rows a, b: Aff-F1 per run (1 + 0)/2, (0.5 + 0)/2, (1 + 1)/2
    seeds = [
        run(record("a", 1.0, True), record("b", 0.0, False)),
        run(record("a", 0.5, True), record("b", 0.0, True)),
        run(record("a", 1.0, False), record("b", 1.0, True), record("z", 1.0, True)),
    ]
    baseline = run(record("a", 0.0, False), record("b", 0.0, False))
    text = compare_shared_rows(
        [Entry("base", "expert", [baseline]), Entry("ours", "hf m", seeds)], resamples=100
    )
    lines = text.splitlines()
    # pooled per completion: a (1 + 0.5 + 1)/3 = 5/6, b 1/3 -> mean 7/12 = 0.583
    pooled = next(line for line in lines if line.startswith("| ours | hf m |"))
    assert pooled.split(" | ")[4].startswith("0.583 [")
    # spread of the runs' Aff-F1 means 0.5, 0.25, 1.0: mean 0.583, sample sd 0.382
    spread = next(line for line in lines if line.startswith("| ours | 3 |"))
    assert "| 0.583 ± 0.382 |" in spread
    assert "on the 2 series (2 completions)" in text and "ours 2/2/3" in text
