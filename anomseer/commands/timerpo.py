"""TimerPO: GRPO with the optimal-transport grounded advantage and orthogonal projection (TRL's
GRPOTrainer, one process). Every field of the recipe is also a flag that overrides it, e.g.
`anomseer timerpo --config recipes/tiny-cpu/timerpo/config_default.yaml --alpha 0 --max_steps
10`; list the fields with `python -m anomseer.trainers.timerpo --help`. For several GPUs run
`accelerate launch --config_file recipes/accelerate/zero3.yaml -m anomseer.trainers.timerpo
--config RECIPE`."""

from __future__ import annotations

import argparse

from anomseer.commands.training_stage import add_recipe_argument, run_stage

NAME = "timerpo"
HELP = "reinforcement learning with the grounded advantage (GRPO + optimal transport)"
ACCEPTS_EXTRA_ARGS = True


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_recipe_argument(parser, NAME)


def run(args: argparse.Namespace) -> int:
    return run_stage(NAME, "TimerPO", args)
