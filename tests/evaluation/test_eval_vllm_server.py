"""The openai backend against a real vLLM OpenAI-compatible server, started by the test on
127.0.0.1 (the CPU build here) and stopped by its PID."""

import json

import pytest
from helpers.eval_fixtures import univariate_rows
from helpers.vllm_processes import vllm_server

from anomseer.cli import main


@pytest.fixture(scope="module")
def served_tiny_model(tiny_model_dir, tmp_path_factory):
    log = tmp_path_factory.mktemp("vllm-server") / "server.log"
    with vllm_server(tiny_model_dir, log) as url:
        yield url


@pytest.mark.slow
def test_openai_backend_scores_every_row_from_a_real_vllm_server(
    served_tiny_model, eval_data, tiny_model_dir, tmp_path, capsys
):
    out = tmp_path / "run"
    argv = ["eval", "--data", str(eval_data), "--backend", "openai"]
    argv += ["--model", str(tiny_model_dir), "--base-url", f"{served_tiny_model}/v1"]
    argv += ["--out", str(out), "--max-new-tokens", "12", "--concurrency", "4"]
    assert main(argv) == 0
    assert "7 completions" in capsys.readouterr().out
    records = [json.loads(line) for line in (out / "predictions.jsonl").open()]
    assert [r["id"] for r in records] == [row["id"] for row in univariate_rows()]
    assert all(r["error"] is None and r["output"] for r in records)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["overall"]["count"] == 7 and metrics["overall"]["failures"] == 0
