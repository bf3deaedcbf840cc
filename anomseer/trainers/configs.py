"""Recipe configs on TRL's own dataclasses, parsed side by side as open-r1 does.

A recipe is one flat YAML mapping whose keys are split over three dataclasses by ``TrlParser``:
:class:`AnomSeerScriptArguments` (``trl.ScriptArguments``: the dataset),
:class:`AnomSeerModelConfig` (``trl.ModelConfig``: checkpoint, dtype, LoRA, plus pixel bounds and
vision freezing) and the stage's trainer config (a ``trl.SFTConfig`` or ``trl.GRPOConfig``
subclass). Every field is also a command-line flag that overrides the recipe. A recipe may start
from another with ``base: FILE`` (a path relative to the recipe's folder) and list only the keys
it changes.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, NoReturn, TypeVar

from trl import ModelConfig, ScriptArguments

from anomseer.errors import UserInputError, did_you_mean, first_line
from anomseer.recipes import read_yaml, recipes_dir, shipped_recipe

DEFAULT_LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
"""Linear layers that get LoRA adapters: attention and MLP projections of every block."""

BASE_KEY = "base"
"""Recipe key naming the recipe this one overrides."""

TrainingConfigT = TypeVar("TrainingConfigT")


@dataclass
class AnomSeerModelConfig(ModelConfig):
    """``trl.ModelConfig`` for Qwen2.5-VL: ``dtype`` keeps the checkpoint's by default, LoRA
    targets every attention and MLP projection, and three fields are added: ``min_pixels``,
    ``max_pixels`` (the processor's image bounds) and ``freeze_vision_tower``."""

    dtype: str | None = field(
        default="auto",
        metadata={
            "help": "dtype the weights are loaded in; `auto` keeps the checkpoint's. Mixed "
            "precision is set separately with `bf16`.",
            "choices": ["auto", "bfloat16", "float16", "float32"],
        },
    )
    lora_target_modules: list[str] | None = field(
        default_factory=lambda: list(DEFAULT_LORA_TARGETS),
        metadata={"help": "Names of the linear layers that get LoRA adapters."},
    )
    min_pixels: int | None = field(
        default=None,
        metadata={
            "help": "Smallest image area in pixels the processor resizes a plot to (Qwen2.5-VL: "
            "3136); None keeps the checkpoint's value. Saved with the processor next to the "
            "weights."
        },
    )
    max_pixels: int | None = field(
        default=None,
        metadata={
            "help": "Largest image area in pixels; a plot above it is downscaled. One image token "
            "covers 28 x 28 pixels, so this bounds the image tokens per plot. None keeps the "
            "checkpoint's value. Saved with the processor next to the weights."
        },
    )
    freeze_vision_tower: bool = field(
        default=False,
        metadata={
            "help": "Freeze the vision encoder (patch embedding and ViT blocks): no gradient, no "
            "LoRA adapters. The merger that projects image features into the language model "
            "stays trainable."
        },
    )

    def __post_init__(self) -> None:
        try:
            super().__post_init__()
        except ValueError as error:
            raise UserInputError(first_line(error)) from error
        for name in ("load_in_8bit", "load_in_4bit"):
            if getattr(self, name):
                raise UserInputError(f"{name} is not supported; train in bf16 or with use_peft")
        if self.model_revision != "main":
            raise UserInputError(
                "model_revision is not supported; point model_name_or_path at the revision's "
                "local folder"
            )
        for name in ("min_pixels", "max_pixels"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise UserInputError(f"{name} must be a positive number of pixels, got {value}")
        if self.min_pixels and self.max_pixels and self.min_pixels > self.max_pixels:
            raise UserInputError(
                f"min_pixels ({self.min_pixels}) is larger than max_pixels ({self.max_pixels}); "
                "swap them or raise max_pixels"
            )
        if self.use_peft and (self.lora_r <= 0 or not self.lora_target_modules):
            raise UserInputError(
                "use_peft needs lora_r > 0 and at least one lora_target_modules name"
            )


@dataclass
class AnomSeerScriptArguments(ScriptArguments):
    """``trl.ScriptArguments`` for an ``anomseer gen`` folder or a hub dataset with its columns;
    no evaluation split unless ``dataset_test_split`` names one."""

    dataset_name: str | None = field(
        default=None,
        metadata={
            "help": "Dataset to train on: a folder written by `anomseer gen` "
            "(DIR/data/<split>-*.parquet) or a hub dataset id with the same columns."
        },
    )
    dataset_test_split: str | None = field(
        default=None,
        metadata={
            "help": "Split to evaluate the loss on (with `eval_strategy` steps or epoch); None: no "
            "evaluation."
        },
    )

    def __post_init__(self) -> None:
        if self.dataset_config or self.dataset_streaming:
            raise UserInputError(
                "dataset_config and dataset_streaming are not supported; point dataset_name at "
                "an `anomseer gen` folder or a hub dataset with its columns"
            )


def check_training_config(config: Any) -> None:
    """What every trainer config checks after TRL's ``__post_init__``: no ``model_init_kwargs``
    (the model fields say how to load), and non-reentrant gradient checkpointing unless
    ``gradient_checkpointing_kwargs`` says otherwise."""
    if config.model_init_kwargs:
        raise UserInputError(
            "model_init_kwargs is not used: set dtype and attn_implementation as recipe fields"
        )
    if config.gradient_checkpointing:
        kwargs = dict(config.gradient_checkpointing_kwargs or {})
        kwargs.setdefault("use_reentrant", False)
        config.gradient_checkpointing_kwargs = kwargs


def parse_config(
    training_cls: type[TrainingConfigT], argv: Sequence[str] | None = None
) -> tuple[AnomSeerScriptArguments, TrainingConfigT, AnomSeerModelConfig]:
    """``(script_args, training_args, model_args)`` from ``--config RECIPE.yaml`` (a path or a
    shipped recipe's name) and flag overrides, parsed with ``TrlParser``.

    Unknown recipe keys, unknown flags and invalid values raise a one-line ``UserInputError``.
    """
    from trl import TrlParser

    argv = list(sys.argv[1:] if argv is None else argv)
    classes = (AnomSeerScriptArguments, training_cls, AnomSeerModelConfig)
    parser = TrlParser(classes)
    parser.error = _refuse  # argparse would print its whole usage and exit
    if "--config" in argv:
        index = argv.index("--config")
        recipe = load_recipe(_recipe_path(argv[index + 1 : index + 2]), classes)
        del argv[index : index + 2]
        for key, value in recipe.pop("env", {}).items():
            os.environ[key] = str(value)
        parser.set_defaults_with_config(**recipe)
    try:
        *configs, unknown = parser.parse_args_into_dataclasses(argv, return_remaining_strings=True)
    except UserInputError:
        raise
    except ValueError as error:
        raise UserInputError(first_line(error)) from error
    if unknown:
        flags = [s for action in parser._actions for s in action.option_strings]
        hints = [f"{arg!r}{did_you_mean(arg, flags)}" for arg in unknown if arg.startswith("-")]
        raise UserInputError(
            f"unknown argument(s) {', '.join(hints) or ' '.join(unknown)}; fix the spelling "
            "(every recipe field is a flag, listed by --help)"
        )
    script_args, training_args, model_args = configs
    return script_args, training_args, model_args


def _refuse(message: str) -> NoReturn:
    raise UserInputError(message)


def load_recipe(path: Path, classes: Sequence[type], seen: tuple[Path, ...] = ()) -> dict:
    """The recipe in ``path`` as one mapping, its ``base`` recipe's keys first (recursively);
    keys no field of ``classes`` takes are refused with the closest field."""
    recipe: Any = read_yaml(path, "recipe")
    if not isinstance(recipe, dict):
        raise UserInputError(f"recipe {str(path)!r} must be a YAML mapping of field: value")
    known = {f.name for cls in classes for f in fields(cls) if f.init} | {"env", BASE_KEY}
    unknown = [key for key in recipe if key not in known]
    if unknown:
        hints = [f"{key!r}{did_you_mean(str(key), known)}" for key in unknown]
        raise UserInputError(
            f"recipe {str(path)!r} has unknown key(s) {', '.join(hints)}; remove them or fix "
            "the spelling (the fields are listed by --help)"
        )
    if not isinstance(recipe.get("env", {}), dict):
        raise UserInputError(f"recipe {str(path)!r}: env must be a mapping of NAME: value")
    base = recipe.pop(BASE_KEY, None)
    if base is None:
        return recipe
    base_path = (path.parent / str(base)).resolve()
    if base_path in seen or base_path == path.resolve():
        raise UserInputError(f"recipe {str(path)!r} is its own base through {str(base)!r}")
    if not base_path.is_file():
        raise UserInputError(
            f"recipe {str(path)!r}: base {str(base)!r} does not exist; give a path relative to "
            "the recipe's folder"
        )
    merged = load_recipe(base_path, classes, (*seen, path.resolve()))
    env = {**merged.pop("env", {}), **recipe.pop("env", {})}
    return {**merged, **recipe, **({"env": env} if env else {})}


def _recipe_path(value: list[str]) -> Path:
    """The ``--config`` file from the argument after the flag: a path, or the name of a shipped
    recipe (``tiny-cpu/sft/config_default.yaml``)."""
    if not value:
        raise UserInputError("--config needs a path to a YAML recipe")
    path = Path(value[0])
    if path.is_file():
        return path
    shipped = shipped_recipe(value[0])
    if shipped is None:
        raise UserInputError(
            f"recipe {str(path)!r} does not exist; pass a YAML file or a shipped recipe "
            f"such as tiny-cpu/sft/config_default.yaml (in {recipes_dir()})"
        )
    return shipped
