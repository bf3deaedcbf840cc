"""Completions' hidden states kept while ``generate`` makes them, in one process or under
``accelerate launch`` with ``synced_gpus``.

``synced_generation.py MODEL_DIR OUT_DIR STOP...`` runs on each rank N a greedy ``generate``
with ``synced_gpus=True`` inside ``generated_hidden_states``, on ``ROWS`` plot prompts of its
own (``prompt_inputs`` with ``seed=N``), with an EOS chosen so that the rank's completions end
near step ``STOP[N]``: processes finish at different steps, and the one done first keeps making
forwards until the other is done. Every forward of the policy first runs an ``all_reduce``
(``distributed_timerpo.collective``, like ZeRO-3's parameter gathering), so a process making a
forward the other does not make hangs the run. Each rank writes ``OUT_DIR/rank<N>.pt`` with its
completions, the states ``finish`` returned and the forwards it made (generate and finish).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import torch

ROWS = 2
NEW_TOKENS = 12


def load_policy(model_dir: str | Path) -> tuple[Any, Any]:
    """The tiny policy in float32 and its processor, left-padding prompts."""
    from anomseer.modeling import load_model_and_processor

    model, processor = load_model_and_processor(model_dir, dtype="float32")
    processor.tokenizer.padding_side = "left"
    return model, processor


def prompt_inputs(processor: Any, count: int, seed: int = 0) -> dict[str, torch.Tensor]:
    """``count`` plot prompts (``sft_rows(count, seed)``) as the processor encodes them,
    left-padded (each row one word longer than the one before)."""
    from helpers.sft_dataset import sft_rows

    rows = sft_rows(count, seed)
    texts = [
        processor.apply_chat_template(row["prompt"], add_generation_prompt=True, tokenize=False)
        + " more" * index
        for index, row in enumerate(rows)
    ]
    images = [[row["image"]] for row in rows]
    return dict(processor(text=texts, images=images, padding=True, return_tensors="pt"))


def generate_with_states(
    model: Any, inputs: dict[str, torch.Tensor], new_tokens: int, eos: int, pad: int, **extra: Any
) -> tuple[list[list[int]], torch.Tensor | None]:
    """Greedy completions cut after their first ``eos`` (as TRL cuts them) and the states
    kept while generating them; ``extra`` goes to ``generate``."""
    from anomseer.trainers.hidden_states import generated_hidden_states

    with torch.no_grad(), generated_hidden_states(model) as reading:
        output = model.generate(
            **inputs,
            max_new_tokens=new_tokens,
            do_sample=False,
            eos_token_id=eos,
            pad_token_id=pad,
            **extra,
        )
        completions = [
            cut_at(row, eos) for row in output[:, inputs["input_ids"].size(1) :].tolist()
        ]
        states = reading.finish(completions, pad)
    return completions, states


def cut_at(row: list[int], eos: int) -> list[int]:
    """``row`` up to and with its first ``eos`` (all of it when there is none)."""
    return row[: row.index(eos) + 1] if eos in row else row


def forward_states(
    model: Any, inputs: dict[str, torch.Tensor], completions: list[list[int]], pad: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """The completion states of one plain forward over prompt and completion, and the mask."""
    from anomseer.trainers.hidden_states import completion_hidden_states

    width = max(len(ids) for ids in completions)
    ids = torch.tensor([row + [pad] * (width - len(row)) for row in completions])
    mask = torch.tensor([[1] * len(row) + [0] * (width - len(row)) for row in completions])
    batch = {
        "prompt_ids": inputs["input_ids"],
        "prompt_mask": inputs["attention_mask"],
        "completion_ids": ids,
        "completion_mask": mask,
        "pixel_values": inputs["pixel_values"],
        "image_grid_thw": inputs["image_grid_thw"],
        "num_images": [1] * len(completions),
    }
    if "mm_token_type_ids" in inputs:
        types = inputs["mm_token_type_ids"]
        batch["mm_token_type_ids"] = torch.cat([types, torch.zeros_like(ids)], dim=1)
    return next(completion_hidden_states(model, batch, len(completions)))


def stop_token(free: list[list[int]], step: int) -> int:
    """Of the tokens in ``free`` (greedy completions with no EOS), the one that, taken as EOS,
    ends the last of the rows nearest to ``step`` tokens (the first such in row 0)."""

    def width(token: int) -> int:
        return max(len(cut_at(row, token)) for row in free)

    return min(
        dict.fromkeys(token for row in free for token in row), key=lambda t: abs(width(t) - step)
    )


def main() -> None:
    from accelerate import PartialState

    from anomseer.trainers.entry import release_process_group
    from helpers.distributed_timerpo import collective

    model_dir, out_dir, *stops = sys.argv[1:]
    rank = PartialState(cpu=True).process_index  # the gloo group of ``accelerate launch``
    model, processor = load_policy(model_dir)
    pad = processor.tokenizer.pad_token_id
    inputs = prompt_inputs(processor, ROWS, seed=rank)
    # alone (no collective yet): the rank's greedy tokens, from which its EOS is chosen
    free, _ = generate_with_states(model, inputs, NEW_TOKENS, pad, pad, min_new_tokens=NEW_TOKENS)
    eos = stop_token(free, int(stops[rank]))
    forwards = [0]
    model.register_forward_pre_hook(collective)
    model.register_forward_pre_hook(lambda module, args: forwards.__setitem__(0, forwards[0] + 1))
    completions, states = generate_with_states(
        model, inputs, NEW_TOKENS, eos, pad, synced_gpus=True
    )
    record = {"completions": completions, "states": states, "forwards": forwards[0], "eos": eos}
    torch.save(record, Path(out_dir) / f"rank{rank}.pt")
    release_process_group()


if __name__ == "__main__":
    main()
