"""Model and processor set-up for training: load through ``anomseer.modeling``, freeze the
vision tower, and describe LoRA adapters as a ``peft.LoraConfig`` the TRL trainer applies."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from anomseer.errors import UserInputError
from anomseer.modeling import load_model_and_processor

if TYPE_CHECKING:
    from peft import LoraConfig
    from transformers import PreTrainedModel, ProcessorMixin

    from anomseer.trainers.configs import ModelArguments

VISION_MODULES_PATTERN = r".*\.visual\..*"
"""Regex (peft ``exclude_modules``) of every module inside the vision tower."""


def load_for_training(
    args: ModelArguments, trust_remote_code: bool = False
) -> tuple[PreTrainedModel, ProcessorMixin, LoraConfig | None]:
    """The model (vision tower frozen when asked), its processor with the recipe's pixel bounds,
    and the LoRA config to hand to the trainer (None for full fine-tuning).

    A local model path is made absolute so a LoRA adapter records where its base lives.
    """
    if not args.model_name_or_path:
        raise UserInputError("no model: set model_name_or_path in the recipe or pass it as a flag")
    path = Path(args.model_name_or_path).expanduser()
    name_or_path = str(path.resolve()) if path.exists() else args.model_name_or_path
    model, processor = load_model_and_processor(
        name_or_path,
        dtype=args.dtype,
        attn_implementation=args.attn_implementation,
        min_pixels=args.min_pixels,
        max_pixels=args.max_pixels,
        device_map=None,
        trust_remote_code=trust_remote_code,
    )
    if args.freeze_vision_tower:
        freeze_vision_tower(model)
    return model, processor, lora_config(args) if args.use_peft else None


def freeze_vision_tower(model: PreTrainedModel) -> int:
    """Stop gradients through the vision encoder (the merger into the language model stays
    trainable); returns the number of frozen parameters."""
    visual = _vision_tower(model)
    frozen = 0
    for name, parameter in visual.named_parameters():
        if not name.startswith("merger."):
            parameter.requires_grad_(False)
            frozen += parameter.numel()
    return frozen


def lora_config(args: ModelArguments) -> LoraConfig:
    """LoRA on ``lora_target_modules``; the vision tower is left out when it is frozen."""
    from peft import LoraConfig

    return LoraConfig(
        task_type="CAUSAL_LM",
        r=args.lora_r,
        lora_alpha=args.lora_alpha,
        lora_dropout=args.lora_dropout,
        target_modules=list(args.lora_target_modules),
        exclude_modules=VISION_MODULES_PATTERN if args.freeze_vision_tower else None,
        bias="none",
    )


def _vision_tower(model: PreTrainedModel):
    inner = getattr(model, "model", model)
    visual = getattr(inner, "visual", None)
    if visual is None:
        raise UserInputError(
            f"{type(model).__name__} has no vision tower to freeze; freeze_vision_tower needs a "
            "Qwen2.5-VL model"
        )
    return visual
