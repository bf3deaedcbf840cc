"""Recipe fields every training stage shares, and recipe parsing with ``TrlParser``.

A stage's config subclasses TRL's (``trl.SFTConfig``, ``trl.GRPOConfig``) together with
:class:`ModelArguments` and :class:`DatasetArguments`, so one flat YAML recipe holds the model,
the data and the trainer settings, and every field is also a command-line flag that overrides
the recipe.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn, TypeVar

from anomseer.errors import UserInputError, did_you_mean, first_line
from anomseer.recipes import read_yaml, recipes_dir, shipped_recipe

DEFAULT_LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
"""Linear layers that get LoRA adapters: attention and MLP projections of every block."""

ConfigT = TypeVar("ConfigT")


@dataclass
class ModelArguments:
    """The model to train and how: checkpoint, dtype, pixel bounds, LoRA, frozen vision tower."""

    model_name_or_path: str | None = field(
        default=None,
        metadata={
            "help": "Qwen2.5-VL checkpoint to start from: a local folder (e.g. one built by "
            "`anomseer tiny-model DIR`) or a hub id such as Qwen/Qwen2.5-VL-3B-Instruct."
        },
    )
    dtype: str = field(
        default="auto",
        metadata={
            "help": "dtype the weights are loaded in; `auto` keeps the checkpoint's. Mixed "
            "precision is set separately with `bf16`.",
            "choices": ["auto", "bfloat16", "float16", "float32"],
        },
    )
    attn_implementation: str | None = field(
        default=None,
        metadata={
            "help": "Attention kernel (`sdpa`, `eager`, `flash_attention_2`); None lets "
            "transformers pick (sdpa)."
        },
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
    vision_learning_rate: float | None = field(
        default=None,
        metadata={
            "help": "Learning rate of the vision tower (encoder and merger); the language model "
            "keeps `learning_rate`, and the schedule scales both alike. None: `learning_rate` "
            "for every weight. A lower rate keeps a tower trained from random weights from "
            "collapsing to one output for every plot (see BENCHMARKS.md, the demo)."
        },
    )
    use_peft: bool = field(
        default=False,
        metadata={"help": "Train LoRA adapters (peft) instead of all weights."},
    )
    lora_r: int = field(default=16, metadata={"help": "LoRA rank."})
    lora_alpha: int = field(
        default=32, metadata={"help": "LoRA scaling numerator (scale = alpha/r)."}
    )
    lora_dropout: float = field(default=0.05, metadata={"help": "Dropout on the LoRA input."})
    lora_target_modules: list[str] = field(
        default_factory=lambda: list(DEFAULT_LORA_TARGETS),
        metadata={"help": "Names of the linear layers that get LoRA adapters."},
    )


@dataclass
class DatasetArguments:
    """Where the rows come from: a folder written by ``anomseer gen`` or a hub dataset."""

    dataset_name: str | None = field(
        default=None,
        metadata={
            "help": "Dataset to train on: a folder written by `anomseer gen` "
            "(DIR/data/<split>-*.parquet) or a hub dataset id with the same columns."
        },
    )
    dataset_train_split: str = field(default="train", metadata={"help": "Split to train on."})
    dataset_test_split: str | None = field(
        default=None,
        metadata={
            "help": "Split to evaluate the loss on (with `eval_strategy` steps or epoch); None: no "
            "evaluation."
        },
    )


@dataclass
class RunArguments:
    """Run fields every stage shares: where to resume from."""

    resume_from_checkpoint: str | None = field(
        default=None,
        metadata={
            "help": "Resume training: a checkpoint-N folder, or `last` for the newest checkpoint "
            "in output_dir (the optimizer, scheduler, RNG and data position are restored). "
            "Unset, a rerun into an output_dir holding checkpoints resumes from the newest; "
            "`false` starts over there."
        },
    )


def check_stage_config(config: Any) -> None:
    """What every stage config checks after TRL's ``__post_init__``: the model fields, no
    ``model_init_kwargs`` (the recipe fields say how to load), and non-reentrant gradient
    checkpointing unless ``gradient_checkpointing_kwargs`` says otherwise."""
    check_model_arguments(config)
    if config.model_init_kwargs:
        raise UserInputError(
            "model_init_kwargs is not used: set dtype and attn_implementation as recipe fields"
        )
    if config.gradient_checkpointing:
        kwargs = dict(config.gradient_checkpointing_kwargs or {})
        kwargs.setdefault("use_reentrant", False)
        config.gradient_checkpointing_kwargs = kwargs


def check_model_arguments(args: ModelArguments) -> None:
    """Reject pixel bounds and LoRA settings that cannot work, naming the field."""
    for name in ("min_pixels", "max_pixels"):
        value = getattr(args, name)
        if value is not None and value <= 0:
            raise UserInputError(f"{name} must be a positive number of pixels, got {value}")
    if args.min_pixels and args.max_pixels and args.min_pixels > args.max_pixels:
        raise UserInputError(
            f"min_pixels ({args.min_pixels}) is larger than max_pixels ({args.max_pixels}); "
            "swap them or raise max_pixels"
        )
    if args.vision_learning_rate is not None and args.vision_learning_rate < 0:
        raise UserInputError(
            f"vision_learning_rate must be zero or positive, got {args.vision_learning_rate}"
        )
    if args.use_peft and (args.lora_r <= 0 or not args.lora_target_modules):
        raise UserInputError("use_peft needs lora_r > 0 and at least one lora_target_modules name")


def parse_config(config_cls: type[ConfigT], argv: Sequence[str] | None = None) -> ConfigT:
    """Parse ``--config RECIPE.yaml`` plus flag overrides into ``config_cls`` with TrlParser.

    Unknown recipe keys, unknown flags and invalid values raise a one-line ``UserInputError``.
    """
    from trl import TrlParser

    argv = list(sys.argv[1:] if argv is None else argv)
    if "--config" in argv:
        recipe = _recipe_path(argv)
        _check_recipe_keys(recipe, config_cls)
    parser = TrlParser(config_cls)
    parser.error = _refuse  # argparse would print its whole usage and exit
    try:
        config, unknown = parser.parse_args_and_config(argv, return_remaining_strings=True)
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
    return config


def _refuse(message: str) -> NoReturn:
    raise UserInputError(message)


def run_main(main: Callable[[], object], prog: str) -> int:
    """Run a training entry point as a script: bad input ends with one line and exit status 2,
    Ctrl-C with ``PROG: interrupted`` and status 130."""
    try:
        main()
    except UserInputError as error:
        print(f"{prog}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    finally:
        release_process_group()
    return 0


def release_process_group() -> None:
    """Tear down torch.distributed when a launcher set it up, every process together: a process
    that exits with the group alive can abort in the collective backend's threads, and a DDP
    reducer freed after its peers have gone can wait in gloo's destructor until the collective
    timeout (both seen with gloo on CPU). Drop the trainer before calling this."""
    import gc

    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        gc.collect()  # frees an unreachable trainer's DDP reducer while the peers are alive
        dist.barrier()
        dist.destroy_process_group()


def _recipe_path(argv: list[str]) -> Path:
    """The ``--config`` file: a path, or the name of a shipped recipe (``tiny-cpu/sft.yaml``),
    which is then written back into ``argv`` as its full path."""
    index = argv.index("--config")
    if index + 1 >= len(argv):
        raise UserInputError("--config needs a path to a YAML recipe")
    path = Path(argv[index + 1])
    if not path.is_file():
        shipped = shipped_recipe(argv[index + 1])
        if shipped is None:
            raise UserInputError(
                f"recipe {str(path)!r} does not exist; pass a YAML file or a shipped recipe "
                f"such as tiny-cpu/sft.yaml (in {recipes_dir()})"
            )
        path = shipped
        argv[index + 1] = str(shipped)
    return path


def _check_recipe_keys(path: Path, config_cls: type) -> None:
    """Name the recipe keys that no field of ``config_cls`` takes, with the closest field."""
    recipe: Any = read_yaml(path, "recipe")
    if not isinstance(recipe, dict):
        raise UserInputError(f"recipe {str(path)!r} must be a YAML mapping of field: value")
    fields = {f.name for f in dataclasses.fields(config_cls) if f.init} | {"env"}
    unknown = [key for key in recipe if key not in fields]
    if unknown:
        hints = [f"{key!r}{did_you_mean(str(key), fields)}" for key in unknown]
        raise UserInputError(
            f"recipe {str(path)!r} has unknown key(s) {', '.join(hints)}; remove them or fix "
            f"the spelling (the fields of {config_cls.__name__} are listed by --help)"
        )
