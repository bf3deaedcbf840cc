"""The reduced demo: the same code path as `make demo`, with smaller counts."""

import json

import pytest

from anomseer.cli import main


@pytest.mark.slow
def test_reduced_demo_runs_every_stage_and_resumes(tmp_path, capsys, expert_ready):
    out = tmp_path / "demo"
    argv = ["demo", "--out", str(out), "--num-per-family", "1", "--sft-steps", "2",
            "--timerpo-steps", "2", "--max-new-tokens", "8"]  # fmt: skip
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "[6/6] report" in printed and "random weights" in printed

    report = (out / "report.md").read_text()
    assert "tiny TimerPO checkpoint" in report and "expert baseline" in report
    assert (out / "figures" / "training_curves.png").stat().st_size > 0
    for run in ("timerpo", "expert"):
        metrics = json.loads((out / "eval" / run / "metrics.json").read_text())
        assert metrics["overall"]["count"] == 5  # one eval series per family of 'tiny'
        assert (out / "eval" / run / "figures" / "samples.png").is_file()
    sft_log = json.loads((out / "sft" / "log_history.json").read_text())
    timerpo_log = json.loads((out / "timerpo" / "log_history.json").read_text())
    assert any("loss" in entry for entry in sft_log)
    assert any("grounding/transport_cost" in entry for entry in timerpo_log)

    trained = (out / "timerpo" / "model.safetensors").stat().st_mtime_ns
    assert main(argv) == 0  # a rerun resumes: finished stages are skipped
    assert (out / "timerpo" / "model.safetensors").stat().st_mtime_ns == trained
