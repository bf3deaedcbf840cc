"""vLLM backend: the offline ``vllm.LLM`` engine (GPU only; the ``vllm`` extra).

Prompts are rendered with the checkpoint processor's chat template, the plot goes in through
``multi_modal_data``, and the engine resizes images with the same pixel bounds as that
processor (``mm_processor_kwargs``), which are the training ones unless overridden.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from anomseer.errors import UserInputError
from anomseer.evaluation.backends.base import (
    EvalRequest,
    Generation,
    Sampling,
    processor_pixels,
    require_model,
)

if TYPE_CHECKING:
    from transformers import ProcessorMixin


INSTALL_HINT = "uv sync --extra vllm (or pip install 'anomseer[vllm]') on a machine with a GPU"


def import_vllm() -> Any:
    """The ``vllm`` package, or one clear line saying which extra installs it."""
    try:
        import vllm
    except ImportError as error:
        raise UserInputError(
            f"the vllm backend needs the vllm package ({error}); install it with {INSTALL_HINT}"
        ) from None
    return vllm


def engine_kwargs(
    model: str,
    pixels: dict[str, int],
    *,
    tensor_parallel_size: int = 1,
    dtype: str = "auto",
    gpu_memory_utilization: float = 0.9,
    max_model_len: int | None = None,
    seed: int = 0,
    trust_remote_code: bool = False,
) -> dict[str, Any]:
    """Keyword arguments of ``vllm.LLM``: one image per prompt, training pixel bounds."""
    kwargs: dict[str, Any] = {
        "model": model,
        "tensor_parallel_size": tensor_parallel_size,
        "dtype": dtype,
        "gpu_memory_utilization": gpu_memory_utilization,
        "seed": seed,
        "trust_remote_code": trust_remote_code,
        "limit_mm_per_prompt": {"image": 1},
        "mm_processor_kwargs": dict(pixels),
    }
    if max_model_len is not None:
        kwargs["max_model_len"] = max_model_len
    return kwargs


def sampling_kwargs(sampling: Sampling) -> dict[str, Any]:
    """Keyword arguments of ``vllm.SamplingParams`` (temperature 0 is greedy in vLLM)."""
    return {
        "n": sampling.n,
        "temperature": sampling.temperature,
        "max_tokens": sampling.max_new_tokens,
        "seed": sampling.seed,
    }


class VLLMBackend:
    """Completions from a ``vllm.LLM`` engine (or any object with its ``generate``)."""

    name: ClassVar[str] = "vllm"
    columns: ClassVar[tuple[str, ...]] = ("prompt", "image")
    default_batch_size: ClassVar[int] = 256

    def __init__(
        self,
        engine: Any,
        processor: ProcessorMixin,
        sampling: Sampling,
        sampling_params: Any,
        settings: dict[str, Any],
    ) -> None:
        self.engine = engine
        self.processor = processor
        self.sampling = sampling
        self.sampling_params = sampling_params
        self._settings = settings
        self.n = sampling.n

    @classmethod
    def load(
        cls,
        model: str | None,
        *,
        tensor_parallel_size: int = 1,
        dtype: str = "auto",
        gpu_memory_utilization: float = 0.9,
        max_model_len: int | None = None,
        min_pixels: int | None = None,
        max_pixels: int | None = None,
        trust_remote_code: bool = False,
        max_new_tokens: int = 1024,
        temperature: float = 0.0,
        n: int = 1,
        seed: int | None = 0,
    ) -> VLLMBackend:
        """Start the engine on ``model`` (folder or hub id) with ``tensor_parallel_size`` GPUs."""
        from anomseer.modeling import load_processor

        name = require_model(cls.name, model)
        sampling = Sampling(max_new_tokens, temperature, n, seed)
        vllm = import_vllm()
        processor = load_processor(name, min_pixels, max_pixels, trust_remote_code)
        pixels = processor_pixels(processor)
        engine = vllm.LLM(
            **engine_kwargs(
                name,
                pixels,
                tensor_parallel_size=tensor_parallel_size,
                dtype=dtype,
                gpu_memory_utilization=gpu_memory_utilization,
                max_model_len=max_model_len,
                seed=0 if seed is None else seed,
                trust_remote_code=trust_remote_code,
            )
        )
        params = vllm.SamplingParams(**sampling_kwargs(sampling))
        settings = {"model": name, **pixels, **sampling.as_dict()}
        return cls(engine, processor, sampling, params, settings)

    def settings(self) -> dict[str, Any]:
        return dict(self._settings)

    def build_prompts(self, requests: Sequence[EvalRequest]) -> list[dict[str, Any]]:
        """vLLM prompt dicts: chat-template text plus the plot as multi-modal data."""
        return [
            {
                "prompt": self.processor.apply_chat_template(
                    list(request.prompt), add_generation_prompt=True, tokenize=False
                ),
                "multi_modal_data": {"image": request.image},
            }
            for request in requests
        ]

    def generate(self, requests: Sequence[EvalRequest]) -> list[Generation]:
        outputs = self.engine.generate(
            self.build_prompts(requests), self.sampling_params, use_tqdm=False
        )
        return [Generation(tuple(choice.text for choice in output.outputs)) for output in outputs]
