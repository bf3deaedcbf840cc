"""TimerPO: GRPO with the optimal-transport grounded advantage and orthogonal projection (TRL's
GRPOTrainer, one process). Every field of the recipe is also a flag that overrides it, e.g.
`anomseer timerpo --config recipes/tiny-cpu/timerpo.yaml --alpha 0 --max_steps 10`; list the
fields with `python -m anomseer.trainers.timerpo --help`. For several GPUs run
`accelerate launch --config_file recipes/accelerate/zero3.yaml -m anomseer.trainers.timerpo
--config RECIPE`."""

from __future__ import annotations

import argparse

NAME = "timerpo"
HELP = "reinforcement learning with the grounded advantage (GRPO + optimal transport)"
ACCEPTS_EXTRA_ARGS = True


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config", required=True, help="YAML recipe, e.g. recipes/tiny-cpu/timerpo.yaml"
    )


def run(args: argparse.Namespace) -> int:
    from anomseer.trainers.timerpo import main

    trainer = main(["--config", args.config, *args.extra_args])
    print(
        f"TimerPO finished after {trainer.state.global_step} steps; model in "
        f"{trainer.args.output_dir}"
    )
    return 0
