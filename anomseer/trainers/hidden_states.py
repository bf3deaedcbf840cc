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

The completions' states can also be kept while ``generate`` makes them
(``generated_hidden_states``), which saves the completion reading; that is only the same
reading when the model has no active dropout (``dropout_free``), since ``generate`` runs in
whatever mode the model is in.
"""

from __future__ import annotations

from collections import OrderedDict
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


class TextTokens:
    """Token ids of texts read alone (no special tokens, no chat template, at most
    ``max_tokens``), kept by text for the ``size`` texts used last, so the rows of an epoch
    are tokenised once."""

    def __init__(
        self, tokenizer: PreTrainedTokenizerBase, max_tokens: int, size: int = 4096
    ) -> None:
        self._tokenizer = tokenizer
        self._max_tokens = max_tokens
        self._size = size
        self._ids: OrderedDict[str, list[int]] = OrderedDict()

    def __call__(self, texts: list[str]) -> list[list[int]]:
        missing = list(dict.fromkeys(text for text in texts if text not in self._ids))
        if missing:
            encoded = self._tokenizer(
                missing, add_special_tokens=False, truncation=True, max_length=self._max_tokens
            )["input_ids"]
            self._ids.update(zip(missing, encoded, strict=True))
        ids = []
        for text in texts:
            self._ids.move_to_end(text)
            ids.append(self._ids[text])
        while len(self._ids) > self._size:
            self._ids.popitem(last=False)
        return ids


@torch.no_grad()
def text_hidden_states(
    model: PreTrainedModel,
    token_ids: list[list[int]],
    rows: int,
    device: torch.device,
    forwards: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The decoder's last hidden states of each text read alone, from its ``token_ids``
    (``TextTokens``), ``[len(token_ids), tokens, hidden]``, and the token mask on ``device``;
    texts are right-padded to the longest and read ``rows`` at a time.

    ``forwards`` (at least ``text_forward_count``) is how many forwards to make in all; the
    rest are one-token reads whose output is unused (so are the reads of texts that are all
    empty, which have no tokens: the cost of each is then 1).
    """
    rows = max(rows, 1)
    remaining = _check_forwards(forwards, text_forward_count(len(token_ids), rows))
    lengths = torch.tensor([len(ids) for ids in token_ids], dtype=torch.long)
    width = int(lengths.max()) if len(token_ids) else 0
    # right-padded with id 0: padding positions are masked out, so their id does not matter
    input_ids = torch.zeros(len(token_ids), width, dtype=torch.long)
    for row, ids in enumerate(token_ids):
        input_ids[row, : len(ids)] = torch.tensor(ids, dtype=torch.long)
    input_ids = input_ids.to(device)
    mask = (torch.arange(width) < lengths[:, None]).long().to(device)
    states = []
    with last_hidden_state_hook(model) as captured:
        if width > 0:
            for start in range(0, len(token_ids), rows):
                piece = slice(start, start + rows)
                _read(model, input_ids=input_ids[piece], attention_mask=mask[piece])
                states.append(captured.pop())
                remaining -= 1
        one_token = torch.zeros((1, 1), dtype=torch.long, device=device)
        for _ in range(remaining):
            _read(model, input_ids=one_token, attention_mask=torch.ones_like(one_token))
        captured.clear()
    if not states:  # every text is empty: no tokens, the cost of each is 1
        hidden = model.config.get_text_config().hidden_size
        return torch.zeros(len(token_ids), 0, hidden, device=device), mask.bool()
    return torch.cat(states), mask.bool()


def dropout_free(model: torch.nn.Module) -> bool:
    """Whether ``model`` reads the same in training as in eval mode: no dropout layer with a
    rate above 0 (LoRA's among them) and no attention with a dropout rate."""
    for module in model.modules():
        if isinstance(module, torch.nn.modules.dropout._DropoutNd) and module.p > 0:
            return False
        rate = getattr(module, "attention_dropout", 0.0)
        if isinstance(rate, (int, float)) and rate > 0:
            return False
    return True


class GeneratedStates:
    """The decoder's last hidden state of every completion token ``generate`` reads, by the
    token's index in the completion (see ``generated_hidden_states``).

    Each forward of the generating model is placed by its 2-D attention mask: the first
    (the prompt's prefill) sets the prompt width P, and a forward whose mask is W wide read
    completion token W - 1 - P last. A process that finished early under ``synced_gpus`` keeps
    making forwards; their tokens lie past its own completions and are not used.
    """

    def __init__(self, model: PreTrainedModel) -> None:
        self._model = model
        self._states: dict[int, torch.Tensor] = {}
        self._prompt_width: int | None = None
        self._token: int | None = None  # completion index the running forward reads last
        self._last_inputs: dict[str, Any] | None = None

    def before_forward(self, module: torch.nn.Module, args: Any, kwargs: dict[str, Any]) -> None:
        """Forward pre-hook of the generating model: note the inputs and the token read."""
        mask = kwargs.get("attention_mask")
        if args or not isinstance(mask, torch.Tensor) or mask.dim() != 2:
            self._token = self._last_inputs = None
            return
        if self._prompt_width is None:
            self._prompt_width = mask.size(1)
        self._token = mask.size(1) - 1 - self._prompt_width
        self._last_inputs = kwargs

    def after_decoder(self, module: torch.nn.Module, args: Any, output: Any) -> None:
        """Forward hook of the decoder: keep the state of the last position read."""
        if self._token is None or self._token < 0:
            return
        states = getattr(output, "last_hidden_state", None)
        states = output[0] if states is None else states
        self._states[self._token] = states[:, -1].detach()

    def finish(self, completion_ids: list[list[int]], pad_token_id: int) -> torch.Tensor | None:
        """After ``generate``: read each row's last generated token (whose state ``generate``
        never computes, since that token is sampled from the previous step's logits) in one
        more decode step on the generation's cache, and return the states
        ``[rows, tokens, hidden]`` of the ``tokens`` positions generated (the longest of
        ``completion_ids``, which end at their first EOS; positions past a row's end hold
        whatever the model read there). ``None`` when some position was not read (the
        generation did not run through the hooks as expected).

        Every call makes exactly one forward, so processes that must make the same forwards
        (ZeRO-3, FSDP) stay in step whatever their completions' lengths.
        """
        width = max((len(ids) for ids in completion_ids), default=0)
        inputs, self._last_inputs = self._last_inputs, None
        if inputs is None or width == 0:
            return None
        last = [ids[width - 1] if len(ids) == width else pad_token_id for ids in completion_ids]
        self._model(**_next_step_inputs(inputs, last))
        if any(token not in self._states for token in range(width)):
            return None
        return torch.stack([self._states.pop(token) for token in range(width)], dim=1)


def _next_step_inputs(inputs: dict[str, Any], tokens: list[int]) -> dict[str, Any]:
    """The keyword arguments of the decode step after the forward that took ``inputs``, one
    new token per row (``tokens``): the mask one column wider, positions one further, the
    image inputs of a prefill left out (as ``generate`` leaves them out), new tokens typed as
    text."""
    from transformers.generation.utils import MULTIMODAL_INPUTS_TO_DROP_OUTSIDE_PREFILL

    step = {k: v for k, v in inputs.items() if k not in MULTIMODAL_INPUTS_TO_DROP_OUTSIDE_PREFILL}
    mask = step["attention_mask"]
    step["input_ids"] = torch.tensor(tokens, device=mask.device).unsqueeze(1)
    step["attention_mask"] = torch.cat([mask, mask.new_ones(mask.size(0), 1)], dim=1)
    if isinstance(positions := step.get("position_ids"), torch.Tensor):
        step["position_ids"] = positions[..., -1:] + 1
    if isinstance(types := step.get("token_type_ids"), torch.Tensor):
        step["token_type_ids"] = types[..., -1:]
    if isinstance(types := step.get("mm_token_type_ids"), torch.Tensor):
        step["mm_token_type_ids"] = torch.zeros_like(types[..., -1:])
    return step


@contextmanager
def generated_hidden_states(model: PreTrainedModel) -> Iterator[GeneratedStates]:
    """While open, every forward of ``model`` (a PEFT model's base model: the one whose
    ``generate`` runs) is watched, so that after ``generate`` returns, ``finish`` on the
    yielded object gives the completions' last hidden states without a separate forward.
    Call ``finish`` inside the block, under ``torch.no_grad`` and with gradient checkpointing
    off; the states are those of the mode ``generate`` ran in (see ``dropout_free``)."""
    generating = model.get_base_model() if hasattr(model, "get_base_model") else model
    reading = GeneratedStates(generating)
    handles = [
        generating.register_forward_pre_hook(reading.before_forward, with_kwargs=True),
        generating.get_decoder().register_forward_hook(reading.after_decoder),
    ]
    try:
        yield reading
    finally:
        for handle in handles:
            handle.remove()
