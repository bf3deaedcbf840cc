"""Supervised fine-tuning of Qwen2.5-VL on rendered plots with the expert chain of thought.

Rows come from ``anomseer gen``: ``image`` (the label-free plot), ``prompt`` (one user turn) and
``completion`` (``<think>`` ExpCoT, ``<answer>``, ``<class>``). TRL's ``SFTTrainer`` trains on
the completion only. One process::

    anomseer sft --config recipes/tiny-cpu/sft.yaml

Many GPUs::

    accelerate launch --config_file recipes/accelerate/zero3.yaml -m anomseer.trainers.sft \\
        --config recipes/qwen2.5-vl-3b/sft.yaml

Every config field is also a flag that overrides the recipe (``--max_steps 10``).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from trl import SFTConfig, SFTTrainer
from trl.trainer.sft_trainer import DataCollatorForVisionLanguageModeling

from anomseer.errors import UserInputError
from anomseer.trainers.arguments import (
    DatasetArguments,
    ModelArguments,
    RunArguments,
    check_stage_config,
    parse_config,
    run_main,
)
from anomseer.trainers.checkpoints import CheckpointWeightsMixin, resolve_resume_checkpoint
from anomseer.trainers.model_setup import load_for_training
from anomseer.trainers.run_record import RunRecordCallback
from anomseer.trainers.tower_learning_rates import VisionLearningRateMixin
from anomseer.trainers.training_data import SFT_COLUMNS, check_max_length, load_training_splits


@dataclass
class AnomSeerSFTConfig(ModelArguments, DatasetArguments, RunArguments, SFTConfig):
    r"""``trl.SFTConfig`` plus the model and data fields of an AnomSeer recipe.

    Extra fields (all documented with ``--help``):

    - model: ``model_name_or_path``, ``dtype``, ``attn_implementation``;
    - processor: ``min_pixels``, ``max_pixels`` (saved with the processor in every checkpoint);
    - vision tower: ``freeze_vision_tower``;
    - LoRA: ``use_peft``, ``lora_r``, ``lora_alpha``, ``lora_dropout``, ``lora_target_modules``;
    - data: ``dataset_name`` (an ``anomseer gen`` folder or a hub id), ``dataset_train_split``,
      ``dataset_test_split``.

    Changed defaults: gradient checkpointing is non-reentrant unless
    ``gradient_checkpointing_kwargs`` says otherwise; ``resume_from_checkpoint: last`` resumes
    from the newest ``checkpoint-N`` in ``output_dir``.
    """

    def __post_init__(self) -> None:
        super().__post_init__()
        check_stage_config(self)
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


class AnomSeerSFTTrainer(CheckpointWeightsMixin, VisionLearningRateMixin, SFTTrainer):
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


def train(config: AnomSeerSFTConfig) -> AnomSeerSFTTrainer:
    """Run SFT as ``config`` says, save the final model and processor to ``output_dir``, and
    return the trainer."""
    resume = resolve_resume_checkpoint(config.resume_from_checkpoint, config.output_dir)
    train_dataset, eval_dataset = load_training_splits(config, SFT_COLUMNS, "SFT")
    model, processor, peft_config = load_for_training(config, config.trust_remote_code)
    for dataset in (train_dataset, eval_dataset):
        if dataset is not None:
            check_max_length(dataset, processor, config.max_length, config.dataset_name)
    trainer = AnomSeerSFTTrainer(
        model=model,
        args=config,
        data_collator=build_collator(processor, config),
        train_dataset=train_dataset,
        eval_dataset=eval_dataset,
        processing_class=processor,
        peft_config=peft_config,
        callbacks=[RunRecordCallback()],
    )
    trainer.train(resume_from_checkpoint=resume)
    trainer.save_model(config.output_dir)
    return trainer


def main(argv: Sequence[str] | None = None) -> AnomSeerSFTTrainer:
    """Parse ``--config RECIPE.yaml`` and flag overrides, then train."""
    return train(parse_config(AnomSeerSFTConfig, argv))


if __name__ == "__main__":
    sys.exit(run_main(main, "anomseer sft"))
