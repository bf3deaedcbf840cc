"""Supervised fine-tuning of Qwen2.5-VL on rendered plots with the expert chain of thought.

Rows come from ``anomseer gen``: ``image`` (the label-free plot), ``prompt`` (one user turn) and
``completion`` (``<think>`` ExpCoT, ``<answer>``, ``<class>``). TRL's ``SFTTrainer`` trains on
the completion only. One process::

    anomseer sft --config recipes/tiny-cpu/sft/config_default.yaml

Many GPUs::

    accelerate launch --config_file recipes/accelerate/zero3.yaml -m anomseer.trainers.sft \\
        --config recipes/qwen2.5-vl-3b/sft/config_default.yaml

Every config field is also a flag that overrides the recipe (``--max_steps 10``).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from trl import SFTConfig, SFTTrainer
from trl.trainer.sft_trainer import DataCollatorForVisionLanguageModeling

from anomseer.columns import SFT_COLUMNS
from anomseer.errors import UserInputError
from anomseer.trainers.checkpoints import CheckpointWeightsMixin
from anomseer.trainers.configs import (
    AnomSeerModelConfig,
    AnomSeerScriptArguments,
    check_training_config,
    parse_config,
)
from anomseer.trainers.entry import run_main, train_stage
from anomseer.trainers.fsdp2 import Fsdp2Mixin
from anomseer.trainers.tower_learning_rates import VisionLearningRate, VisionLearningRateMixin
from anomseer.trainers.training_data import check_max_length


@dataclass
class AnomSeerSFTConfig(VisionLearningRate, SFTConfig):
    r"""``trl.SFTConfig`` for AnomSeer: the loss is on the completion only, gradient checkpointing
    is non-reentrant unless ``gradient_checkpointing_kwargs`` says otherwise, and
    ``resume_from_checkpoint: last`` resumes from the newest ``checkpoint-N`` in ``output_dir``
    (unset, a rerun into a folder holding checkpoints resumes from the newest; ``false`` starts
    over). The model and data fields of a recipe are parsed into
    :class:`~anomseer.trainers.configs.AnomSeerModelConfig` and
    :class:`~anomseer.trainers.configs.AnomSeerScriptArguments` beside it.
    """

    def __post_init__(self) -> None:
        super().__post_init__()
        check_training_config(self)
        if self.completion_only_loss is False:
            raise UserInputError(
                "completion_only_loss=false would train on the prompt and its image tokens; "
                "AnomSeer SFT trains on the completion only, remove the setting"
            )


@dataclass
class CompletionCollator(DataCollatorForVisionLanguageModeling):
    """TRL's vision-language collator, with each row's labels ending at the completion's
    end-of-turn token (``end_token_id``, by default the tokenizer's eos, ``<|im_end|>`` for
    Qwen2.5-VL): the chat template's newline after it is context, not a target."""

    end_token_id: int | None = None

    def __post_init__(self) -> None:
        if self.end_token_id is None:
            self.end_token_id = self.processor.tokenizer.eos_token_id

    def torch_call(self, examples: list[dict]) -> dict:
        batch = super().torch_call(examples)
        labels = batch["labels"]
        is_end = labels == self.end_token_id
        last_end = labels.size(1) - 1 - is_end.flip(1).int().argmax(dim=1)
        after_end = torch.arange(labels.size(1))[None, :] > last_end[:, None]
        labels[after_end & is_end.any(dim=1, keepdim=True)] = -100
        return batch


class AnomSeerSFTTrainer(Fsdp2Mixin, CheckpointWeightsMixin, VisionLearningRateMixin, SFTTrainer):
    """TRL's SFTTrainer whose resumes load Qwen2.5-VL checkpoint weights correctly."""


def build_collator(processor, config: AnomSeerSFTConfig) -> CompletionCollator:
    """The completion-only collator for ``processor`` under ``config``'s ``max_length``."""
    end_token = config.eos_token
    return CompletionCollator(
        processor=processor,
        max_length=config.max_length,
        completion_only_loss=True,
        pad_to_multiple_of=config.pad_to_multiple_of,
        end_token_id=processor.tokenizer.convert_tokens_to_ids(end_token) if end_token else None,
    )


def train(
    script_args: AnomSeerScriptArguments,
    config: AnomSeerSFTConfig,
    model_args: AnomSeerModelConfig,
) -> AnomSeerSFTTrainer:
    """Run SFT as the recipe says (every row's prompt checked against ``max_length`` first),
    save the final model and processor to ``output_dir``, and return the trainer."""

    def prepare(processor, datasets: list) -> dict:
        for dataset in datasets:
            check_max_length(dataset, processor, config.max_length, script_args.dataset_name)
        return {"data_collator": build_collator(processor, config)}

    return train_stage(
        AnomSeerSFTTrainer, script_args, config, model_args, SFT_COLUMNS, "SFT", prepare
    )


def main(argv: Sequence[str] | None = None) -> AnomSeerSFTTrainer:
    """Parse ``--config RECIPE.yaml`` and flag overrides, then train."""
    return train(*parse_config(AnomSeerSFTConfig, argv))


if __name__ == "__main__":
    sys.exit(run_main(main, "anomseer sft"))
