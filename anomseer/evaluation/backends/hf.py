"""Hugging Face backend: transformers ``generate`` on a Qwen2.5-VL checkpoint, batched with left
padding (``anomseer.inference.generate_completions``). Runs anywhere torch runs, including
the offline tiny model on CPU."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from anomseer.columns import MODEL_COLUMNS
from anomseer.evaluation.backends.base import (
    EvalRequest,
    Generation,
    Sampling,
    processor_pixels,
    require_model,
)
from anomseer.inference import generate_completions

if TYPE_CHECKING:
    from transformers import PreTrainedModel, ProcessorMixin


class HFBackend:
    """Completions from a loaded transformers model and its processor."""

    name: ClassVar[str] = "hf"
    columns: ClassVar[tuple[str, ...]] = MODEL_COLUMNS
    default_batch_size: ClassVar[int] = 8

    def __init__(
        self,
        model: PreTrainedModel,
        processor: ProcessorMixin,
        sampling: Sampling,
        model_name: str,
    ) -> None:
        self.model = model
        self.processor = processor
        self.sampling = sampling
        self.model_name = model_name
        self.n = sampling.n

    @classmethod
    def load(
        cls,
        model: str | None,
        *,
        dtype: str = "auto",
        attn_implementation: str | None = None,
        min_pixels: int | None = None,
        max_pixels: int | None = None,
        trust_remote_code: bool = False,
        max_new_tokens: int = 1024,
        temperature: float = 0.0,
        n: int = 1,
        seed: int | None = 0,
    ) -> HFBackend:
        """Load ``model`` (folder or hub id); pixel bounds default to the ones its processor saved
        (the training ones). The model goes to the GPU(s) when there are any."""
        import torch

        from anomseer.modeling import load_model_and_processor

        name = require_model(cls.name, model)
        sampling = Sampling(max_new_tokens, temperature, n, seed)
        loaded, processor = load_model_and_processor(
            name,
            dtype=dtype,
            attn_implementation=attn_implementation,
            min_pixels=min_pixels,
            max_pixels=max_pixels,
            device_map="auto" if torch.cuda.is_available() else None,
            trust_remote_code=trust_remote_code,
        )
        loaded.eval()
        if seed is not None:
            torch.manual_seed(seed)
        return cls(loaded, processor, sampling, name)

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
