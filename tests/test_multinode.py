"""Several nodes as users launch them: two "machines" of one process each on 127.0.0.1 training
TimerPO with ``accelerate launch --num_machines 2 --machine_rank R``, and the SLURM script's
per-node commands (``scripts/slurm/train.sbatch --dry-run``), parsed by accelerate's own
launcher and by the trainer's config parser."""

import json
import os
import shlex
import subprocess
from pathlib import Path

import pytest
from helpers.training_cli import free_port, launch_command, recipe_args, wait_for_launch

ROOT = Path(__file__).resolve().parents[1]
SBATCH = ROOT / "scripts" / "slurm" / "train.sbatch"
TIMERPO_7B = "recipes/qwen2.5-vl-7b/timerpo/config_default.yaml"


def dry_run(*args: str, nodes: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, SLURM_JOB_NODELIST=nodes, GPUS_PER_NODE="8", MAIN_PORT="29555")
    return subprocess.run(
        ["bash", str(SBATCH), "--dry-run", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_slurm_script_gives_each_node_its_command():
    from accelerate.commands.launch import launch_command_parser

    from anomseer.trainers.configs import parse_config
    from anomseer.trainers.timerpo import TimerPOConfig

    done = dry_run(
        "--vllm-server", "timerpo", TIMERPO_7B, "zero3", "--learning_rate", "5e-7",
        nodes="gpu-a,gpu-b,gpu-c",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    server, *trainers = done.stdout.splitlines()
    assert server == (
        "server gpu-c: trl vllm-serve --model runs/sft/qwen2.5-vl-7b --tensor_parallel_size 8 "
        "--host 0.0.0.0 --port 8000"
    )
    assert [line.split(":")[0] for line in trainers] == ["train gpu-a", "train gpu-b"]
    parser = launch_command_parser()
    for rank, line in enumerate(trainers):
        command = shlex.split(line.split(": ", 1)[1])
        assert command[:2] == ["accelerate", "launch"]
        launch = parser.parse_args(command[2:])
        assert (launch.num_machines, launch.num_processes, launch.machine_rank) == (2, 16, rank)
        assert (launch.main_process_ip, launch.main_process_port) == ("gpu-a", 29555)
        assert launch.config_file == "recipes/accelerate/zero3.yaml" and launch.module
        assert launch.training_script == "anomseer.trainers.timerpo"
        # bf16 off: TrainingArguments refuses it on a machine without a GPU
        _, config, _ = parse_config(TimerPOConfig, [*launch.training_script_args, "--bf16", "0"])
        assert config.learning_rate == 5e-7 and config.use_vllm
        assert (config.vllm_mode, config.vllm_server_host) == ("server", "gpu-c")


@pytest.mark.parametrize(
    ("args", "nodes", "message"),
    [
        (("--vllm-server", "sft", TIMERPO_7B, "zero3"), "a,b", "drop it for sft"),
        (("--vllm-server", "timerpo", TIMERPO_7B, "zero3"), "a", "needs 2 or more nodes"),
        (("timerpo", TIMERPO_7B, "zero4"), "a", "zero4.yaml does not exist"),
        (("grpo", TIMERPO_7B, "zero3"), "a", "STAGE must be sft or timerpo"),
    ],
)
def test_slurm_script_refuses_bad_input_in_one_line(args, nodes, message):
    done = dry_run(*args, nodes=nodes)
    assert done.returncode == 2 and message in done.stderr
    assert done.stderr.count("\n") == 1 and not done.stdout


@pytest.mark.slow
def test_two_machines_of_one_process_train_timerpo(tiny_model_dir, tiny_train_data, tmp_path):
    """``--num_machines 2 --machine_rank 0/1 --main_process_ip 127.0.0.1``, each "machine" a
    launcher of its own as on two nodes: two TimerPO steps with a group split across them."""
    flags = recipe_args(
        ROOT / "recipes" / "tiny-cpu" / "timerpo" / "config_default.yaml",
        tiny_model_dir,
        tiny_train_data,
        tmp_path,
        "--max_steps", "2", "--max_completion_length", "12", "--save_strategy", "no",
        "--num_generations", "4", "--per_device_train_batch_size", "2",
    )  # fmt: skip
    port = free_port()
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    machines = [
        subprocess.Popen(
            launch_command(2, "-m", "anomseer.trainers.timerpo", *flags, machine=(rank, 2, port)),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for rank in (0, 1)
    ]
    for launched in machines:
        wait_for_launch(launched, timeout=600)
    history = json.loads((tmp_path / "log_history.json").read_text())
    steps = [entry for entry in history if "loss" in entry]
    assert [entry["step"] for entry in steps] == [1, 2]
    assert (tmp_path / "model.safetensors").is_file()
