"""Trivial baselines: each answer hand-checked on small cases, the issue's demo numbers
reproduced, and an evaluation writing them to metrics.json and report.md."""

import json

import numpy as np
import pytest

from anomseer.bootstrap import SeriesScores
from anomseer.evaluation import compare_runs, evaluate
from anomseer.evaluation.baselines import (
    BASELINES,
    RowTruth,
    baseline_scores,
    baselines_block,
    compare_with_best,
    most_common_answer,
    random_answer,
)
from anomseer.metrics import MEAN_KEYS
from anomseer.protocol import format_answer


def record(row_id, truth, label, answer=(), valid=True, variates=(), truth_variates=()):
    """A ``predictions.jsonl`` record with what the baselines read."""
    return {
        "id": row_id,
        "truth": {"intervals": [list(s) for s in truth], "variates": list(truth_variates)},
        "scores": {"truth_label": label},
        "answer": {
            "intervals": [list(s) for s in answer],
            "variates": list(variates),
            "answer_valid": valid,
        },
    }


def univariate(length):
    return RowTruth(length, np.zeros(length, dtype=bool), None)


def test_whole_series_and_no_anomaly_by_hand():
    # truth [2, 4) in 10 points; the whole series: point P = 2/10, R = 1, F1 = 1/3 (= PA-F1).
    # Affiliation zone [0, 10], 2 points of room left, 6 right: precision = (2 inside
    # + integral_0^2 (8 - 2d)/10 = 1.2 + integral_0^6 ((2 - d)^+ + 6 - d)/10 = 2.0) / 10 = 0.52,
    # recall 1, F1 = 1.04 / 1.52.
    records = [record("a", [(2, 4)], "shapelet", [(5, 6)]), record("b", [], "normal", [])]
    truths = {"a": univariate(10), "b": univariate(10)}
    scores = baseline_scores(records, truths, draws=2)
    whole, nothing = scores["whole_series"], scores["no_anomaly"]
    assert (whole[0].precision, whole[0].recall) == pytest.approx((0.2, 1.0))
    assert whole[0].f1 == pytest.approx(1 / 3) and whole[0].pa_f1 == pytest.approx(1 / 3)
    assert (whole[0].aff_precision, whole[0].aff_recall) == pytest.approx((0.52, 1.0))
    assert whole[0].aff_f1 == pytest.approx(1.04 / 1.52)
    assert whole[1].aff_f1 == 0.0  # something answered on a normal row
    assert nothing[0].aff_f1 == 0.0 and nothing[0].localization == 0.0
    assert nothing[1].aff_f1 == 1.0 and nothing[1].localization == 1.0  # both empty


def test_whole_series_drops_missing_points_and_names_every_variate():
    # 4 of 10 points missing: the truth [6, 8) becomes [2, 4) of 6 points, P = 2/6
    missing = np.zeros(10, dtype=bool)
    missing[:4] = True
    records = [
        record("u", [(6, 8)], "global point"),
        record("m", [], "shapelet", truth_variates=[1]),
    ]
    truths = {"u": RowTruth(10, missing, None), "m": RowTruth(50, None, 4)}
    whole = baseline_scores(records, truths, draws=1)["whole_series"]
    assert whole[0].precision == pytest.approx(2 / 6)
    # variates {0, 1, 2, 3} against {1}: P = 1/4, R = 1
    assert (whole[1].precision, whole[1].recall, whole[1].f1) == pytest.approx((0.25, 1.0, 0.4))


def test_most_common_answer_counts_valid_answers_only():
    records = [
        record("a", [(1, 2)], "trend", [(3, 5)]),
        record("b", [(1, 2)], "trend", [(0, 1)], valid=False),
        record("c", [(1, 2)], "trend", [(0, 1)], valid=False),
        record("d", [(1, 2)], "trend", [(3, 5)]),
        record("e", [(1, 2)], "trend", [(7, 9)]),
    ]
    assert most_common_answer(records).intervals == [(3, 5)]
    # a tie goes to the first answer seen
    assert most_common_answer(records[3:]).intervals == [(3, 5)]
    assert most_common_answer(records[1:3]) is None
    scores = baseline_scores(records[1:3], {"b": univariate(10), "c": univariate(10)}, draws=1)
    assert "most_common_answer" not in scores
    # [3, 5) on every row against the truth [1, 2): no overlap, point F1 0
    common = baseline_scores(records, {k: univariate(10) for k in "abcde"}, draws=1)
    assert [s.f1 for s in common["most_common_answer"]] == [0.0] * 5


def test_random_intervals_match_the_answer_and_average_over_draws():
    rng = np.random.default_rng(0)
    answered = record("a", [(0, 5)], "shapelet", [(2, 7), (8, 9)])
    for _ in range(50):
        spans = random_answer(answered, univariate(10), rng).intervals
        assert [e - s for s, e in spans] == [5, 1]
        assert all(s >= 0 and e <= 10 for s, e in spans)
    assert random_answer(record("b", [], "normal", [(1, 3)], valid=False), univariate(10), rng) == (
        random_answer(record("c", [], "normal", []), univariate(10), rng)
    )
    # one 5-point interval, start uniform in 0..5, truth [0, 5): point F1 (5 - s) / 5, mean 0.5
    single = record("a", [(0, 5)], "shapelet", [(3, 8)])
    (score,) = baseline_scores([single], {"a": univariate(10)}, draws=3000)["random_intervals"]
    assert score.f1 == pytest.approx(0.5, abs=0.03)
    # an answer as long as the series can only be placed one way: the whole series
    full = record("a", [(2, 4)], "shapelet", [(0, 10)])
    scores = baseline_scores([full], {"a": univariate(10)}, draws=4)
    assert scores["random_intervals"][0].aff_f1 == pytest.approx(1.04 / 1.52)
    # multivariate: as many random variate ids as answered, among the row's variates
    multi = record("m", [], "shapelet", [], variates=[0, 2], truth_variates=[1])
    answer = random_answer(multi, RowTruth(50, None, 3), rng)
    assert len(answer.variates) == 2 and set(answer.variates) <= {0, 1, 2}


def test_the_run_is_above_a_baseline_only_when_the_paired_interval_is():
    ids = [str(i) for i in range(40)]
    run = SeriesScores.from_values(ids, np.full((40, 1), 0.8))
    lower = SeriesScores.from_values(ids, np.full((40, 1), 0.5))
    (entry,) = compare_with_best(run, {"low": lower}, keys=["aff_f1"]).values()
    assert entry["best_baseline"] == "low" and entry["above"]
    assert entry["difference"] == pytest.approx(0.3) and entry["interval"] == pytest.approx(
        [0.3, 0.3]
    )
    # the best baseline is chosen per metric; a run equal to it on average is not above it
    mixed = SeriesScores.from_values(ids, np.array([[1.0], [0.6]] * 20))
    result = compare_with_best(run, {"low": lower, "mixed": mixed}, keys=["aff_f1"])
    assert result["aff_f1"]["best_baseline"] == "mixed"
    assert result["aff_f1"]["difference"] == pytest.approx(0.0, abs=1e-12)
    assert not result["aff_f1"]["above"]


def test_the_issue_demo_rows_are_reproduced():
    """Issue 30's table: on the 47 anomalous held-out rows of `make demo` (preset 'demo', eval
    split), the whole series scores affiliation F1 0.676 and PA-F1 0.139, and the TimerPO
    checkpoint's constant answer 0.530. The rows' truth is generated, not rendered."""
    from data_gen.build import make_sample, schedule
    from data_gen.presets import load_preset
    from data_gen.synthetic.families import anomaly_type_for

    preset = load_preset("demo")
    seed = preset.split("eval").seed
    constant = [(135, 155), (205, 215), (628, 638), (902, 912)]
    records, truths = [], {}
    for family, index in schedule(preset.counts("eval")):
        sample = make_sample(preset, "eval", seed, family, index)
        label = anomaly_type_for(family, sample.intervals, sample.variates)
        row_id = f"{family}/{index}"
        records.append(record(row_id, sample.intervals, label, constant))
        truths[row_id] = RowTruth.of(sample.series, len(sample.series), None)
    scores = baseline_scores(records, truths, draws=1)
    anomalous = [i for i, r in enumerate(records) if r["truth"]["intervals"]]
    assert (len(records), len(anomalous)) == (50, 47)

    def mean(name, key):
        return round(float(np.mean([getattr(scores[name][i], key) for i in anomalous])), 3)

    assert mean("whole_series", "aff_f1") == 0.676
    assert mean("whole_series", "pa_f1") == 0.139
    assert mean("most_common_answer", "aff_f1") == 0.530


def test_eval_writes_baselines_and_the_report_shows_them(eval_data, chat_server, tmp_path):
    # the served model answers the first row's truth exactly and nothing valid elsewhere
    chat_server.answers = {200: format_answer([[60, 61]], "global point", think="spike")}
    out = tmp_path / "run"
    metrics = evaluate(eval_data, "eval", "openai", out, limit=4, figures=False,
                       model="stand-model", base_url=chat_server.base_url)  # fmt: skip
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["baselines"] == metrics["baselines"]
    assert set(saved["baselines"]) == set(BASELINES)
    for group in saved["baselines"].values():
        assert set(group) == set(saved["overall"])
        assert group["class_accuracy"] is None and group["count"] == 4
    assert saved["against_baselines"]["most_common_answer"] == {
        "intervals": [[60, 61]],
        "variates": [],
    }
    # the most common answer is the run's one valid answer: it overlaps the truth on row 0 only
    # (point F1 1, 0, 0, 0), but its affiliation credit for being near is well above the run's
    assert saved["baselines"]["most_common_answer"]["f1"] == pytest.approx(0.25)
    aff = saved["against_baselines"]["metrics"]["aff_f1"]
    assert aff["run"] == pytest.approx(0.25) and aff["baseline"] > 0.6 and not aff["above"]
    report = (out / "report.md").read_text()
    assert "| trivial: whole series | 4 |" in report
    assert "| trivial: random intervals | 4 |" in report
    best = aff["best_baseline"].replace("_", " ")
    assert f"| Aff-F1 | 0.250 | {best} | {aff['baseline']:.3f} | -" in report
    assert "not above |" in report
    # the run comparison (`anomseer report`, the demo report) puts it beside its best baseline
    table = compare_runs([("run", saved)])
    assert f"| run | 0.250 | {aff['baseline']:.3f} ({best}) | -" in table


def test_baselines_block_of_a_run_with_no_valid_answer():
    records = [record("a", [(2, 4)], "trend", valid=False), record("b", [], "normal", valid=False)]
    for r in records:  # what score_sample gives an invalid answer
        r["scores"].update(dict.fromkeys(MEAN_KEYS, 0.0))
    block = baselines_block(records, {"a": univariate(10), "b": univariate(10)}, draws=2)
    assert set(block["baselines"]) == {"whole_series", "no_anomaly", "random_intervals"}
    assert block["against_baselines"]["most_common_answer"] is None
    # every answer invalid: the run scores 0, no anomaly 0.5 on localisation
    loc = block["against_baselines"]["metrics"]["localization"]
    assert (loc["run"], loc["baseline"], loc["best_baseline"]) == (0.0, 0.5, "no_anomaly")
