import json

import pytest
from helpers.eval_fixtures import UNIVARIATE_ROWS, univariate_rows
from PIL import Image

from anomseer.cli import main
from anomseer.evaluation.backends.hf import HFBackend, HFOptions, generate_completions
from anomseer.metrics import aggregate_scores, score_completion
from anomseer.modeling import TINY_MAX_PIXELS, TINY_MIN_PIXELS, load_model_and_processor


@pytest.mark.slow
def test_hf_backend_end_to_end_with_the_tiny_model(eval_data, tiny_model_dir, tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["eval", "--data", str(eval_data), "--backend", "hf", "--model", str(tiny_model_dir)]
    argv += ["--out", str(out), "--max-new-tokens", "12", "--batch-size", "4"]
    assert main(argv) == 0
    assert "7 completions" in capsys.readouterr().out

    records = [json.loads(line) for line in (out / "predictions.jsonl").open()]
    rows = univariate_rows()
    assert [r["id"] for r in records] == [row["id"] for row in rows]
    # the recorded outputs are what generate() gives for the dataset's prompt and plot
    model, processor = load_model_and_processor(tiny_model_dir, dtype="float32")
    expected = generate_completions(
        model, processor, [rows[0]["prompt"]], [rows[0]["image"]], max_new_tokens=12
    )
    assert records[0]["output"] == expected[0]
    # every record is scored exactly as the rewards score it, and metrics aggregate those
    scores = []
    for record, row in zip(records, rows, strict=True):
        _, score = score_completion(
            record["output"],
            intervals=row["intervals"],
            anomaly_type=row["anomaly_type"],
            length=row["length"],
            variates=row["variates"],
            series=row["series"],
        )
        assert record["scores"] == score.as_dict() and record["error"] is None
        scores.append(score)
    metrics = json.loads((out / "metrics.json").read_text())
    expected_metrics = aggregate_scores(scores, [row["family"] for row in rows])
    # the runner adds failures, intervals and the faithfulness of the reasoning: the untrained
    # model's text makes no checkable claim
    faithfulness = {"faithfulness": None, "claims": 0.0}
    assert {key: metrics["overall"][key] for key in faithfulness} == faithfulness
    added = {"failures": 0, "intervals": None} | faithfulness
    assert metrics["overall"] | added == expected_metrics["overall"] | added
    assert metrics["overall"]["invalid_answers"] == sum(not s.answer_valid for s in scores)
    assert set(metrics["by_type"]) == {label for _, label, _, _ in UNIVARIATE_ROWS}
    assert metrics["run"]["settings"]["min_pixels"] == TINY_MIN_PIXELS
    assert metrics["run"]["settings"]["max_pixels"] == TINY_MAX_PIXELS

    report = (out / "report.md").read_text()
    assert "## By anomaly type" in report and "| contextual point | 1 |" in report
    assert "![per_type](figures/per_type.png)" in report
    for name in ("samples.png", "per_type.png"):
        with Image.open(out / "figures" / name) as figure:
            assert figure.format == "PNG" and figure.width > 500


def test_hf_pixel_bounds_default_to_the_checkpoint_and_can_be_set(tiny_model_dir):
    backend = HFBackend.load(str(tiny_model_dir), HFOptions(dtype="float32", max_pixels=4 * 3136))
    settings = backend.settings()
    assert (settings["min_pixels"], settings["max_pixels"]) == (TINY_MIN_PIXELS, 4 * 3136)
    assert settings["temperature"] == 0.0 and settings["n"] == 1
