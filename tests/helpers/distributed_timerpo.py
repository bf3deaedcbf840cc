"""One TimerPO step on fixed completions, in one process or under ``accelerate launch``.

``distributed_timerpo.py MODEL_DIR DATA_DIR OUT_DIR GROUP PROMPTS LAYOUT...`` trains, for each
``LAYOUT`` written ``PER_DEVICE_BATCH:ACCUMULATION``, one step with ``projection: advantage``
and one with ``projection: gradient`` (``PER_DEVICE_BATCH:ACCUMULATION:PROJECTION``: that one
only); each rank writes ``OUT_DIR/<layout>-<projection>-rank<N>.pt`` with its part of the
advantages, the whole gradients of the step (FSDP2 shards gathered), which parameters were
sharded, and how many policy forwards it made while grounding. Under ``accelerate launch``
every forward of the policy first runs an ``all_reduce`` (a forward pre-hook), as ZeRO-3's
parameter gathering does: a process that makes a forward the others do not make hangs the
run. The test runs the same step in one process with the whole batch and compares.

Sampling cannot give the same completions in one process and in two (each rank draws from its
own generator), so the completions come from ``fixed_rollout`` (TRL's ``rollout_func`` hook):
the completion at global position g of the batch is ``CANDIDATES[g % 5]``, the same text
wherever it is computed. Everything else (rewards, hidden states, OT, gathering, projection,
loss, backward, DDP) is the real thing.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from anomseer.protocol import format_answer
from anomseer.trainers.entry import release_process_group

GROUP_SIZE = 4
PROMPTS = 3
"""A global batch of 12 completions: with 6 per process on two, the middle group spans both."""
CANDIDATES = (
    format_answer([(500, 510)], "global point", think="a spike near 505"),
    format_answer([], "normal", think="the sine is regular"),
    format_answer([(100, 300)], "seasonal", think="the period changes"),
    "<answer>[[0, 1000]]</answer>",
    "I cannot tell.",
)


def fixed_rollout(prompts: list, trainer) -> dict:
    """Completions by global batch position (TRL's ``rollout_func`` signature)."""
    processor = trainer.processing_class
    encoded = processor.apply_chat_template(
        prompts, add_generation_prompt=True, tokenize=True, return_dict=True
    )
    end = processor.tokenizer.convert_tokens_to_ids("<|im_end|>")
    offset = trainer.accelerator.process_index * len(prompts)
    completions = [
        processor.tokenizer(CANDIDATES[(offset + i) % len(CANDIDATES)], add_special_tokens=False)[
            "input_ids"
        ]
        + [end]
        for i in range(len(prompts))
    ]
    return {
        "prompt_ids": list(encoded["input_ids"]),
        "completion_ids": completions,
        "logprobs": None,
    }


def run_step(
    model_dir: str,
    data_dir: str,
    out_dir: str,
    per_device: int,
    projection: str,
    accumulation: int = 1,
    group_size: int = GROUP_SIZE,
    prompts: int = PROMPTS,
) -> dict:
    """Train one step on the first ``prompts`` rows of ``data_dir`` (an ``anomseer gen``
    folder), in ``accumulation`` micro-batches of ``per_device`` completions; return this rank's
    advantages (before and after grounding), similarities, grounded advantages, the flat
    gradient the optimizer received, and the number of policy forwards (all of them, and those
    of the grounding)."""
    import torch
    from datasets import load_dataset
    from transformers import TrainerCallback

    from anomseer.modeling import load_model_and_processor
    from anomseer.trainers.timerpo import TimerPOConfig, TimerPOTrainer

    record: dict = {"grounding_forwards": 0, "forwards": 0}

    class RecordingTrainer(TimerPOTrainer):
        def _local_similarity(self, inputs, batch, mode):
            before = record["forwards"]
            try:
                return super()._local_similarity(inputs, batch, mode)
            finally:
                record["grounding_forwards"] += record["forwards"] - before

        def _ground_advantages(self, batch, local, group_size, mode):
            record["main"] = batch["advantages"].clone()
            record["similarity"] = local.similarity.clone()
            super()._ground_advantages(batch, local, group_size, mode)
            record["advantages"] = batch["advantages"].clone()
            if "grounded_advantages" in batch:
                record["grounded"] = batch["grounded_advantages"].clone()

    class GradientRecorder(TrainerCallback):
        def on_pre_optimizer_step(self, args, state, control, model=None, **kwargs):
            named = sorted((n, p) for n, p in model.named_parameters() if p.grad is not None)
            record["grad"] = torch.cat([full_tensor(p.grad).reshape(-1) for _, p in named])
            record["grad_names"] = [(n, p.numel()) for n, p in named]
            record["sharded"] = [is_sharded(p) for _, p in model.named_parameters()]

    config = TimerPOConfig(
        output_dir=out_dir,
        projection=projection,
        num_generations=group_size,
        per_device_train_batch_size=per_device,
        gradient_accumulation_steps=accumulation,
        max_completion_length=64,
        max_steps=1,
        entropy_coef=0.0,  # a per-process token mean: it would differ between the layouts
        max_grad_norm=0.0,
        shuffle_dataset=False,
        use_cpu=True,
        bf16=False,  # CPU autocast to bfloat16 would round each layout differently
        report_to="none",
        save_strategy="no",
        disable_tqdm=True,
    )
    model, processor = load_model_and_processor(model_dir, dtype="float32")
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        model.register_forward_pre_hook(collective)
    model.register_forward_pre_hook(
        lambda module, args: record.update(forwards=record["forwards"] + 1)
    )
    trainer = RecordingTrainer(
        model=model,
        args=config,
        train_dataset=load_dataset(data_dir, split="train").select(range(prompts)),
        processing_class=processor,
        rollout_func=fixed_rollout,
        callbacks=[GradientRecorder()],
    )
    trainer.train()
    return record


def full_tensor(tensor):
    """``tensor`` whole: an FSDP2 shard (DTensor) gathered from every rank, else a copy."""
    from torch.distributed.tensor import DTensor

    return tensor.full_tensor() if isinstance(tensor, DTensor) else tensor.detach().clone()


def is_sharded(parameter) -> bool:
    """Whether ``parameter`` is an FSDP2 DTensor whose local part is smaller than the whole."""
    from torch.distributed.tensor import DTensor

    return isinstance(parameter, DTensor) and parameter.to_local().numel() < parameter.numel()


def collective(module: object, args: object) -> None:
    """A forward pre-hook with a collective in it, like ZeRO-3's parameter all-gather."""
    import torch

    torch.distributed.all_reduce(torch.zeros(1))


def main() -> None:
    import torch

    os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")
    model_dir, data_dir, out_dir, group, prompts, *layouts = sys.argv[1:]
    rank = int(os.environ.get("RANK", "0"))
    for layout in layouts:
        per_device, accumulation, *only = layout.split(":")
        per_device, accumulation = int(per_device), int(accumulation)
        for projection in only or ("advantage", "gradient"):
            name = f"{per_device}x{accumulation}-{projection}"
            record = run_step(
                model_dir,
                data_dir,
                str(Path(out_dir) / name),
                per_device,
                projection,
                accumulation,
                int(group),
                int(prompts),
            )
            torch.save(record, Path(out_dir) / f"{name}-rank{rank}.pt")
    release_process_group()


if __name__ == "__main__":
    main()
