"""Benchmark TimerPO against plain GRPO, and its grounding stage against the reference's loop.

1. Step time: the same tiny model, data and settings trained with TRL's ``GRPOTrainer`` and with
   ``TimerPOTrainer`` in several modes; the per-step time TRL logs (generation, scoring,
   grounding, loss and backward), median over the steps after a warm-up. Then GRPO and the
   default TimerPO again with generation out of step with the optimiser
   (``steps_per_generation=2``), where TRL reads old log-probabilities, as it always does with
   vLLM's importance-sampling correction (the shipped recipes): TimerPO reuses that pass.
2. Grounding stage: on a batch captured from a real TimerPO step, the whole stage as the
   trainer runs it (policy forwards for the completions and the ExpCoT, then one batched
   transport solve) against the same forwards followed by what the reference did: states to
   CPU float64 and one Sinkhorn per completion in a Python loop
   (``scripts/bench_grounding.py:per_sample_loop``).

    OMP_NUM_THREADS=1 .venv/bin/python scripts/bench_timerpo.py
    OMP_NUM_THREADS=1 .venv/bin/python scripts/bench_timerpo.py --steps 12 --completion-tokens 64
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import parse_flags  # scripts/ is on sys.path when run as a script

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch
from bench_grounding import per_sample_loop  # scripts/ is on sys.path when run as a script

MODES = {
    "TimerPO ot + advantage projection": {"grounding": "ot", "projection": "advantage"},
    "TimerPO ot (float32 solve) + advantage": {
        "grounding": "ot",
        "projection": "advantage",
        "ot_dtype": "float32",
    },
    "TimerPO ot + gradient projection": {"grounding": "ot", "projection": "gradient"},
    "TimerPO cosine + advantage projection": {"grounding": "cosine", "projection": "advantage"},
}


def settings(args: argparse.Namespace, out_dir: str, **changes) -> dict:
    """Trainer settings shared by every run (GRPOConfig fields), with ``changes``."""
    return changes | dict(
        output_dir=out_dir,
        num_generations=args.group,
        per_device_train_batch_size=args.batch,
        max_completion_length=args.completion_tokens,
        # every completion runs to the limit, so the runs generate the same number of tokens
        generation_kwargs={"min_new_tokens": args.completion_tokens},
        max_steps=args.warmup + args.steps,
        scale_rewards="none",
        beta=0.001,
        entropy_coef=0.001,
        learning_rate=1e-6,
        lr_scheduler_type="constant",
        weight_decay=0.01,
        reward_weights=[0.7, 0.2, 0.1],
        use_cpu=True,
        bf16=False,
        gradient_checkpointing=False,
        report_to="none",
        save_strategy="no",
        logging_steps=1,
        disable_tqdm=True,
        seed=0,
    )


def train(trainer_cls, config, model_dir: Path, dataset):
    from anomseer.modeling import load_model_and_processor
    from anomseer.rewards import get_reward_funcs

    model, processor = load_model_and_processor(model_dir, dtype="float32")
    processor.tokenizer.padding_side = "left"
    trainer = trainer_cls(
        model=model,
        reward_funcs=get_reward_funcs(["localization", "class", "format"]),
        args=config,
        train_dataset=dataset,
        processing_class=processor,
    )
    trainer.train()
    return trainer


def step_times(trainer, warmup: int) -> tuple[float, float | None]:
    """Median step time and median grounding time (seconds) after the warm-up steps."""
    logged = [entry for entry in trainer.state.log_history if "step_time" in entry][warmup:]
    grounding = [entry["grounding/time"] for entry in logged if "grounding/time" in entry]
    step = statistics.median(entry["step_time"] for entry in logged)
    return step, statistics.median(grounding) if grounding else None


def best_time(run, repeats: int) -> float:
    run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    args = parse_flags(
        __doc__,
        steps=(12, "timed steps per run"),
        warmup=(2, "untimed first steps"),
        group=(4, "num_generations"),
        batch=(8, "completions per step"),
        completion_tokens=48,
        repeats=(5, "timed runs of the grounding stage"),
    )

    from datasets import load_dataset
    from trl import GRPOConfig, GRPOTrainer

    from anomseer.grounding import similarity_from_cost
    from anomseer.modeling import build_tiny_model
    from anomseer.trainers.hidden_states import (
        TextTokens,
        completion_hidden_states,
        text_hidden_states,
    )
    from anomseer.trainers.timerpo import TimerPOConfig, TimerPOTrainer

    work = Path(tempfile.mkdtemp(prefix="bench-timerpo-"))
    model_dir = build_tiny_model(work / "tiny")
    # in its own process: the expert panel's numba threads stay out of the timed one
    generate = ["gen", "--preset", "tiny", "--split", "train", "--num-per-family", "2"]
    subprocess.run(
        [
            sys.executable,
            "-m",
            "anomseer.cli",
            *generate,
            "--out",
            str(work / "data"),
            "--no-progress",
        ],
        check=True,
    )
    dataset = load_dataset(str(work / "data"), split="train")
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    print(
        f"tiny Qwen2.5-VL, {len(dataset)} rows of the tiny preset, {args.batch} completions per "
        f"step in groups of {args.group}, {args.completion_tokens} completion tokens at most, "
        f"{torch.get_num_threads()} CPU thread(s); median of {args.steps} steps after "
        f"{args.warmup} warm-up steps"
    )

    class Capturing(TimerPOTrainer):
        """Keeps the last scored batch the grounding stage saw."""

        def _local_similarity(self, inputs, batch, mode):
            self.captured = (inputs, batch, mode)
            return super()._local_similarity(inputs, batch, mode)

    grpo = train(GRPOTrainer, GRPOConfig(**settings(args, str(work / "grpo"))), model_dir, dataset)
    base, _ = step_times(grpo, args.warmup)
    print("\n| trainer | step s | vs GRPO | grounding s | grounding share |")
    print("|---|---|---|---|---|")
    print(f"| GRPO (TRL) | {base:.3f} | 1.00x | - | - |")
    timerpo = None
    for name, mode in MODES.items():
        config = TimerPOConfig(**settings(args, str(work / name.replace(" ", "-"))), **mode)
        trainer = train(Capturing, config, model_dir, dataset)
        step, grounding = step_times(trainer, args.warmup)
        print(
            f"| {name} | {step:.3f} | {step / base:.2f}x | {grounding:.3f} "
            f"| {grounding / step:.0%} |"
        )
        timerpo = timerpo or trainer

    out_of_step = {"steps_per_generation": 2}
    print("\nGeneration out of step with the optimiser (steps_per_generation=2): TRL reads old")
    print("log-probabilities, and TimerPO takes the completions' hidden states from that pass.\n")
    print("| trainer | step s | vs GRPO | grounding s |")
    print("|---|---|---|---|")
    config = GRPOConfig(**settings(args, str(work / "grpo-old"), **out_of_step))
    base_old, _ = step_times(train(GRPOTrainer, config, model_dir, dataset), args.warmup)
    print(f"| GRPO (TRL) | {base_old:.3f} | 1.00x | - |")
    config = TimerPOConfig(**settings(args, str(work / "timerpo-old"), **out_of_step))
    step, grounding = step_times(train(TimerPOTrainer, config, model_dir, dataset), args.warmup)
    print(f"| TimerPO ot + advantage projection | {step:.3f} | {step / base_old:.2f}x "
          f"| {grounding:.3f} |")  # fmt: skip

    # the grounding stage on the last batch of the first TimerPO run
    inputs, batch, mode = timerpo.captured
    config = timerpo.args
    texts = [row["expcot"] for row in inputs]
    unique = list(dict.fromkeys(texts))
    index = torch.tensor([unique.index(text) for text in texts])
    rows = config.per_device_train_batch_size

    def states():
        tokens = TextTokens(timerpo._tokenizer, config.expcot_max_tokens)
        ref, ref_mask = text_hidden_states(timerpo.model, tokens(unique), rows, "cpu")
        resp, resp_mask = zip(*completion_hidden_states(timerpo.model, batch, rows), strict=True)
        return torch.cat(resp), torch.cat(resp_mask), ref[index], ref_mask[index]

    def reference_stage():
        cost = per_sample_loop(*states(), config.ot_epsilon, config.ot_iterations)
        return similarity_from_cost(cost, config.ot_temperature)

    with torch.no_grad():
        captured = states()
        batched_s = timerpo._local_similarity(inputs, batch, mode).similarity
        loop_s = reference_stage()
        stage = best_time(lambda: timerpo._local_similarity(inputs, batch, mode), args.repeats)
        reference = best_time(reference_stage, args.repeats)
        forwards = best_time(states, args.repeats)
    from anomseer.grounding import transport_cost

    solve = best_time(lambda: transport_cost(*captured), args.repeats)
    loop = best_time(lambda: per_sample_loop(*captured), args.repeats)
    resp, _, ref, ref_mask = captured
    print(
        f"\nGrounding stage on one captured batch ({resp.shape[0]} completions x "
        f"{resp.shape[1]} tokens vs ExpCoT of up to {ref.shape[1]} tokens, "
        f"{int(ref_mask.sum(1).max())} valid; hidden {resp.shape[2]}), fastest of {args.repeats}; "
        f"max |s batched - s loop| = {(batched_s - loop_s).abs().max().item():.1e}"
    )
    print("\n| part | reference loop s | TimerPO s | ratio (loop / TimerPO) |")
    print("|---|---|---|---|")
    print(f"| whole stage (policy forwards + OT) | {reference:.4f} | {stage:.4f} "
          f"| {reference / stage:.2f}x |")  # fmt: skip
    print(f"| OT solve only | {loop:.4f} | {solve:.4f} | {loop / solve:.2f}x |")
    print(f"| policy forwards only | {forwards:.4f} | {forwards:.4f} | 1.00x |")


if __name__ == "__main__":
    main()
