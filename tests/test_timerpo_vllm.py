"""TimerPO generating on a real vLLM engine (the CPU build here): two steps colocated, two steps
against a vLLM server, each in a process of its own; the engine's weights follow the policy."""

import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from helpers.training_cli import recipe_args
from helpers.vllm_processes import TRAINER_FLAGS, greedy_completion, vllm_server

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "recipes" / "tiny-cpu" / "timerpo" / "config_vllm.yaml"
RUNNER = Path(__file__).parent / "helpers" / "vllm_timerpo_run.py"
PROMPT = "Plot of a series of length 200. Where is the anomaly?"


def run_timerpo(model_dir, data_dir, out_dir: Path, *flags: str) -> dict:
    """Two TimerPO steps of the vLLM recipe in a child process; what ``vllm_timerpo_run`` wrote."""
    result = out_dir / "result.json"
    argv = recipe_args(RECIPE, model_dir, data_dir, out_dir, "--max_steps", "2")
    argv += ["--max_completion_length", "12", "--learning_rate", "0.01", "--save_strategy", "no"]
    env = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": "1"}
    command = [sys.executable, str(RUNNER), str(result), *argv, *flags]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=1500)
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(result.read_text())


def check_steps(steps: list[dict]) -> None:
    """Two steps, each with completions the engine sampled and TRL weighed against the policy."""
    assert [entry["step"] for entry in steps] == [1, 2]
    for entry in steps:
        assert entry["completions/mean_length"] > 0
        assert 0 < entry["sampling/importance_sampling_ratio/mean"] < 2, entry


def test_vision_tokens_are_blocked_and_the_users_biases_kept():
    from anomseer.trainers.vllm_generation import block_vision_tokens

    config = SimpleNamespace(image_token_id=5, video_token_id=6)
    assert block_vision_tokens(None, config) == {"logit_bias": {5: -100.0, 6: -100.0}}
    mine = {"logit_bias": {6: 2.0, 9: 1.0}, "seed": 1}
    assert block_vision_tokens(mine, config) == {
        "logit_bias": {5: -100.0, 6: 2.0, 9: 1.0},
        "seed": 1,
    }
    assert mine == {"logit_bias": {6: 2.0, 9: 1.0}, "seed": 1}  # the caller's dict is left alone


@pytest.mark.slow
def test_two_steps_colocated_sync_the_weights_into_the_engine(
    tiny_model_dir, tiny_train_data, tmp_path
):
    result = run_timerpo(tiny_model_dir, tiny_train_data, tmp_path / "run")
    check_steps(result["steps"])
    assert result["engine_dtype"] == "torch.float32"
    assert result["embedding_shift"] > 1e-4  # the step-1 policy reached the engine


@pytest.mark.slow
def test_two_steps_against_a_vllm_server_update_the_served_weights(
    tiny_model_dir, tiny_train_data, tmp_path
):
    with vllm_server(tiny_model_dir, tmp_path / "server.log", *TRAINER_FLAGS) as url:
        before = greedy_completion(url, str(tiny_model_dir), PROMPT)
        flags = ["--vllm_mode", "server", "--vllm_server_base_url", url]
        result = run_timerpo(tiny_model_dir, tiny_train_data, tmp_path / "run", *flags)
        after = greedy_completion(url, str(tiny_model_dir), PROMPT)
    check_steps(result["steps"])
    assert after != before  # the server answers with the trained weights
