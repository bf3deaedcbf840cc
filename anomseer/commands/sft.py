"""Supervised fine-tuning of Qwen2.5-VL on plots with the expert chain of thought (TRL's
SFTTrainer, one process). Every field of the recipe is also a flag that overrides it, e.g.
`anomseer sft --config recipes/tiny-cpu/sft/config_default.yaml --max_steps 20 --use_peft
true`; list the fields with `python -m anomseer.trainers.sft --help`. For several GPUs run
`accelerate launch --config_file recipes/accelerate/zero3.yaml -m anomseer.trainers.sft
--config RECIPE`."""

from __future__ import annotations

from anomseer.commands.training_stage import ACCEPTS_EXTRA_ARGS, add_arguments, run

NAME = "sft"
HELP = "supervised fine-tuning on plots with the expert chain of thought"

__all__ = ["ACCEPTS_EXTRA_ARGS", "HELP", "NAME", "add_arguments", "run"]
