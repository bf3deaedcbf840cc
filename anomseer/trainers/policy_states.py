"""Last-layer hidden states of the policy, for the grounded advantage (SPEC section 5, step 2).

Two readings of the same model, both without gradient: the completion tokens of a scored GRPO
batch with the prompt and its image in context, and plain texts (the ExpCoT) read alone, with
no image and no chat template. The states are taken from the output of the model's decoder
(``model.get_decoder()``: the last layer after its final norm, what ``hidden_states[-1]``
holds) by a forward hook, so no other layer's states are kept and only one row of logits is
computed.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import torch

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

MULTIMODAL_KEYS = (
    "pixel_values",
    "image_grid_thw",
    "pixel_attention_mask",
    "spatial_shapes",
    "image_sizes",
    "token_type_ids",
    "mm_token_type_ids",
    "image_position_ids",
)
"""Keys of a scored TRL batch that the model's forward takes next to the token ids."""

_CHUNKED_KEYS = ("prompt_ids", "prompt_mask", "completion_ids", "completion_mask", "num_images")


@contextmanager
def last_hidden_state_hook(model: PreTrainedModel) -> Iterator[dict[str, torch.Tensor]]:
    """While open, every forward of ``model`` leaves its decoder's last hidden state
    ``[batch, tokens, hidden]`` under the key ``"states"`` of the yielded dict."""
    captured: dict[str, torch.Tensor] = {}

    def keep(module: torch.nn.Module, args: Any, output: Any) -> None:
        states = getattr(output, "last_hidden_state", None)
        captured["states"] = output[0] if states is None else states

    handle = model.get_decoder().register_forward_hook(keep)
    try:
        yield captured
    finally:
        handle.remove()


def _row_chunks(batch: dict[str, Any], rows: int) -> Iterator[dict[str, Any]]:
    """The batch in consecutive pieces of ``rows`` rows (one piece when it does not divide),
    with the image tensors cut per sample the way TRL cuts them."""
    from trl.trainer.utils import (
        split_pixel_values_by_grid,
        split_tensor_dict,
        unsplit_pixel_values_by_grid,
    )

    size = batch["completion_ids"].size(0)
    pieces = size // rows if 0 < rows < size and size % rows == 0 else 1
    keys = [k for k in (*_CHUNKED_KEYS, *MULTIMODAL_KEYS) if batch.get(k) is not None]
    split = split_pixel_values_by_grid({k: batch[k] for k in keys})
    for chunk in split_tensor_dict(split, pieces):
        yield unsplit_pixel_values_by_grid(chunk)


@torch.no_grad()
def completion_hidden_states(
    model: PreTrainedModel, batch: dict[str, Any], rows: int
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Per piece of ``rows`` rows of a scored TRL batch (``prompt_ids``, ``prompt_mask``,
    ``completion_ids``, ``completion_mask`` and the image tensors), the decoder's last hidden
    states at the completion positions ``[rows, completion_tokens, hidden]`` and the
    completion mask ``[rows, completion_tokens]`` (true for real tokens).

    Run it under the trainer's autocast and with gradient checkpointing off.
    """
    with last_hidden_state_hook(model) as captured:
        for chunk in _row_chunks(batch, rows):
            completion_ids = chunk["completion_ids"]
            inputs = {k: chunk[k] for k in MULTIMODAL_KEYS if chunk.get(k) is not None}
            model(
                input_ids=torch.cat([chunk["prompt_ids"], completion_ids], dim=1),
                attention_mask=torch.cat([chunk["prompt_mask"], chunk["completion_mask"]], dim=1),
                logits_to_keep=1,
                use_cache=False,
                **inputs,
            )
            width = completion_ids.size(1)
            yield captured["states"][:, -width:], chunk["completion_mask"].bool()


@torch.no_grad()
def text_hidden_states(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    texts: list[str],
    max_tokens: int,
    rows: int,
    device: torch.device,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The decoder's last hidden states of each text read alone (no special tokens, no chat
    template, at most ``max_tokens`` tokens), ``[len(texts), tokens, hidden]``, and the token
    mask on ``device``; texts are right-padded to the longest and read ``rows`` at a time.
    """
    encoded = tokenizer(
        texts,
        add_special_tokens=False,
        truncation=True,
        max_length=max_tokens,
        padding=True,
        padding_side="right",
        return_tensors="pt",
    )
    input_ids = encoded["input_ids"].to(device)
    mask = encoded["attention_mask"].to(device)
    if input_ids.size(1) == 0:  # every text is empty: no tokens, the cost of each is 1
        hidden = model.config.get_text_config().hidden_size
        return torch.zeros(len(texts), 0, hidden, device=device), mask.bool()
    states = []
    with last_hidden_state_hook(model) as captured:
        for start in range(0, len(texts), max(rows, 1)):
            piece = slice(start, start + max(rows, 1))
            model(
                input_ids=input_ids[piece],
                attention_mask=mask[piece],
                logits_to_keep=1,
                use_cache=False,
            )
            states.append(captured["states"])
    return torch.cat(states), mask.bool()
