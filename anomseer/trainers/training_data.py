"""Load a training split (an ``anomseer gen`` folder or a hub dataset), check its columns, and
measure its token lengths the way the collator builds them, so a recipe whose ``max_length``
would cut image tokens fails before training starts."""

from __future__ import annotations

import io
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from anomseer.columns import SFT_COLUMNS
from anomseer.dataset_loading import check_columns, load_split
from anomseer.errors import UserInputError

if TYPE_CHECKING:
    from datasets import Dataset
    from transformers import ProcessorMixin

    from anomseer.trainers.configs import AnomSeerScriptArguments

logger = logging.getLogger(__name__)



def load_training_splits(
    config: AnomSeerScriptArguments, columns: Sequence[str], purpose: str
) -> tuple[Dataset, Dataset | None]:
    """The ``dataset_train_split`` and, when set, the ``dataset_test_split`` of
    ``config.dataset_name``, each checked for the ``columns`` that ``purpose`` needs."""
    if not config.dataset_name:
        raise UserInputError("no dataset: set dataset_name in the recipe or pass it as a flag")
    loaded = []
    for option in ("dataset_train_split", "dataset_test_split"):
        split = getattr(config, option)
        dataset = load_split(config.dataset_name, split, split_option=option) if split else None
        if dataset is not None:
            check_columns(dataset, columns, repr(config.dataset_name), purpose)
        loaded.append(dataset)
    train_dataset, eval_dataset = loaded
    return train_dataset, eval_dataset


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
