import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from anomseer.metrics import (
    LOCALIZATION_KEYS,
    MEAN_KEYS,
    SampleScore,
    affiliation_precision_recall,
    affiliation_precision_recall_batch,
    aggregate_scores,
    class_accuracy,
    class_macro_f1,
    harmonic_f1,
    is_multivariate_row,
    point_adjusted_f1,
    point_precision_recall_f1,
    score_completion,
    score_sample,
    set_precision_recall_f1,
)
from anomseer.protocol import Answer, format_answer, parse_answer

GOLDEN = json.loads((Path(__file__).parent / "data" / "affiliation_cases.json").read_text())[
    "cases"
]


def _golden_arrays():
    precision = np.array([math.nan if c["precision"] is None else c["precision"] for c in GOLDEN])
    recall = np.array([c["recall"] for c in GOLDEN])
    return precision, recall


# ----------------------------------------------------------------------------- affiliation


def test_golden_cases_one_by_one():
    expected_p, expected_r = _golden_arrays()
    got = np.array(
        [
            affiliation_precision_recall(c["prediction"], c["ground_truth"], c["length"])
            for c in GOLDEN
        ]
    )
    np.testing.assert_array_equal(np.isnan(got[:, 0]), np.isnan(expected_p))
    np.testing.assert_allclose(got[:, 0], expected_p, rtol=0, atol=1e-9, equal_nan=True)
    np.testing.assert_allclose(got[:, 1], expected_r, rtol=0, atol=1e-9)


def test_golden_cases_as_one_batch():
    expected_p, expected_r = _golden_arrays()
    precision, recall = affiliation_precision_recall_batch(
        [c["prediction"] for c in GOLDEN],
        [c["ground_truth"] for c in GOLDEN],
        [c["length"] for c in GOLDEN],
    )
    assert int(np.isnan(expected_p).sum()) == 28  # the cases without a prediction
    np.testing.assert_allclose(precision, expected_p, rtol=0, atol=1e-9, equal_nan=True)
    np.testing.assert_allclose(recall, expected_r, rtol=0, atol=1e-9)


@pytest.mark.parametrize(
    ("prediction", "precision", "recall"),
    [
        ([(12, 18)], 1.0, 0.992),
        ([(25, 30)], 0.75, 0.80625),
        ([(0, 100)], 0.505, 1.0),
        ([(5, 25)], 0.925, 1.0),
        ([(15, 16)], 1.0, 0.959),
    ],
)
def test_spec_table(prediction, precision, recall):
    got = affiliation_precision_recall(prediction, [(10, 20)], 100)
    assert got == pytest.approx((precision, recall), abs=1e-12)


def test_spec_table_empty_prediction_and_two_events():
    precision, recall = affiliation_precision_recall([], [(10, 20)], 100)
    assert math.isnan(precision) and recall == 0.0
    assert affiliation_precision_recall([(12, 18)], [(10, 20), (60, 70)], 100) == pytest.approx(
        (1.0, 0.49), abs=1e-12
    )


def test_affiliation_without_truth_is_undefined():
    precision, recall = affiliation_precision_recall([(3, 5)], [], 10)
    assert math.isnan(precision) and math.isnan(recall)


def test_affiliation_hand_checked_split_prediction():
    # truth [2, 4) in [0, 8), prediction [1, 3): precision (1 + 5/8) / 2, recall (1 + 7/8) / 2
    assert affiliation_precision_recall([(1, 3)], [(2, 4)], 8) == pytest.approx((0.8125, 0.9375))


@st.composite
def interval_lists(draw, length):
    cuts = sorted(draw(st.sets(st.integers(0, length), max_size=12)))
    return [(s, e) for s, e in zip(cuts[0::2], cuts[1::2], strict=False)]


@st.composite
def affiliation_cases(draw):
    length = draw(st.integers(2, 300))
    truth = draw(interval_lists(length))
    prediction = draw(interval_lists(length))
    return prediction, truth or [(0, 1)], length


@given(st.lists(affiliation_cases(), min_size=1, max_size=8))
def test_batch_matches_single_calls_and_stays_in_unit_interval(cases):
    precision, recall = affiliation_precision_recall_batch(*zip(*cases, strict=True))
    for (prediction, truth, length), p, r in zip(cases, precision, recall, strict=True):
        single = affiliation_precision_recall(prediction, truth, length)
        np.testing.assert_allclose((p, r), single, rtol=0, atol=1e-12, equal_nan=True)
        assert math.isnan(p) == (not prediction)
        assert 0.0 <= r <= 1.0 + 1e-12
        assert math.isnan(p) or 0.0 <= p <= 1.0 + 1e-12


@given(affiliation_cases())
def test_perfect_prediction_scores_one(case):
    _, truth, length = case
    assert affiliation_precision_recall(truth, truth, length) == pytest.approx((1.0, 1.0))


def test_unsorted_touching_and_out_of_range_intervals_are_normalised():
    messy = [(30, 40), (12, 15), (15, 18), (90, 140), (-5, 2)]
    assert affiliation_precision_recall(messy, [(10, 20)], 100) == affiliation_precision_recall(
        [(0, 2), (12, 18), (30, 40), (90, 100)], [(10, 20)], 100
    )


# ----------------------------------------------------------------------------- point scores


def test_point_precision_recall_f1_hand_checked():
    assert point_precision_recall_f1([(15, 25)], [(10, 20)], 100) == (0.5, 0.5, 0.5)
    # TP = 4 of 14 predicted points and 10 true points: P = 2/7, R = 0.4, F1 = 8/24
    p, r, f1 = point_precision_recall_f1([(12, 14), (18, 30)], [(10, 20)], 100)
    assert (p, r, f1) == pytest.approx((2 / 7, 0.4, 1 / 3))
    assert point_precision_recall_f1([], [(10, 20)], 100) == (0.0, 0.0, 0.0)
    assert point_precision_recall_f1([(1, 2)], [], 100) == (0.0, 0.0, 0.0)


def test_point_adjusted_f1_hand_checked():
    truth, prediction = [(10, 20), (50, 60)], [(15, 16), (80, 90)]
    # the first event is hit, so it counts whole: TP = 10, 20 predicted, 20 true
    assert point_adjusted_f1(prediction, truth, 100) == pytest.approx(0.5)
    assert point_precision_recall_f1(prediction, truth, 100)[2] == pytest.approx(2 / 31)
    assert point_adjusted_f1([(30, 40)], truth, 100) == 0.0


def test_set_scores_and_harmonic_f1():
    assert set_precision_recall_f1([2, 5], [0, 2]) == (0.5, 0.5, 0.5)
    assert set_precision_recall_f1([1, 2, 3], [2]) == pytest.approx((1 / 3, 1.0, 0.5))
    assert harmonic_f1(0.0, 0.0) == 0.0
    assert harmonic_f1(math.nan, 1.0) == 0.0
    assert harmonic_f1(1.0, 0.992) == pytest.approx(2 * 0.992 / 1.992)


# ----------------------------------------------------------------------------- classes


def test_class_accuracy_and_macro_f1_hand_checked():
    truth = ["trend", "trend", "seasonal", "shapelet"]
    predicted = ["Trend", "seasonal", "seasonal", None]
    assert class_accuracy(truth, predicted) == 0.5
    # trend 2/3, seasonal 2/3, shapelet 0
    assert class_macro_f1(truth, predicted) == pytest.approx(4 / 9)
    assert class_macro_f1(["normal"], ["normal"]) == 1.0
    assert math.isnan(class_accuracy([], []))


# ----------------------------------------------------------------------------- one sample


def _answer(intervals=(), label="trend", variates=None):
    text = format_answer(intervals, label, think="t", variates=variates)
    return parse_answer(text, 100, multivariate=variates is not None)


def test_score_sample_hand_checked():
    score = score_sample(_answer([(12, 18)]), [(10, 20)], "trend", 100)
    aff_f1 = 2 * 0.992 / 1.992
    assert score.precision == 1.0 and score.recall == 0.6 and score.f1 == pytest.approx(0.75)
    assert (score.aff_precision, score.aff_recall) == pytest.approx((1.0, 0.992))
    assert score.aff_f1 == pytest.approx(aff_f1)
    assert score.pa_f1 == pytest.approx(1.0)
    assert score.localization == pytest.approx((1 + 0.6 + 0.75 + 1 + 0.992 + aff_f1) / 6)
    assert score.class_correct and score.format_valid and score.answer_valid


def test_score_sample_conventions():
    both_empty = score_sample(_answer([], "normal"), [], "normal", 100)
    assert all(getattr(both_empty, k) == 1.0 for k in (*LOCALIZATION_KEYS, "pa_f1"))
    assert both_empty.localization == 1.0 and both_empty.class_correct

    for answer, truth in [(_answer([(3, 4)]), []), (_answer([]), [(3, 4)])]:
        score = score_sample(answer, truth, "trend", 100)
        assert all(getattr(score, k) == 0.0 for k in (*LOCALIZATION_KEYS, "pa_f1"))

    invalid = parse_answer("<think>x</think><answer>not json</answer><class>trend</class>", 100)
    score = score_sample(invalid, [], "trend", 100)
    assert score.localization == 0.0 and not score.answer_valid and not score.format_valid
    assert score.class_correct  # the class block is still read


def test_score_sample_irregular_removes_missing_points():
    series = [0.0, 1.0, math.nan, math.nan] + [1.0] * 6
    score = score_sample(_answer([(1, 5)]), [(4, 6)], "trend", 10, missing=series)
    # on the 8 kept points: truth [(2, 4)], prediction [(1, 3)]
    assert (score.precision, score.recall) == (0.5, 0.5)
    assert (score.aff_precision, score.aff_recall) == pytest.approx((0.8125, 0.9375))
    mask = np.isnan(np.asarray(series))
    assert score_sample(_answer([(1, 5)]), [(4, 6)], "trend", 10, missing=mask) == score
    plain = score_sample(_answer([(1, 5)]), [(4, 6)], "trend", 10)
    assert plain.precision == 0.25


def test_score_sample_multivariate_uses_variate_ids():
    score = score_sample(
        _answer(label="shapelet", variates=[2, 5]), [], "shapelet", 100, truth_variates=[0, 2]
    )
    assert (score.precision, score.recall, score.f1) == (0.5, 0.5, 0.5)
    assert math.isnan(score.aff_precision) and math.isnan(score.pa_f1)
    assert score.localization == 0.5 and score.multivariate
    assert score.as_dict()["aff_f1"] is None
    restored = SampleScore.from_dict(json.loads(json.dumps(score.as_dict())))
    assert math.isnan(restored.aff_f1) and restored.as_dict() == score.as_dict()
    normal = score_sample(
        _answer(label="normal", variates=[]), [], "normal", 100, truth_variates=[]
    )
    assert normal.localization == 1.0


def test_score_sample_rejects_unknown_truth_label():
    with pytest.raises(ValueError, match="unknown truth label"):
        score_sample(Answer(), [], "spike", 100)


def test_score_completion_detects_multivariate_rows():
    assert is_multivariate_row([[0.0, 1.0], [1.0, 2.0]], None)
    assert not is_multivariate_row([0.0, 1.0], [])
    assert is_multivariate_row(None, [1])
    text = format_answer([], "shapelet", think="t", variates=[1])
    answer, score = score_completion(
        text,
        intervals=[],
        anomaly_type="shapelet",
        length=2,
        variates=[1],
        series=[[0.0, 1.0], [1.0, 2.0]],
    )
    assert answer.variates == [1] and score.localization == 1.0


# ----------------------------------------------------------------------------- aggregation


def test_aggregate_counts_invalid_answers_as_zero():
    good = score_sample(_answer([(12, 18)]), [(10, 20)], "trend", 100)
    normal = score_sample(_answer([], "normal"), [], "normal", 100)
    invalid = score_sample(parse_answer("garbage", 100), [(10, 20)], "trend", 100)
    summary = aggregate_scores([good, normal, invalid], ["trend", "range", "trend"])

    overall = summary["overall"]
    assert overall["count"] == 3 and overall["invalid_answers"] == 1
    assert overall["invalid_format"] == 1
    assert overall["aff_precision"] == pytest.approx((1.0 + 1.0 + 0.0) / 3)
    assert overall["recall"] == pytest.approx((0.6 + 1.0 + 0.0) / 3)
    assert overall["class_accuracy"] == pytest.approx(2 / 3)
    assert overall["format_rate"] == pytest.approx(2 / 3)

    trend = summary["by_type"]["trend"]
    assert trend["count"] == 2 and trend["aff_recall"] == pytest.approx(0.992 / 2)
    assert list(summary["by_type"]) == ["trend", "normal"]
    assert summary["by_family"]["range"]["localization"] == 1.0

    keys = {"count", "invalid_answers", "invalid_format", "class_accuracy", "class_macro_f1"}
    assert set(overall) == keys | set(MEAN_KEYS) | {"format_rate"}
    assert all("  " not in key and key == key.strip() for key in overall)
    json.dumps(summary, allow_nan=False)


def test_aggregate_reports_none_for_undefined_means():
    multi = score_sample(
        _answer(label="shapelet", variates=[1]), [], "shapelet", 9, truth_variates=[1]
    )
    summary = aggregate_scores([multi])
    assert summary["overall"]["aff_f1"] is None and summary["overall"]["f1"] == 1.0
    assert summary["by_family"] == {}
    empty = aggregate_scores([])["overall"]
    assert empty["count"] == 0 and empty["class_accuracy"] is None
    json.dumps(empty, allow_nan=False)
