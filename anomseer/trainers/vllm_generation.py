"""GRPO generation on a real vLLM engine: what TRL 1.16's ``GRPOTrainer`` leaves out, as thin
overrides of its ``VLLMGeneration`` and ``VLLMClient``.

- The engine runs the training model's dtype: TRL passes none, and vLLM's ``auto`` ran a float32
  policy in bfloat16 on CPU (importance-sampling ratios down to 0.49).
- The vision tokens are blocked (``logit_bias`` -100) on the vLLM path as TRL blocks the image
  token on its transformers path: a sampled ``<|image_pad|>`` breaks the next forward pass
  ("Image features and image tokens do not match").
- Weight sync works on the CPU engine, which repacks its linear weights (TRL's per-parameter
  ``load_weights`` fails with ``'Parameter' object has no attribute 'weight_loader'``):
  colocated, through vLLM's ``reload_weights``; in server mode, where there is no NCCL without
  CUDA, through a folder of safetensors that the server reloads (``/collective_rpc``, so the
  server runs with ``VLLM_SERVER_DEV_MODE=1`` and sees the trainer's disk). On GPUs TRL's own
  sync runs unchanged.

TRL builds its ``VLLMGeneration`` inside ``GRPOTrainer.__init__`` with no hook to choose the
class, so ``VLLMGenerationMixin`` swaps the names TRL looks up for the length of that call.
"""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import torch
import trl.generation.vllm_generation as trl_vllm_generation
import trl.trainer.grpo_trainer as trl_grpo_trainer
from trl.generation.vllm_client import VLLMClient
from trl.generation.vllm_generation import VLLMGeneration

from anomseer.vllm_engine import on_cpu, prepare_cpu_engine

BLOCKED_BIAS = -100.0
"""vLLM's lowest logit bias: the token is never sampled."""
VISION_TOKEN_FIELDS = ("image_token_id", "video_token_id")
"""Config fields naming the tokens that stand for vision features and must not be sampled."""


def block_vision_tokens(generation_kwargs: dict | None, config: Any) -> dict[str, Any]:
    """``generation_kwargs`` with a ``logit_bias`` that blocks the model's vision tokens; the
    user's own biases are kept and win."""
    kwargs = dict(generation_kwargs or {})
    blocked = {
        token: BLOCKED_BIAS
        for field in VISION_TOKEN_FIELDS
        if (token := getattr(config, field, None)) is not None
    }
    kwargs["logit_bias"] = {**blocked, **(kwargs.get("logit_bias") or {})}
    return kwargs


@contextmanager
def replaced(module: ModuleType, **attributes: Any) -> Iterator[None]:
    """Set ``module``'s ``attributes`` for the length of the block, then put the old ones back."""
    saved = {name: getattr(module, name) for name in attributes}
    for name, value in attributes.items():
        setattr(module, name, value)
    try:
        yield
    finally:
        for name, value in saved.items():
            setattr(module, name, value)


class FolderSyncClient(VLLMClient):
    """TRL's server client for a trainer without CUDA (no NCCL): each sync writes the weights to
    a safetensors folder and asks the server's workers to ``reload_weights`` from it."""

    sync_dir: Path | None = None

    def init_communicator(self, device: torch.device | str | int = 0) -> None:
        folder = tempfile.mkdtemp(prefix="anomseer-vllm-sync-")
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        self.sync_dir = Path(folder)

    def update_named_params(
        self,
        metadata: list[tuple[str, str, list[int]]],
        named_params: Iterator[tuple[str, torch.Tensor]],
    ) -> None:
        from safetensors.torch import save_file

        if self.sync_dir is None:
            self.init_communicator()
        tensors = {name: param.detach().cpu().contiguous() for name, param in named_params}
        save_file(tensors, self.sync_dir / "model.safetensors")
        self._post(
            f"{self.base_url}/collective_rpc",
            json={"method": "reload_weights", "kwargs": {"weights_path": str(self.sync_dir)}},
        )

    def close_communicator(self) -> None:
        if self.sync_dir is not None:
            shutil.rmtree(self.sync_dir, ignore_errors=True)
            self.sync_dir = None


class EngineGeneration(VLLMGeneration):
    """TRL's ``VLLMGeneration`` with the training dtype, CPU engine settings and a weight sync
    that works on the CPU engine."""

    def _init_vllm(self) -> None:
        self.cpu_engine = self.mode == "colocate" and on_cpu()
        engine_settings: dict[str, Any] = {"dtype": str(self.model.dtype).removeprefix("torch.")}
        if self.cpu_engine:
            prepare_cpu_engine()
            engine_settings["enforce_eager"] = True  # torch.compile takes minutes on a few cores
        nccl = self.accelerator.device.type == "cuda"
        with replaced(
            trl_vllm_generation,
            LLM=functools.partial(trl_vllm_generation.LLM, **engine_settings),
            VLLMClient=VLLMClient if nccl else FolderSyncClient,
        ):
            super()._init_vllm()

    def sync_weights(self) -> None:
        if not self.cpu_engine:
            super().sync_weights()
            return
        runner = self.llm.llm_engine.model_executor.driver_worker.model_runner
        runner.reload_weights(weights_iterator=self._iter_named_params(), is_checkpoint_format=True)
        self.llm.reset_prefix_cache()


class VLLMGenerationMixin:
    """Put before ``GRPOTrainer`` in the bases: with ``use_vllm`` the trainer generates with
    ``EngineGeneration`` and never samples a vision token."""

    def __init__(self, model: Any, reward_funcs: Any, args: Any, *more: Any, **kwargs: Any):
        if args.use_vllm:
            config = getattr(model, "config", None)
            if config is None:  # a model name: TRL loads it, the config is read the same way
                from transformers import AutoConfig

                config = AutoConfig.from_pretrained(model)
            args.generation_kwargs = block_vision_tokens(args.generation_kwargs, config)
        with replaced(trl_grpo_trainer, VLLMGeneration=EngineGeneration):
            super().__init__(model, reward_funcs, args, *more, **kwargs)
