"""FSDP2 as accelerate's own config asks for it (``recipes/accelerate/fsdp.yaml``), in two
fixes that :class:`Fsdp2Mixin` applies to a ``transformers.Trainer``.

- **On CPU processes.** accelerate 1.15 switches FSDP on only where its processes hold
  accelerators (the branch of ``AcceleratorState.__init__`` for MULTI_GPU, MULTI_XPU, ...):
  launched on CPU with an FSDP config, a run ends as multi-CPU data parallel with every process
  holding the whole model, and nothing says so. PyTorch's FSDP2 (``fully_shard``) runs on CPU
  over gloo, so right after the Trainer creates its ``Accelerator`` a multi-CPU state gets the
  FSDP type and plugin accelerate would have given it on GPUs; accelerate then wraps the model
  with its own FSDP2 code. Where FSDP was asked for and still cannot run (one process, FSDP
  version 1 on CPU) one warning line says so.
- **TRL's fused LM head.** accelerate shards ``lm_head`` as a unit of its own; TRL's
  ``fused_lm_head`` forward reads ``lm_head.weight`` without calling ``lm_head``, so after a
  backward (the next micro-batch, or TimerPO's primary forward after its grounded one) it finds
  the sharded DTensor and gathers it with ``full_tensor()``, whose backward keeps each rank's
  own gradient unreduced (lm_head's gradient 0.85 cosine to the true one with 2 accumulated
  micro-batches). The head is unsharded before such a forward instead: its gradient then goes
  through FSDP's reduce-scatter like every other parameter's.
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch
    from accelerate import Accelerator
    from accelerate.utils import FullyShardedDataParallelPlugin
    from transformers import TrainingArguments

logger = logging.getLogger(__name__)


def launched_with(kind: str) -> bool:
    """Whether ``accelerate launch`` set up DeepSpeed (``DEEPSPEED``) or FSDP (``FSDP``)."""
    return os.environ.get(f"ACCELERATE_USE_{kind}", "false").lower() in ("1", "true", "yes")


def requested_fsdp_plugin(args: TrainingArguments) -> FullyShardedDataParallelPlugin | None:
    """The FSDP plugin a run asks for, as the Trainer and accelerate build it: from
    ``fsdp``/``fsdp_config`` in the training arguments, else from ``accelerate launch``'s
    environment (``ACCELERATE_USE_FSDP`` and ``FSDP_*``); None without FSDP."""
    from accelerate.utils import FullyShardedDataParallelPlugin

    if args.fsdp_plugin_args is not None:
        return FullyShardedDataParallelPlugin(**args.fsdp_plugin_args)
    if launched_with("FSDP"):
        return FullyShardedDataParallelPlugin()
    return None


def honour_fsdp_on_cpu(
    accelerator: Accelerator, plugin: FullyShardedDataParallelPlugin | None
) -> bool:
    """Make ``accelerator``'s multi-CPU state an FSDP2 one with ``plugin``; return whether it
    changed. A state already on FSDP, or no plugin, is left alone; FSDP asked for where it
    cannot run is logged as one warning line."""
    from accelerate.state import PartialState
    from accelerate.utils import DistributedType

    state = accelerator.state
    if plugin is None or state.distributed_type == DistributedType.FSDP:
        return False
    if state.distributed_type == DistributedType.MULTI_CPU and plugin.fsdp_version == 2:
        if state.mixed_precision != "no":
            plugin.set_mixed_precision(state.mixed_precision)
        state.fsdp_plugin = plugin
        state.distributed_type = DistributedType.FSDP
        PartialState._shared_state["distributed_type"] = DistributedType.FSDP
        return True
    reason = (
        "FSDP version 1 does not run on CPU here; set fsdp_version: 2"
        if state.distributed_type == DistributedType.MULTI_CPU
        else "launch 2 or more processes to shard"
    )
    logger.warning(
        "FSDP was asked for but this run is %s with %d process(es), every one holding the whole "
        "model (%s)",
        state.distributed_type.value,
        state.num_processes,
        reason,
    )
    return False


def unshard_head_for_fused_forward(model: torch.nn.Module) -> None:
    """Before each forward of ``model`` with TRL's ``fused_lm_head=True``, unshard its output
    head where FSDP2 holds it sharded (see the module docstring)."""

    def pre_forward(module: torch.nn.Module, args: tuple, kwargs: dict) -> None:
        head = module.get_output_embeddings()
        fused = kwargs.get("fused_lm_head")
        if fused and isinstance(head, FSDPModule) and isinstance(head.weight, DTensor):
            head.unshard()

    from torch.distributed.fsdp import FSDPModule
    from torch.distributed.tensor import DTensor

    model.register_forward_pre_hook(pre_forward, with_kwargs=True)


class Fsdp2Mixin:
    """Mixin for a ``transformers.Trainer`` subclass: an FSDP config launched on CPU processes
    trains with FSDP2 instead of silently falling back to DDP, and TRL's fused LM head gets
    reduced gradients under FSDP2 (see the module docstring)."""

    def create_accelerator_and_postprocess(self) -> None:
        super().create_accelerator_and_postprocess()
        if honour_fsdp_on_cpu(self.accelerator, requested_fsdp_plugin(self.args)):
            self.is_fsdp_enabled = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.is_fsdp_enabled:
            unshard_head_for_fused_forward(self.model)
