"""The reduced demo (size 'ci'): the same code path as `make demo`, with smaller counts. It must
learn the answer protocol and give TimerPO a reward that is not zero."""

import json

import pytest

from anomseer.cli import main
from anomseer.commands.demo import DemoPaths, findings, plot_training_curves, reward_halves


@pytest.mark.slow
def test_reduced_demo_learns_the_protocol_and_resumes(tmp_path, capsys, expert_ready):
    out = tmp_path / "demo"
    argv = ["demo", "--out", str(out), "--size", "ci"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "[7/7] TimerPO checkpoint on held-out rows: format rate" in printed

    runs = {
        run: json.loads((out / "eval" / run / "metrics.json").read_text())
        for run in ("untrained", "sft", "timerpo", "expert")
    }
    assert {m["samples"] for m in runs.values()} == {10}  # the same held-out rows for all four
    assert runs["untrained"]["overall"]["format_rate"] == 0.0
    assert runs["sft"]["overall"]["format_rate"] >= 0.9
    timerpo_log = json.loads((out / "timerpo" / "log_history.json").read_text())
    assert any(entry.get("reward", 0.0) > 0.0 for entry in timerpo_log)

    report = (out / "report.md").read_text()
    for title in ("untrained model", "SFT checkpoint", "TimerPO checkpoint", "expert baseline"):
        assert title in report
    assert "SFT token accuracy at the last logged step" in report
    assert "Held-out reward (TimerPO's reward functions and weights" in report
    assert (out / "figures" / "training_curves.png").stat().st_size > 0

    trained = (out / "timerpo" / "model.safetensors").stat().st_mtime_ns
    assert main(argv) == 0  # a rerun resumes: finished stages are skipped
    assert (out / "timerpo" / "model.safetensors").stat().st_mtime_ns == trained


def test_reward_halves_and_constant_curves(tmp_path):
    history = [{"step": s, "reward": r, "grounding/similarity": 0.5} for s, r in
               [(1, 0.0), (2, 0.2), (3, 0.3), (4, 0.5), (5, 0.7)]]  # fmt: skip
    assert reward_halves(history) == pytest.approx((0.1, 0.5))
    assert reward_halves(history[:1]) is None
    constant = plot_training_curves(tmp_path / "curves.png", {"timerpo": history})
    assert constant == {"grounded similarity s": 0.5}


def test_findings_state_the_majority_baseline(tmp_path):
    def run(accuracy):
        return {
            "overall": {"format_rate": 1.0, "class_accuracy": accuracy, "aff_f1": 0.4},
            "by_type": {"trend": {"count": 3}, "seasonal": {"count": 1}},
        }

    metrics = {"untrained": run(0.0), "sft": run(0.5), "timerpo": run(0.5)}
    rewards = {"sft": 0.25, "timerpo": 0.5}
    lines = findings(DemoPaths(tmp_path), metrics, {"sft": [], "timerpo": []}, rewards)
    assert any("(trend) would score class accuracy 0.750" in line and "not above" in line
               for line in lines)  # fmt: skip
    assert any("SFT checkpoint 0.250, TimerPO checkpoint 0.500 (above SFT's)" in line
               for line in lines)  # fmt: skip


def test_findings_put_each_checkpoint_beside_its_best_trivial_baseline(tmp_path):
    def entry(run, baseline, name, low):
        interval = [low, low + 0.1]
        return {"run": run, "baseline": baseline, "best_baseline": name,
                "difference": run - baseline, "interval": interval, "above": low > 0}  # fmt: skip

    against = {
        "aff_f1": entry(0.5, 0.635, "whole_series", -0.18),
        "pa_f1": entry(0.3, 0.2, "most_common_answer", 0.02),
    }
    overall = {"format_rate": 1.0, "class_accuracy": 0.5, "aff_f1": 0.5, "pa_f1": 0.3}
    run = {"overall": overall, "by_type": {"trend": {"count": 3}}}
    metrics = {
        "untrained": run,
        "sft": run,
        "timerpo": {**run, "against_baselines": {"metrics": against}},
    }
    lines = findings(
        DemoPaths(tmp_path), metrics, {"sft": [], "timerpo": []}, {"sft": 0, "timerpo": 0}
    )
    assert (
        lines[1] == "SFT checkpoint: format rate 1.000, class accuracy 0.500, affiliation F1 0.500."
    )
    assert lines[2] == (
        "TimerPO checkpoint: format rate 1.000, class accuracy 0.500, affiliation F1 0.500 (best "
        "trivial baseline 0.635, whole series: -0.135 [-0.180, -0.080], not above), "
        "point-adjusted F1 0.300 (best trivial baseline 0.200, most common answer: +0.100 "
        "[+0.020, +0.120], above)."
    )
