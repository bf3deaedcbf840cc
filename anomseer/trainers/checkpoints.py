"""Training checkpoints: which one to resume from, loading its weights back correctly, and
exporting one as a standalone model folder (safetensors weights, processor with its pixel
bounds, chat template) that ``load_model_and_processor`` and ``vllm.LLM(model=...)`` load."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from anomseer.atomic_files import atomic_folder
from anomseer.errors import OptionError, UserInputError
from anomseer.modeling import is_hub_id

if TYPE_CHECKING:
    from transformers import PreTrainedModel

FULL_WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json")
"""Files one of which a checkpoint with full safetensors weights holds."""
RESUME_LAST = ("last", "true", "yes", "1")
"""``resume_from_checkpoint`` values that mean the newest checkpoint in ``output_dir``."""
PROCESSOR_FILES = ("processor_config.json", "preprocessor_config.json")
"""Files one of which a folder with a saved processor holds (transformers 5, then 4)."""


def resolve_resume_checkpoint(value: str | bool | None, output_dir: str) -> str | None:
    """The checkpoint folder to resume from: a path as given, or the newest ``checkpoint-N`` in
    ``output_dir`` for ``last``/``true``; None for a fresh run (``false``).

    Unset (None), a run resumes from the newest checkpoint in ``output_dir`` when there is one,
    like the other commands resume, and says so; ``false`` starts over in the same folder.
    """
    from transformers.trainer_utils import get_last_checkpoint

    last = get_last_checkpoint(output_dir) if Path(output_dir).is_dir() else None
    if value is None:
        if last is not None and os.environ.get("RANK", "0") == "0":
            print(
                f"resuming from {last} (set resume_from_checkpoint false to start over, "
                "or choose another output_dir)",
                file=sys.stderr,
            )
        return last
    if value is False or str(value).lower() in ("false", "no", "0", "none", ""):
        return None
    if value is True or str(value).lower() in RESUME_LAST:
        if last is None:
            raise UserInputError(
                f"resume_from_checkpoint={value!r} but {output_dir!r} holds no checkpoint-N "
                "folder; drop the flag to start fresh or point output_dir at the earlier run"
            )
        return last
    if not (Path(str(value)) / "trainer_state.json").is_file():
        raise UserInputError(
            f"resume_from_checkpoint {str(value)!r} is not a training checkpoint (no "
            "trainer_state.json); pass a checkpoint-N folder or 'last'"
        )
    return str(value)


def load_full_weights(model: PreTrainedModel, folder: str | os.PathLike) -> None:
    """Copy the weights saved in ``folder`` into ``model``, strictly.

    ``save_pretrained`` writes Qwen2.5-VL weights under the hub's key names, which a plain
    ``load_state_dict`` does not match (transformers#43701: ``Trainer`` then resumes from the
    initial weights with only a warning). ``from_pretrained`` applies the key conversion.
    """
    saved = type(model).from_pretrained(folder, dtype=model.dtype, use_safetensors=True)
    model.load_state_dict(saved.state_dict(), strict=True)


class CheckpointWeightsMixin:
    """Mixin for a ``transformers.Trainer`` subclass (put it first in the bases): resuming from a
    checkpoint, and ``load_best_model_at_end``, load full weights with :func:`load_full_weights`.
    Adapters, DeepSpeed and FSDP checkpoints keep the Trainer's own loading."""

    def _load_from_checkpoint(self, resume_from_checkpoint: str, model=None) -> None:
        if model is None and self._holds_full_weights(resume_from_checkpoint):
            load_full_weights(self.model, resume_from_checkpoint)
        else:
            super()._load_from_checkpoint(resume_from_checkpoint, model)

    def _load_best_model(self) -> None:
        best = self.state.best_model_checkpoint
        if self._holds_full_weights(best):
            load_full_weights(self.model, best)
        else:
            super()._load_best_model()

    def _holds_full_weights(self, folder: str) -> bool:
        from peft import PeftModel

        plain = not (self.is_deepspeed_enabled or self.is_fsdp_enabled)
        return (
            plain
            and not isinstance(self.model, PeftModel)
            and any((Path(folder) / name).is_file() for name in FULL_WEIGHT_FILES)
        )


def export_checkpoint(
    checkpoint: str | os.PathLike,
    out: str | os.PathLike,
    merge_lora: bool = False,
    base_model: str | None = None,
    dtype: str = "auto",
) -> Path:
    """Write ``checkpoint`` (full weights, or a LoRA adapter merged into its base) to ``out`` as
    safetensors weights plus the checkpoint's processor and chat template.

    The folder is written to a temporary sibling and renamed, so ``out`` is complete or absent.
    """
    from anomseer.modeling import load_model_and_processor, load_processor

    source = Path(checkpoint)
    target = Path(out)
    adapter = _check_export_paths(source, target)
    if adapter and not merge_lora:
        raise OptionError(
            f"{str(source)!r} holds a LoRA adapter, not full weights; pass $o to merge it into "
            "its base model",
            o="merge_lora",
        )
    processor = load_processor(source)
    if adapter:
        from peft import PeftModel

        base = base_model or _adapter_base(source)
        model, _ = load_model_and_processor(base, dtype=dtype)
        model = PeftModel.from_pretrained(model, str(source)).merge_and_unload()
    else:
        model, _ = load_model_and_processor(source, dtype=dtype)
    with atomic_folder(target) as folder:
        model.save_pretrained(folder)
        processor.save_pretrained(folder)
    return target


def _check_export_paths(source: Path, target: Path) -> bool:
    """Validate the export's input and output; return whether the input is a LoRA adapter."""
    if not source.is_dir():
        raise UserInputError(
            f"checkpoint {str(source)!r} does not exist; pass a training output folder"
        )
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise UserInputError(f"output {str(target)!r} already exists; choose a new folder")
    adapter = (source / "adapter_config.json").is_file()
    if not adapter and not (source / "config.json").is_file():
        raise UserInputError(
            f"{str(source)!r} is not a model checkpoint (no config.json or adapter_config.json)"
        )
    if not adapter and not any(source.glob("*.safetensors")):
        raise UserInputError(
            f"{str(source)!r} has no safetensors weights; a DeepSpeed ZeRO-3 checkpoint saved "
            "without zero3_save_16bit_model must first be consolidated with the zero_to_fp32.py "
            "script DeepSpeed writes next to it"
        )
    if not any((source / name).is_file() for name in PROCESSOR_FILES):
        raise UserInputError(
            f"{str(source)!r} has no processor ({PROCESSOR_FILES[0]}); export folders written "
            "by 'anomseer sft', which saves the processor with every checkpoint"
        )
    return adapter


def _adapter_base(source: Path) -> str:
    config = json.loads((source / "adapter_config.json").read_text())
    base = config.get("base_model_name_or_path")
    if not base:
        raise OptionError(f"{str(source)!r} does not name its base model; pass $o", o="base_model")
    if not Path(base).exists() and not is_hub_id(base):
        raise OptionError(
            f"the adapter's base model {base!r} does not exist here; pass $o", o="base_model"
        )
    return base
