"""Series-level metrics against hand-derived numbers and against TSB-AD's own outputs
(tests/data/tsb_ad_reference.json, written by scripts/tsb_ad_reference.py with tsb-ad 1.5)."""

import json
import math
from pathlib import Path

import numpy as np
import pytest

from anomseer.intervals import mask_to_intervals
from anomseer.metrics import affiliation_precision_recall
from anomseer.series_metrics import (
    METRIC_KEYS,
    affiliation_f,
    auc_pr,
    auc_roc,
    best_standard_f1,
    binary_metrics,
    find_length_rank,
    tsb_ad_metrics,
    vus,
)

DATA = Path(__file__).parent / "data" / "tsb_ad_reference.json"
REALDATA = Path(__file__).resolve().parents[1].parent / "shared" / "realdata"
CASES = json.loads(DATA.read_text())["cases"]


def test_threshold_free_metrics_by_hand():
    label = np.array([0, 0, 1, 1, 0, 0, 0, 0])
    score = np.array([0.1, 0.2, 0.9, 0.3, 0.4, 0.0, 0.0, 0.0])
    # pairs (anomalous above normal): 0.9 beats all 6, 0.3 beats 5 of them
    assert auc_roc(score, label) == pytest.approx(11 / 12)
    # precision 1 at recall 1/2 (0.9), then 2/3 at recall 1 (0.3)
    assert auc_pr(score, label) == pytest.approx(0.5 * 1 + 0.5 * 2 / 3)
    # the best 2PR / (P + R + 1e-5): P = 2/3, R = 1
    assert best_standard_f1(score, label) == pytest.approx((4 / 3) / (5 / 3 + 1e-5), abs=1e-12)


def test_vus_by_hand():
    label = np.array([0, 0, 1, 0, 0])
    score = np.array([0.1, 0.2, 0.8, 0.9, 0.0])
    # widths 0 and 1 have no buffer: plain ROC area 3/4 and AP 1/2
    assert vus(score, label, 1) == pytest.approx((0.75, 0.5))
    # width 2 gives both neighbours the soft label s = sqrt(1/2)
    s = math.sqrt(0.5)
    p_first = 1 + s / 2  # P' = P + A / 2 with one neighbour predicted
    tpr_first = s / p_first  # only the neighbour at 0.9 is predicted; the widened event is hit
    fpr_first = (1 - s) / (5 - p_first)
    roc_2 = fpr_first * tpr_first / 2 + (1 - fpr_first)
    ap_2 = tpr_first * s + (1 - tpr_first) * (1 + s) / 2
    assert vus(score, label, 2) == pytest.approx(((1.5 + roc_2) / 3, (1 + ap_2) / 3))
    # a perfect score: every curve reaches TPR 1 at FPR 0 with precision 1
    perfect = vus(label.astype(float), label, 4)
    assert perfect == pytest.approx((1.0, 1.0))


def test_binary_metrics_by_hand():
    label = np.array([0, 1, 1, 1, 0, 0, 1, 1, 0, 0])
    pred = np.array([0, 0, 1, 0, 0, 1, 0, 0, 0, 0])
    found = binary_metrics(label, pred)
    assert found["Standard-F1"] == pytest.approx(2 / 7)  # TP 1, 2 predicted, 5 true
    assert found["PA-F1"] == pytest.approx(2 / 3)  # first event filled: TP 3, 4 predicted
    assert found["Event-based-F1"] == pytest.approx(0.5)  # event recall 1/2, precision 1/2
    # range recall ((0.2 + 0.8 / 3) + 0) / 2 = 7/30, range precision (1 + 0) / 2
    assert found["R-based-F1"] == pytest.approx(7 / 22)
    assert binary_metrics(label, label)["Affiliation-F"] == pytest.approx(1.0)


def test_tsb_ad_quirks_by_hand():
    # PA: the event starting at 0 and hit at 2 is filled from 1, not 0: TP 3 of 4, 3 predicted
    assert binary_metrics([1, 1, 1, 1, 0, 0], [0, 0, 1, 0, 0, 0])["PA-F1"] == pytest.approx(6 / 7)
    # an event running to the series end ends one point early for Event-based-F1
    assert binary_metrics([0, 0, 0, 0, 1, 1], [0, 0, 0, 0, 0, 1])["Event-based-F1"] == 0.0


def test_find_length_rank_by_hand():
    t = np.arange(2000)
    assert find_length_rank(np.sin(2 * np.pi * t / 50)) == 50
    assert find_length_rank(np.sin(2 * np.pi * t / 500)) == 125  # period beyond 303
    assert find_length_rank(np.tile([1.0, -1.0], 500)) == 125  # peak at lag 4: too short
    assert find_length_rank(np.zeros((10, 2))) == 0
    assert find_length_rank(t, rank=0) == 1


def test_needs_both_classes():
    with pytest.raises(ValueError, match="anomalous and one normal"):
        tsb_ad_metrics(np.arange(5.0), np.zeros(5), 10)


@pytest.mark.parametrize("case", [c for c in CASES if "series" in c], ids=lambda c: c["name"])
def test_matches_tsb_ad_on_synthetic_series(case):
    series = np.asarray(case["series"])
    label, score = np.asarray(case["label"]), np.asarray(case["score"])
    assert find_length_rank(series) == case["sliding_window"]
    found = tsb_ad_metrics(score, label, case["sliding_window"])
    assert list(found) == list(METRIC_KEYS)
    for key, value in case["metrics"].items():
        assert found[key] == pytest.approx(value, abs=1e-9), key
    if "pred" in case:
        found = binary_metrics(label, np.asarray(case["pred"]))
        for key, value in case["pred_metrics"].items():
            assert found[key] == pytest.approx(value, abs=1e-9), key


@pytest.mark.skipif(not REALDATA.exists(), reason="needs ../shared/realdata")
@pytest.mark.parametrize("case", [c for c in CASES if "file" in c], ids=lambda c: c["name"])
def test_matches_tsb_ad_on_tsb_ad_u_files(case):
    path = REALDATA / "tsb-ad-u" / "TSB-AD-U" / case["file"]
    frame = np.genfromtxt(path, delimiter=",", names=True)
    series, label = frame["Data"], frame["Label"].astype(int)
    score = np.abs(np.diff(series, prepend=series[0]))
    assert find_length_rank(series) == case["sliding_window"]
    found = tsb_ad_metrics(score, label, case["sliding_window"])
    for key, value in case["metrics"].items():
        assert found[key] == pytest.approx(value, abs=1e-9), key
    found = binary_metrics(label, score > np.quantile(score, 0.95))
    for key, value in case["pred_metrics"].items():
        assert found[key] == pytest.approx(value, abs=1e-9), key


def test_affiliation_zone_by_zone_equals_the_whole_series():
    rng = np.random.default_rng(5)
    for _ in range(20):
        label = (rng.random(300) < 0.03).astype(int)
        label[rng.integers(0, 280) :][:15] = 1
        pred = rng.random(300) < rng.uniform(0.01, 0.3)
        spans = mask_to_intervals(pred)
        precision, recall = affiliation_precision_recall(spans, mask_to_intervals(label > 0), 300)
        whole = 2 * precision * recall / (precision + recall + 1e-15)
        assert affiliation_f(label, pred) == pytest.approx(whole, abs=1e-12)
