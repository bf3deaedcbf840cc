import json

import numpy as np
import pytest
from helpers.dataset_files import generate_tiny
from helpers.eval_fixtures import MULTIVARIATE_ROWS, row_id, univariate_rows

from anomseer.evaluation import evaluate
from anomseer.metrics import score_completion
from anomseer.protocol import format_answer
from data_gen.expert.detector import expert_detect

pytestmark = pytest.mark.usefixtures("expert_ready")


@pytest.mark.slow
def test_expert_backend_answers_in_the_protocol_with_real_numbers(
    eval_data, multivariate_data, tmp_path
):
    out = tmp_path / "expert"
    metrics = evaluate(eval_data, "eval", "expert", out, figures=False, progress=False)
    records = [json.loads(line) for line in (out / "predictions.jsonl").open()]
    rows = univariate_rows()
    assert [r["id"] for r in records] == [row["id"] for row in rows]
    for record, row in zip(records, rows, strict=True):
        answer = expert_detect(np.asarray(row["series"], dtype=float))
        text = format_answer(answer.intervals, answer.label, think=answer.think)
        assert record["output"] == text and record["error"] is None
        assert record["answer"]["format_valid"] and record["answer"]["answer_valid"]
        _, score = score_completion(
            text,
            intervals=row["intervals"],
            anomaly_type=row["anomaly_type"],
            length=row["length"],
            series=row["series"],
        )
        assert record["scores"] == score.as_dict()
    assert metrics["overall"]["count"] == 7 and metrics["overall"]["invalid_answers"] == 0
    assert metrics["overall"]["format_rate"] == 1.0 and metrics["run"]["backend"] == "expert"
    # the painted spike of the global-point row is the series' largest departure
    spike = next(r for r in records if r["id"] == row_id("range", 0))
    assert spike["scores"]["aff_recall"] > 0

    multi = evaluate(multivariate_data, "eval", "expert", tmp_path / "multi", progress=False)
    multi_records = [json.loads(line) for line in (tmp_path / "multi/predictions.jsonl").open()]
    assert multi["overall"]["count"] == len(MULTIVARIATE_ROWS)
    assert all(r["scores"]["multivariate"] for r in multi_records)
    assert all(r["answer"]["answer_valid"] for r in multi_records)
    assert multi["overall"]["aff_f1"] is None  # variate-id rows have no affiliation score


@pytest.mark.slow
def test_expert_on_a_split_written_by_the_data_generator(tmp_path):
    generate_tiny(tmp_path / "data", "eval", num_per_family=1)
    metrics = evaluate(tmp_path / "data", "eval", "expert", tmp_path / "run", progress=False)
    assert metrics["overall"]["count"] == metrics["samples"] >= 5
    assert metrics["overall"]["invalid_answers"] == 0 and metrics["overall"]["failures"] == 0
    assert set(metrics["by_family"]) >= {"range", "point", "freq", "trend", "vta-shapelet"}
    assert (tmp_path / "run" / "figures" / "samples.png").is_file()
