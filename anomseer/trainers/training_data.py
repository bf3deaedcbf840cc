"""Load a training split (an ``anomseer gen`` folder or a hub dataset), check its columns, and
measure its token lengths the way the collator builds them, so a recipe whose ``max_length``
would cut image tokens fails before training starts."""

from __future__ import annotations

import io
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from anomseer.errors import UserInputError
from anomseer.modeling import is_hub_id

if TYPE_CHECKING:
    from datasets import Dataset
    from transformers import ProcessorMixin

logger = logging.getLogger(__name__)

SFT_COLUMNS = ("image", "prompt", "completion")
"""Columns SFT reads: the label-free plot, the conversational prompt and the target answer."""


def load_split(name: str, split: str) -> Dataset:
    """One split of a local ``anomseer gen`` folder (``DIR/data/<split>-*.parquet``) or a hub
    dataset, loaded with ``datasets.load_dataset``."""
    from datasets import load_dataset

    path = Path(name).expanduser()
    if not path.exists() and not is_hub_id(name):
        raise UserInputError(
            f"dataset {name!r} does not exist; pass a folder written by 'anomseer gen' "
            "(DIR/data/<split>-*.parquet) or a hub dataset id"
        )
    source = str(path) if path.exists() else name
    try:
        return load_dataset(source, split=split)
    except (ValueError, OSError) as error:  # unknown split, no data files, hub unreachable
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise UserInputError(f"cannot load split {split!r} of dataset {name!r}: {reason}") from None


def require_columns(dataset: Dataset, columns: Sequence[str], name: str, purpose: str) -> None:
    """Fail with one line naming the columns ``purpose`` needs that ``dataset`` lacks."""
    missing = [column for column in columns if column not in dataset.column_names]
    if missing:
        raise UserInputError(
            f"dataset {name!r} has no {', '.join(repr(c) for c in missing)} column(s) "
            f"(it has {', '.join(dataset.column_names)}); {purpose} needs "
            f"{', '.join(columns)}: build it with 'anomseer gen'"
        )


@dataclass(frozen=True)
class SequenceLengths:
    """Token counts per row as the collator builds them: the prompt (chat template, image tokens
    included) and the completion (its text and the end-of-turn token)."""

    prompt: list[int]
    completion: list[int]
    ids: list[str]

    def longest_prompt(self) -> tuple[int, str]:
        """The largest prompt and the id of its row."""
        index = max(range(len(self.prompt)), key=self.prompt.__getitem__)
        return self.prompt[index], self.ids[index]


def sequence_lengths(
    dataset: Dataset, processor: ProcessorMixin, batch_size: int = 512
) -> SequenceLengths:
    """Measure every row of a prompt-completion dataset without decoding its images.

    Prompts are tokenized once per distinct (image size, prompt) pair with a blank image of that
    size, so the image token count comes from the processor itself.
    """
    from datasets import Image
    from trl.data_utils import apply_chat_template

    rows = dataset.select_columns(list(SFT_COLUMNS)).cast_column("image", Image(decode=False))
    ids = dataset["id"] if "id" in dataset.column_names else [str(i) for i in range(len(dataset))]
    prompt_tokens: dict[tuple, int] = {}
    prompts: list[int] = []
    completions: list[int] = []
    for batch in rows.iter(batch_size=batch_size):
        texts = []
        for image, prompt, completion in zip(
            batch["image"], batch["prompt"], batch["completion"], strict=True
        ):
            rendered = apply_chat_template({"prompt": prompt, "completion": completion}, processor)
            key = (_image_size(image), rendered["prompt"])
            if key not in prompt_tokens:
                prompt_tokens[key] = _prompt_token_count(processor, *key)
            prompts.append(prompt_tokens[key])
            texts.append(rendered["completion"])
        encoded = processor.tokenizer(texts, add_special_tokens=False)["input_ids"]
        completions.extend(len(tokens) for tokens in encoded)
    return SequenceLengths(prompt=prompts, completion=completions, ids=list(ids))


def check_max_length(
    dataset: Dataset, processor: ProcessorMixin, max_length: int | None, name: str
) -> SequenceLengths | None:
    """Fail when ``max_length`` would cut a prompt (its image tokens); log how many completions it
    cuts. ``None`` means no truncation and skips the check."""
    if max_length is None:
        return None
    lengths = sequence_lengths(dataset, processor)
    tokens, row = lengths.longest_prompt()
    if tokens >= max_length:
        raise UserInputError(
            f"max_length={max_length} would truncate image tokens: the prompt of row {row!r} in "
            f"{name!r} is {tokens} tokens (image included); raise max_length above {tokens} plus "
            "room for the completion, or lower max_pixels"
        )
    cut = sum(p + c > max_length for p, c in zip(lengths.prompt, lengths.completion, strict=True))
    if cut:
        logger.warning(
            "%d of %d rows of %r are longer than max_length=%d: their completions lose the tail "
            "(answer, class, end token); the longest has %d tokens",
            cut,
            len(lengths.prompt),
            name,
            max_length,
            max(p + c for p, c in zip(lengths.prompt, lengths.completion, strict=True)),
        )
    return lengths


def _image_size(image: dict[str, Any]) -> tuple[int, int]:
    """(width, height) of a stored image, read from its header only."""
    from PIL import Image

    source = io.BytesIO(image["bytes"]) if image.get("bytes") else image["path"]
    with Image.open(source) as opened:
        return opened.size


def _prompt_token_count(processor: ProcessorMixin, size: tuple[int, int], text: str) -> int:
    from PIL import Image

    blank = Image.new("RGB", size)
    encoded = processor(text=[text], images=[blank], add_special_tokens=False)
    return len(encoded["input_ids"][0])
