"""SFT and TimerPO for real under DeepSpeed ZeRO-3 and ZeRO-2 and under FSDP2, each on two gloo
processes of this CPU through ``accelerate launch --config_file``: the engine that really ran,
sharded weights, the same collectives on each rank (and, where every forward gathers weights,
ZeRO-3 and FSDP2, the same forwards: a forward one rank makes alone hangs the run), finite
losses, a checkpoint that resumes. TimerPO's generation groups span both ranks, and each rank
generates to its own budget, so the ranks' completions end at different lengths."""

import importlib.util
import json
import math
import os
import subprocess
from pathlib import Path

import pytest
import yaml
from helpers.training_cli import launch_command, recipe_args, wait_for_launch

ROOT = Path(__file__).resolve().parents[1]
ACCELERATE = ROOT / "recipes" / "accelerate"
HELPER = Path(__file__).parent / "helpers" / "distributed_engines.py"
BUDGETS = "16,9"
"""Each rank's max_completion_length: rank 0's completions end 7 tokens after rank 1's."""


def every_forward_gathers(folder: Path) -> Path:
    """recipes/accelerate/zero3.yaml with a DeepSpeed config whose thresholds release every
    parameter after use, so every forward gathers (with the defaults the tiny model's small
    parameters all stay gathered and ZeRO-3 makes no collective in a forward)."""
    ds_config = {
        "zero_optimization": {
            "stage": 3,
            "stage3_param_persistence_threshold": 0,
            "stage3_max_live_parameters": 0,
            "stage3_max_reuse_distance": 0,
            "stage3_prefetch_bucket_size": 0,
            "stage3_gather_16bit_weights_on_model_save": True,
        },
        "train_micro_batch_size_per_gpu": "auto",
        "gradient_accumulation_steps": "auto",
        "gradient_clipping": "auto",
    }
    (folder / "ds_zero3.json").write_text(json.dumps(ds_config))
    config = yaml.safe_load((ACCELERATE / "zero3.yaml").read_text())
    config["deepspeed_config"] = {
        "deepspeed_config_file": str(folder / "ds_zero3.json"),
        "deepspeed_multinode_launcher": "standard",
        "zero3_init_flag": True,
    }
    config["mixed_precision"] = "no"
    path = folder / "zero3_every_gather.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def run_engine(config_file: Path, tiny_model_dir, data_dir, out: Path, projection: str) -> list:
    """Launch SFT then TimerPO on two processes under ``config_file``; each rank's reports."""
    common = ["--logging_steps", "1", "--bf16", "false"]
    sft = recipe_args(
        ROOT / "recipes" / "tiny-cpu" / "sft" / "config_default.yaml",
        tiny_model_dir,
        data_dir,
        out / "sft",
        "--per_device_train_batch_size",
        "2",
        *common,
    )
    timerpo = recipe_args(
        ROOT / "recipes" / "tiny-cpu" / "timerpo" / "config_default.yaml",
        tiny_model_dir,
        data_dir,
        out / "timerpo",
        "--num_generations",
        "4",
        "--per_device_train_batch_size",
        "1",
        "--gradient_accumulation_steps",
        "2",
        "--projection",
        projection,
        *common,
    )
    command = launch_command(
        2,
        HELPER,
        str(out),
        BUDGETS,
        "sft:" + " ".join(sft),
        "timerpo:" + " ".join(timerpo),
        config_file=config_file,
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    launched = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env
    )
    wait_for_launch(launched, timeout=900)
    return {
        stage: [json.loads((out / f"{stage}-rank{r}.json").read_text()) for r in range(2)]
        for stage in ("sft", "timerpo")
    }


@pytest.mark.slow
@pytest.mark.parametrize("engine", ["zero3", "zero2", "fsdp2"])
def test_sft_and_timerpo_train_sharded_on_two_processes(
    engine, tiny_model_dir, tiny_train_data, tmp_path
):
    if engine.startswith("zero") and importlib.util.find_spec("deepspeed") is None:
        pytest.fail("DeepSpeed is not installed: make test installs it (uv sync --extra deepspeed)")
    config_file = {
        "zero3": lambda: every_forward_gathers(tmp_path),
        "zero2": lambda: ACCELERATE / "zero2.yaml",
        "fsdp2": lambda: ACCELERATE / "fsdp.yaml",
    }[engine]()
    # gradient projection runs under FSDP2 (with accumulation); DeepSpeed refuses it
    projection = "gradient" if engine == "fsdp2" else "advantage"
    reports = run_engine(config_file, tiny_model_dir, tiny_train_data, tmp_path, projection)

    for stage, ranks in reports.items():
        for rank in ranks:
            # the policy's and (TimerPO) the reference model's weights
            held = [rank["policy"], *([rank["reference"]] if "reference" in rank else [])]
            if engine == "fsdp2":
                assert rank["distributed_type"] == "FSDP"
            else:
                assert rank["engine"] == "DeepSpeedEngine"
                assert rank["stage"] == int(engine[-1])
            if engine in ("fsdp2", "zero3"):  # every parameter sharded (ZeRO-3: released)
                for kind, share, count in held:
                    assert kind == engine[:5] and count == rank["params"] and share < 0.75
            if engine == "zero2":
                assert rank["policy"][0] == "whole" and rank["optimizer_share"] < 0.75
            assert rank["first_steps"] == 2 and rank["resumed_steps"] == 3
            assert len(rank["losses"]) == 2 and len(rank["resumed_losses"]) == 3
            assert all(math.isfinite(loss) for loss in rank["resumed_losses"])
        first, second = ranks
        assert first["collectives"] == second["collectives"], (engine, stage)
        if engine != "zero2":  # ZeRO-3 and FSDP2 gather the weights of every forward
            assert first["forwards"] == second["forwards"] > 0, (engine, stage)
            weight_gathers = {"zero3": "all_gather_into_tensor", "fsdp2": "all_gather_single"}
            gathers = first["collectives"].get(weight_gathers[engine], 0)
            assert gathers >= first["forwards"], (engine, stage)
    assert "reference" not in reports["sft"][0] and "reference" in reports["timerpo"][0]
