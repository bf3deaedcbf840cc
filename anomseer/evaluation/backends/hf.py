"""Hugging Face backend: transformers ``generate`` on a Qwen2.5-VL checkpoint, batched with left
padding (:func:`generate_completions`). Runs anywhere torch runs, including the offline tiny
model on CPU."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from anomseer.columns import MODEL_COLUMNS
from anomseer.evaluation.backends.base import (
    CheckpointOptions,
    EvalRequest,
    Generation,
    PlotBackend,
    processor_pixels,
    require_model,
)

if TYPE_CHECKING:
    from PIL import Image
    from transformers import PreTrainedModel, ProcessorMixin


@dataclass(frozen=True)
class HFOptions(CheckpointOptions):
    """Options of the hf backend: sampling, checkpoint and the attention kernel (None lets
    transformers pick)."""

    attn_implementation: str | None = None


@dataclass
class HFBackend(PlotBackend):
    """Completions from a loaded transformers model and its processor."""

    name: ClassVar[str] = "hf"
    columns: ClassVar[tuple[str, ...]] = MODEL_COLUMNS
    options: ClassVar[type[HFOptions]] = HFOptions
    default_batch_size: ClassVar[int] = 8
    model: PreTrainedModel
    processor: ProcessorMixin
    sampling: HFOptions
    model_name: str

    @classmethod
    def load(cls, model: str | None, options: HFOptions = HFOptions()) -> HFBackend:
        """Load ``model`` (folder or hub id); pixel bounds default to the ones its processor saved
        (the training ones). The model goes to the GPU(s) when there are any."""
        import torch

        from anomseer.modeling import load_model_and_processor

        name = require_model(cls.name, model)
        loaded, processor = load_model_and_processor(
            name,
            dtype=options.dtype,
            attn_implementation=options.attn_implementation,
            min_pixels=options.min_pixels,
            max_pixels=options.max_pixels,
            device_map="auto" if torch.cuda.is_available() else None,
            trust_remote_code=options.trust_remote_code,
        )
        loaded.eval()
        if options.seed is not None:
            torch.manual_seed(options.seed)
        return cls(loaded, processor, options, name)

    def settings(self) -> dict[str, Any]:
        pixels = processor_pixels(self.processor)
        return {"model": self.model_name, **pixels, **self.sampling.as_dict()}

    def generate(self, requests: Sequence[EvalRequest]) -> list[Generation]:
        n = self.sampling.n
        texts = generate_completions(
            self.model,
            self.processor,
            [request.prompt for request in requests for _ in range(n)],
            [request.image for request in requests for _ in range(n)],
            max_new_tokens=self.sampling.max_new_tokens,
            temperature=self.sampling.temperature,
        )
        return [Generation(tuple(texts[i * n : (i + 1) * n])) for i in range(len(requests))]


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
