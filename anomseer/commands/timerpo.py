"""TimerPO: GRPO with the optimal-transport grounded advantage and orthogonal projection (TRL's
GRPOTrainer, one process). Every field of the recipe is also a flag that overrides it, e.g.
`anomseer timerpo --config recipes/tiny-cpu/timerpo/config_default.yaml --alpha 0 --max_steps
10`; list the fields with `python -m anomseer.trainers.timerpo --help`. For several GPUs run
`accelerate launch --config_file recipes/accelerate/zero3.yaml -m anomseer.trainers.timerpo
--config RECIPE`."""

from __future__ import annotations

from anomseer.commands.training_stage import ACCEPTS_EXTRA_ARGS, add_arguments, run

NAME = "timerpo"
HELP = "reinforcement learning with the grounded advantage (GRPO + optimal transport)"

__all__ = ["ACCEPTS_EXTRA_ARGS", "HELP", "NAME", "add_arguments", "run"]
