"""Last-layer hidden states of the policy, for the grounded advantage (SPEC section 5, step 2).

Two readings of the same model, both without gradient: the completion tokens of a scored GRPO
batch with the prompt and its image in context, and plain texts (the ExpCoT) read alone, with
no image and no chat template. The states are taken from the output of the model's decoder
(``model.get_decoder()``: the last layer after its final norm, what ``hidden_states[-1]``
holds) by a forward hook, so no other layer's states are kept and only one row of logits is
computed.

Under ZeRO-3 and FSDP every forward of the policy is a collective, so every process must make
the same number of forwards in the same order: both readers take ``forwards``, the count the
processes agreed on (the largest local ``*_forward_count``), and pad their own reading with
forwards whose output is thrown away. Grounding forwards run in eval mode (``eval_mode``):
dropout, LoRA's among it, would make s depend on the draw.
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

_CHUNKED_KEYS = (
    "prompt_ids",
    "prompt_mask",
    "completion_ids",
    "completion_mask",
    "num_images",
    "num_tiles",
)


@contextmanager
def last_hidden_state_hook(
    model: PreTrainedModel, last_tokens: int | None = None
) -> Iterator[list[torch.Tensor]]:
    """While open, every forward of ``model`` appends its decoder's last hidden state
    ``[batch, tokens, hidden]`` (only the last ``last_tokens`` positions, when given, detached)
    to the yielded list."""
    captured: list[torch.Tensor] = []

    def keep(module: torch.nn.Module, args: Any, output: Any) -> None:
        states = getattr(output, "last_hidden_state", None)
        states = (output[0] if states is None else states).detach()
        # a copy of the kept positions, so the full-width states can be freed
        captured.append(states if last_tokens is None else states[:, -last_tokens:].contiguous())

    handle = model.get_decoder().register_forward_hook(keep)
    try:
        yield captured
    finally:
        handle.remove()


@contextmanager
def eval_mode(model: torch.nn.Module) -> Iterator[None]:
    """While open, every module of ``model`` is in eval mode (dropout off); on leaving, each
    module's own mode is restored (a frozen tower kept in eval mode stays so)."""
    modes = [(module, module.training) for module in model.modules()]
    model.eval()
    try:
        yield
    finally:
        for module, training in modes:
            module.training = training


def completion_forward_count(batch: dict[str, Any], rows: int) -> int:
    """Forwards ``completion_hidden_states`` makes over ``batch`` by itself: one per piece of
    ``rows`` rows, or one for the whole batch when ``rows`` does not divide it."""
    size = batch["completion_ids"].size(0)
    return size // rows if 0 < rows < size and size % rows == 0 else 1


def text_forward_count(num_texts: int, rows: int) -> int:
    """Forwards ``text_hidden_states`` makes over ``num_texts`` texts by itself."""
    return -(-num_texts // max(rows, 1))


def _check_forwards(forwards: int | None, needed: int) -> int:
    if forwards is None:
        return needed
    if forwards < needed:
        raise ValueError(f"forwards={forwards} is fewer than the {needed} this process needs")
    return forwards


def _row_chunks(batch: dict[str, Any], rows: int) -> Iterator[dict[str, Any]]:
    """The batch in ``completion_forward_count`` consecutive pieces, with the image tensors cut
    per sample the way TRL cuts them."""
    from trl.trainer.utils import (
        split_pixel_values_by_grid,
        split_tensor_dict,
        unsplit_pixel_values_by_grid,
    )

    pieces = completion_forward_count(batch, rows)
    keys = [k for k in (*_CHUNKED_KEYS, *MULTIMODAL_KEYS) if batch.get(k) is not None]
    split = split_pixel_values_by_grid({k: batch[k] for k in keys})
    for chunk in split_tensor_dict(split, pieces):
        yield unsplit_pixel_values_by_grid(chunk)


def _read(model: PreTrainedModel, **inputs: Any) -> None:
    """One forward whose only product is the hooked last hidden state."""
    model(**inputs, logits_to_keep=1, use_cache=False)


@torch.no_grad()
def completion_hidden_states(
    model: PreTrainedModel, batch: dict[str, Any], rows: int, forwards: int | None = None
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Per piece of ``rows`` rows of a scored TRL batch (``prompt_ids``, ``prompt_mask``,
    ``completion_ids``, ``completion_mask`` and the image tensors), the decoder's last hidden
    states at the completion positions ``[rows, completion_tokens, hidden]`` and the
    completion mask ``[rows, completion_tokens]`` (true for real tokens).

    ``forwards`` (at least ``completion_forward_count``) is how many forwards to make in all:
    the last piece is read again, unused, until there were that many. Run it under the
    trainer's autocast, in eval mode and with gradient checkpointing off.
    """
    pieces = completion_forward_count(batch, rows)
    padding = _check_forwards(forwards, pieces) - pieces
    with last_hidden_state_hook(model) as captured:
        for index, chunk in enumerate(_row_chunks(batch, rows)):
            completion_ids = chunk["completion_ids"]
            inputs = {k: chunk[k] for k in MULTIMODAL_KEYS if chunk.get(k) is not None}
            inputs["input_ids"] = torch.cat([chunk["prompt_ids"], completion_ids], dim=1)
            inputs["attention_mask"] = torch.cat(
                [chunk["prompt_mask"], chunk["completion_mask"]], dim=1
            )
            _read(model, **inputs)
            width = completion_ids.size(1)
            yield captured.pop()[:, -width:], chunk["completion_mask"].bool()
            if index == pieces - 1:
                for _ in range(padding):
                    _read(model, **inputs)
                captured.clear()


@torch.no_grad()
def text_hidden_states(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    texts: list[str],
    max_tokens: int,
    rows: int,
    device: torch.device,
    forwards: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The decoder's last hidden states of each text read alone (no special tokens, no chat
    template, at most ``max_tokens`` tokens), ``[len(texts), tokens, hidden]``, and the token
    mask on ``device``; texts are right-padded to the longest and read ``rows`` at a time.

    ``forwards`` (at least ``text_forward_count``) is how many forwards to make in all; the
    rest are one-token reads whose output is unused (so are the reads of texts that are all
    empty, which have no tokens: the cost of each is then 1).
    """
    rows = max(rows, 1)
    remaining = _check_forwards(forwards, text_forward_count(len(texts), rows))
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
    states = []
    with last_hidden_state_hook(model) as captured:
        if input_ids.size(1) > 0:
            for start in range(0, len(texts), rows):
                piece = slice(start, start + rows)
                _read(model, input_ids=input_ids[piece], attention_mask=mask[piece])
                states.append(captured.pop())
                remaining -= 1
        token = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        one_token = torch.full((1, 1), token, dtype=torch.long, device=device)
        for _ in range(remaining):
            _read(model, input_ids=one_token, attention_mask=torch.ones_like(one_token))
        captured.clear()
    if not states:  # every text is empty: no tokens, the cost of each is 1
        hidden = model.config.get_text_config().hidden_size
        return torch.zeros(len(texts), 0, hidden, device=device), mask.bool()
    return torch.cat(states), mask.bool()
