"""Every training run leaves its log history and curves in output_dir, logs to TensorBoard
offline when the recipe says so, and a rerun into a folder with checkpoints resumes."""

import json

import pytest
from helpers.training_cli import recipe_args

from anomseer.recipes import recipes_dir
from anomseer.trainers.checkpoints import resolve_resume_checkpoint
from anomseer.trainers.run_record import curves, plot_curves

HISTORY = [
    {"loss": 2.0, "learning_rate": 1e-3, "epoch": 0.5, "step": 1},
    {"loss": 1.5, "grad_norm": 3.0, "epoch": 1.0, "step": 2},
    {"train_runtime": 9.0, "train_loss": 1.75, "epoch": 1.0, "step": 2},
]


def test_curves_are_the_numbers_logged_per_step_without_the_summary():
    assert curves(HISTORY) == {
        "loss": [(1, 2.0), (2, 1.5)],
        "learning_rate": [(1, 1e-3)],
        "grad_norm": [(2, 3.0)],
    }


def test_curves_png_is_written(tmp_path):
    plot_curves(tmp_path / "curves.png", HISTORY)
    assert (tmp_path / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_unset_resume_takes_the_newest_checkpoint_and_says_so(tmp_path, capsys):
    assert resolve_resume_checkpoint(None, str(tmp_path)) is None
    for step in (2, 10):
        (tmp_path / f"checkpoint-{step}").mkdir()
        (tmp_path / f"checkpoint-{step}" / "trainer_state.json").write_text("{}")
    assert resolve_resume_checkpoint(None, str(tmp_path)) == str(tmp_path / "checkpoint-10")
    assert "set resume_from_checkpoint false to start over" in capsys.readouterr().err
    assert resolve_resume_checkpoint("false", str(tmp_path)) is None


@pytest.mark.slow
def test_sft_records_the_run_logs_to_tensorboard_and_resumes_on_rerun(
    tiny_model_dir, tmp_path, capsys
):
    from helpers.sft_dataset import write_sft_dataset

    from anomseer.trainers.sft import main

    data = write_sft_dataset(tmp_path / "data", count=4)
    out = tmp_path / "run"
    flags = ["--save_steps", "1", "--logging_steps", "1", "--report_to", "tensorboard",
             "--per_device_train_batch_size", "2"]  # fmt: skip
    recipe = recipes_dir() / "tiny-cpu" / "sft" / "config_default.yaml"
    first = main(recipe_args(recipe, tiny_model_dir, data, out, "--max_steps", "2", *flags))
    assert first.state.global_step == 2
    history = json.loads((out / "log_history.json").read_text())
    assert [entry["step"] for entry in history if "loss" in entry] == [1, 2]
    assert (out / "training_curves.png").stat().st_size > 0
    assert list(out.glob("runs/*/events.out.tfevents.*"))

    capsys.readouterr()
    again = main(recipe_args(recipe, tiny_model_dir, data, out, "--max_steps", "3", *flags))
    assert f"resuming from {out / 'checkpoint-2'}" in capsys.readouterr().err
    assert again.state.global_step == 3
    history = json.loads((out / "log_history.json").read_text())
    assert [entry["step"] for entry in history if "loss" in entry] == [1, 2, 3]
