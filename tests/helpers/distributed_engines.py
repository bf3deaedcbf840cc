"""Run under ``accelerate launch`` with a DeepSpeed or FSDP config: ``distributed_engines.py
OUT_DIR BUDGETS STAGE:FLAGS...`` trains each ``STAGE`` (``sft`` or ``timerpo``) with its real
entry point and FLAGS (one string, split on spaces), twice: up to ``--max_steps 2`` saving every
step, then, resuming from that run's last checkpoint, to step 3. ``BUDGETS`` gives each rank its
own ``max_completion_length`` (``16,9``), so generations end at different lengths per rank.

Each rank writes ``OUT_DIR/<stage>-rank<N>.json``: the engine that really ran (DeepSpeed engine
class and ZeRO stage, or FSDP2) and how much of the policy's and reference model's weights this
rank holds, the policy's forwards and the ``torch.distributed`` collectives made in the first
run (with ZeRO-3 and FSDP2 every forward gathers: a forward one rank makes alone hangs), the
logged losses, the steps of both runs and the first run's seconds.
"""

from __future__ import annotations

import json
import os
import sys
from collections import Counter
from pathlib import Path

from anomseer.trainers.entry import release_process_group

COLLECTIVES = (
    "all_gather_into_tensor",  # ZeRO-3's parameter gathering
    "all_gather_single",  # FSDP2's
    "all_gather",  # accelerate's gather of tensors of any shape (metrics)
    "all_reduce",
    "reduce_scatter_tensor",
    "reduce_scatter_single",
    "broadcast",
)


def count_collectives(counts: Counter) -> None:
    """Count every call of the usual ``torch.distributed`` collectives by name in ``counts``
    (DeepSpeed and FSDP2 call them through the module, so the wrappers see them)."""
    import torch.distributed as dist

    for name in COLLECTIVES:
        original = getattr(dist, name)

        def counted(*args, _name=name, _original=original, **kwargs):
            counts[_name] += 1
            return _original(*args, **kwargs)

        setattr(dist, name, counted)


def count_policy_forwards(counts: Counter) -> None:
    """Count the forwards of every Qwen2.5-VL model of this process, by module id."""
    from torch.nn.modules.module import register_module_forward_pre_hook

    def hook(module, args):
        if type(module).__name__.endswith("ForConditionalGeneration"):
            counts[id(module)] += 1

    register_module_forward_pre_hook(hook)


def held_share(model) -> tuple[str, float, int]:
    """How ``model``'s weights are held on this rank: ("zero3", share of the elements held
    locally, parameters released after the step), ("fsdp2", local share, parameters that are
    DTensors) or ("whole", 1.0, 0)."""
    from torch.distributed.tensor import DTensor

    params = list(model.parameters())
    if all(hasattr(p, "ds_status") for p in params):
        from deepspeed.runtime.zero.partition_parameters import ZeroParamStatus

        local = sum(p.ds_tensor.numel() for p in params)
        released = sum(p.ds_status == ZeroParamStatus.NOT_AVAILABLE for p in params)
        return "zero3", local / sum(p.ds_numel for p in params), released
    dtensors = [p for p in params if isinstance(p, DTensor)]
    if dtensors:
        local = sum(p.to_local().numel() for p in params)
        return "fsdp2", local / sum(p.numel() for p in params), len(dtensors)
    return "whole", 1.0, 0


def engine_report(trainer) -> dict:
    """What ran on this rank: engine, ZeRO stage, the share of the optimizer's float32 weights
    (ZeRO-2) and of the policy and reference weights (ZeRO-3, FSDP2) this rank holds."""
    engine = trainer.model_wrapped
    report = {
        "engine": type(engine).__name__,
        "distributed_type": trainer.accelerator.distributed_type.value,
    }
    if hasattr(engine, "zero_optimization_stage"):
        report["stage"] = engine.zero_optimization_stage()
        partitions = getattr(engine.optimizer, "single_partition_of_fp32_groups", None)
        if partitions is not None:
            total = sum(p.numel() for p in trainer.model.parameters() if p.requires_grad)
            report["optimizer_share"] = sum(p.numel() for p in partitions) / total
    report["policy"] = held_share(trainer.model)
    ref = getattr(trainer, "ref_model", None)
    if ref is not None:
        report["reference"] = held_share(getattr(ref, "module", ref))
    report["params"] = len(list(trainer.model.parameters()))
    return report


def train_twice(
    stage: str, flags: list[str], budget: int, forwards: Counter, collectives: Counter
) -> dict:
    """Train ``stage`` to step 2 with a checkpoint at each step, then resume to step 3; the
    counters (see ``main``) are cleared first and read after the first run."""
    from accelerate.state import AcceleratorState

    from anomseer.trainers.sft import main as sft_main
    from anomseer.trainers.timerpo import main as timerpo_main

    entry = {"sft": sft_main, "timerpo": timerpo_main}[stage]
    AcceleratorState._reset_state()  # each stage's own batch sizes in its DeepSpeed config
    if stage == "timerpo":
        flags = [*flags, "--max_completion_length", str(budget)]
    forwards.clear()
    collectives.clear()
    saving = ["--save_strategy", "steps", "--save_steps", "1", "--save_total_limit", "3"]
    first = entry([*flags, *saving, "--max_steps", "2"])
    report = engine_report(first)
    policy = first.accelerator.unwrap_model(first.model)
    report.update(
        forwards=forwards[id(policy)],
        collectives=dict(collectives),
        losses=[e["loss"] for e in first.state.log_history if "loss" in e],
        first_steps=first.state.global_step,
        seconds=next(e["train_runtime"] for e in first.state.log_history if "train_runtime" in e),
    )
    del first, policy
    resumed = entry([*flags, *saving, "--max_steps", "3"])
    report.update(
        resumed_steps=resumed.state.global_step,
        resumed_losses=[e["loss"] for e in resumed.state.log_history if "loss" in e],
    )
    del resumed
    return report


def main() -> None:
    out, budgets, *runs = sys.argv[1:]
    rank = int(os.environ.get("RANK", "0"))
    budget = int(budgets.split(",")[rank])
    os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")
    forwards, collectives = Counter(), Counter()
    count_policy_forwards(forwards)
    count_collectives(collectives)
    for run in runs:
        stage, _, flags = run.partition(":")
        report = train_twice(stage, flags.split(), budget, forwards, collectives)
        (Path(out) / f"{stage}-rank{rank}.json").write_text(json.dumps(report))
    release_process_group()


if __name__ == "__main__":
    main()
