"""Answer plots with a transformers model: chat template, batched generation, raw text out."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from PIL import Image
    from transformers import PreTrainedModel, ProcessorMixin


def generate_completions(
    model: PreTrainedModel,
    processor: ProcessorMixin,
    prompts: Sequence[list[dict]],
    images: Sequence[Image.Image],
    max_new_tokens: int = 512,
    temperature: float = 0.0,
) -> list[str]:
    """One completion per (conversational prompt, image), generated as one left-padded batch.

    ``temperature=0`` is greedy decoding.
    """
    import torch

    if len(prompts) != len(images):
        raise ValueError(f"got {len(prompts)} prompts but {len(images)} images")
    texts = [
        processor.apply_chat_template(list(prompt), add_generation_prompt=True, tokenize=False)
        for prompt in prompts
    ]
    processor.tokenizer.padding_side = "left"
    inputs = processor(text=texts, images=list(images), return_tensors="pt", padding=True)
    inputs = inputs.to(model.device)
    sampling: dict[str, Any] = (
        {"do_sample": True, "temperature": temperature} if temperature > 0 else {"do_sample": False}
    )
    with torch.no_grad():
        output = model.generate(**inputs, max_new_tokens=max_new_tokens, **sampling)
    new_tokens = output[:, inputs["input_ids"].shape[1] :]
    return processor.batch_decode(new_tokens, skip_special_tokens=True)
