"""`anomseer eval` reports faithfulness: per completion, per group with intervals, and the
least faithful answers in report.md."""

import json

import numpy as np
import pytest

from anomseer.evaluation import evaluate
from anomseer.evaluation.backends import Generation
from anomseer.evaluation.report import run_report
from anomseer.evaluation.runner import prediction_records, summarize
from anomseer.protocol import format_answer

pytestmark = pytest.mark.usefixtures("expert_ready")


@pytest.mark.slow
def test_expert_backend_on_the_tiny_preset_is_faithful(tiny_eval_data, tmp_path):
    out = tmp_path / "run"
    metrics = evaluate(tiny_eval_data, "eval", "expert", out, figures=False, progress=False)
    records = [json.loads(line) for line in (out / "predictions.jsonl").open()]
    assert all(r["claims"] and r["faithfulness"] is not None for r in records)
    overall = metrics["overall"]
    assert overall["faithfulness"] >= 0.95 and overall["claims"] >= 5
    low, high = overall["intervals"]["faithfulness"]
    assert low <= overall["faithfulness"] <= high
    for group in (*metrics["by_type"].values(), *metrics["by_family"].values()):
        assert group["faithfulness"] is not None and "faithfulness" in group["intervals"]
    assert "| Faith |" in (out / "report.md").read_text()


SERIES = (np.sin(2 * np.pi * np.arange(1000) / 50)).tolist()
ROW = {
    "id": "hand/0",
    "family": "point",
    "anomaly_type": "normal",
    "length": 1000,
    "intervals": [],
    "series": SERIES,
}


def test_false_claims_are_recorded_scored_and_shown():
    true = format_answer([], "normal", think="A clean wave with a period of about 50 points.")
    false = format_answer([], "normal", think="A period of about 20 points, a spike at t=300.")
    records = [
        *prediction_records(ROW, Generation((true,)), 1),
        *prediction_records({**ROW, "id": "hand/1"}, Generation((false,)), 1),
        *prediction_records({**ROW, "id": "hand/2"}, Generation(error="timeout"), 1),
    ]
    assert [r["faithfulness"] for r in records] == [1.0, 0.0, None]
    assert [c["kind"] for c in records[1]["claims"]] == ["period", "spike"]
    metrics = summarize(records)
    assert metrics["overall"]["faithfulness"] == 0.5  # the failed request has no claim
    assert metrics["overall"]["claims"] == pytest.approx(1.0)  # (1 + 2 + 0) / 3
    assert [w["id"] for w in metrics["least_faithful"]] == ["hand/1"]
    report = run_report(
        {
            **metrics,
            "run": {"backend": "x", "data": "d", "split": "eval", "settings": {}},
            "samples": 3,
            "completions_per_sample": 1,
            "counting": "",
        }
    )
    assert "## Least faithful answers" in report
    assert '"period of about 20" states 20.0, the series gives 50.0' in report
