"""Model and processor set-up for training: load through ``anomseer.modeling``, freeze the
vision tower, and describe LoRA adapters as a ``peft.LoraConfig`` the TRL trainer applies
(``trl.get_peft_config``, with the frozen vision tower left out)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from anomseer.errors import UserInputError
from anomseer.modeling import load_model_and_processor

if TYPE_CHECKING:
    from peft import LoraConfig
    from transformers import PreTrainedModel, ProcessorMixin

    from anomseer.trainers.configs import AnomSeerModelConfig

VISION_MODULES_PATTERN = r".*\.visual\..*"
"""Regex (peft ``exclude_modules``) of every module inside the vision tower."""


def load_for_training(
    args: AnomSeerModelConfig, trust_remote_code: bool = False
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
    return model, processor, peft_config(args)


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


def peft_config(args: AnomSeerModelConfig) -> LoraConfig | None:
    """TRL's LoRA config for ``args`` (None without ``use_peft``); the vision tower is left out
    when it is frozen."""
    from trl import get_peft_config

    config = get_peft_config(args)
    if config is not None and args.freeze_vision_tower:
        config.exclude_modules = VISION_MODULES_PATTERN
    return config


def _vision_tower(model: PreTrainedModel):
    inner = getattr(model, "model", model)
    visual = getattr(inner, "visual", None)
    if visual is None:
        raise UserInputError(
            f"{type(model).__name__} has no vision tower to freeze; freeze_vision_tower needs a "
            "Qwen2.5-VL model"
        )
    return visual
