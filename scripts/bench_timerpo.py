"""Benchmark TimerPO against plain GRPO, and its grounding stage against the reference's loop.

1. Step time: the same tiny model, data and settings trained with TRL's ``GRPOTrainer`` and with
   ``TimerPOTrainer`` in several modes, all in one process. Each trainer runs in its own thread
   and the threads take turns, one optimiser step each (GRPO, then every TimerPO mode, then
   GRPO again...), so machine load falls on all of them alike; a step is timed on its
   thread's CPU clock (``time.thread_time``: time spent waiting, for the turn or for other
   processes, is not counted; caches are still shared). Per trainer: the mean CPU time of a
   step after the warm-up steps, and its parts (generation, TRL's scoring, grounding, loss +
   backward + optimiser step). Then GRPO and the default TimerPO again with generation out of
   step with the optimiser (``steps_per_generation=2``), where TRL reads old log-probabilities,
   as it always does with vLLM's importance-sampling correction (the shipped recipes): TimerPO
   reuses that pass. Every round builds fresh trainers; the summary gives each round's ratio to
   GRPO and their median.
2. Grounding stage: on a batch captured from a real TimerPO step, the whole stage read by its
   own forwards (policy forwards for the completions and the ExpCoT, then one batched transport
   solve) against the same forwards followed by what the reference did: states to CPU float64
   and one Sinkhorn per completion in a Python loop (``scripts/bench_grounding.py:
   per_sample_loop``).

    OMP_NUM_THREADS=1 .venv/bin/python scripts/bench_timerpo.py
    OMP_NUM_THREADS=1 .venv/bin/python scripts/bench_timerpo.py --rounds 5 --steps 20
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from _common import machine_line, parse_flags  # scripts/ is on sys.path when run as a script

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch
from bench_grounding import per_sample_loop  # scripts/ is on sys.path when run as a script
from transformers import TrainerCallback

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
DEFAULT_MODE = "TimerPO ot + advantage projection"
OUT_OF_STEP = "out of step: TimerPO ot + advantage"
OUT_OF_STEP_GRPO = "out of step: GRPO (TRL)"
PARTS = ("generation", "extra decode", "scoring", "grounding", "loss + backward")


class Clock:
    """CPU time of one trainer's thread: whole steps and named parts, counted only while
    ``counting`` (after the warm-up)."""

    _current = threading.local()

    def __init__(self) -> None:
        self.counting = False
        self.steps: list[float] = []
        self.parts: defaultdict[str, float] = defaultdict(float)

    @classmethod
    def of_this_thread(cls) -> Clock | None:
        return getattr(cls._current, "clock", None)

    def bind(self) -> None:
        """Make this the clock of the calling thread."""
        Clock._current.clock = self

    @contextmanager
    def part(self, name: str) -> Iterator[None]:
        start = time.thread_time()
        try:
            yield
        finally:
            if self.counting:
                self.parts[name] += time.thread_time() - start

    def per_step(self) -> dict[str, float]:
        """Mean CPU seconds per timed step: the step and its parts, which add up to it
        (generation without the extra decode step; scoring is TRL's generate-and-score less
        generation and grounding; loss + backward is the rest, optimiser step included)."""
        steps = len(self.steps)
        mean = {name: total / steps for name, total in self.parts.items()}
        generated = mean.get("generation", 0.0)
        row = {"step": sum(self.steps) / steps, "extra decode": mean.get("extra decode", 0.0)}
        row["generation"] = generated - row["extra decode"]
        row["grounding"] = mean.get("grounding", 0.0)
        scored = mean.get("generate and score", 0.0)
        row["scoring"] = scored - generated - row["grounding"]
        row["loss + backward"] = row["step"] - scored
        return row


@contextmanager
def timed(name: str) -> Iterator[None]:
    clock = Clock.of_this_thread()
    if clock is None:
        yield
        return
    with clock.part(name):
        yield


def timed_trainer(base: type) -> type:
    """``base`` with its generation, scoring and grounding timed on the thread's clock."""

    class Timed(base):
        def _generate(self, prompts: list) -> Any:
            with timed("generation"):
                return super()._generate(prompts)

        def _generate_and_score_completions(self, inputs: list) -> Any:
            with timed("generate and score"):
                return super()._generate_and_score_completions(inputs)

    if hasattr(base, "_local_similarity"):

        class TimedTimerPO(Timed):
            def _local_similarity(self, *args: Any) -> Any:
                with timed("grounding"):
                    return super()._local_similarity(*args)

            def _ground_advantages(self, *args: Any) -> None:
                with timed("grounding"):
                    super()._ground_advantages(*args)

        return TimedTimerPO
    return Timed


def time_extra_decode() -> None:
    """Count the decode step after ``generate`` (``GeneratedStates.finish``) as its own part."""
    from anomseer.trainers.hidden_states import GeneratedStates

    finish = GeneratedStates.finish

    def timed_finish(self: GeneratedStates, *args: Any) -> Any:
        with timed("extra decode"):
            return finish(self, *args)

    GeneratedStates.finish = timed_finish


class TakeTurns(TrainerCallback):
    """One optimiser step per turn: a trainer waits for its turn before training and after each
    step, then hands the turn to the next; ``clock`` times its steps after ``warmup``."""

    def __init__(self, turns: list[threading.Semaphore], index: int, clock: Clock, warmup: int):
        self.turns, self.index, self.clock, self.warmup = turns, index, clock, warmup
        self.start = 0.0

    def _pass_turn(self) -> None:
        self.turns[(self.index + 1) % len(self.turns)].release()

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.turns[self.index].acquire()

    def on_step_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.clock.counting = state.global_step >= self.warmup
        self.start = time.thread_time()

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self.clock.counting:
            self.clock.steps.append(time.thread_time() - self.start)
        self.clock.counting = False
        self._pass_turn()
        self.turns[self.index].acquire()

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self._pass_turn()


def settings(args: Any, out_dir: str, **changes: Any) -> dict:
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


def build_trainer(trainer_cls: type, config: Any, model_dir: Path, dataset: Any) -> Any:
    from anomseer.modeling import load_model_and_processor
    from anomseer.rewards import get_reward_funcs

    model, processor = load_model_and_processor(model_dir, dtype="float32")
    processor.tokenizer.padding_side = "left"
    return trainer_cls(
        model=model,
        reward_funcs=get_reward_funcs(["localization", "class", "format"]),
        args=config,
        train_dataset=dataset,
        processing_class=processor,
    )


def train_in_turns(trainers: dict[str, Any], warmup: int) -> dict[str, dict[str, float]]:
    """Train every trainer in its own thread, one step per turn; each one's CPU seconds per
    timed step and parts."""
    turns = [threading.Semaphore(0) for _ in trainers]
    clocks = {name: Clock() for name in trainers}
    failures: list[BaseException] = []

    def run(name: str, index: int) -> None:
        clocks[name].bind()
        trainer = trainers[name]
        trainer.add_callback(TakeTurns(turns, index, clocks[name], warmup))
        try:
            trainer.train()
        except BaseException as error:  # let the other threads finish, then re-raise
            failures.append(error)
            for turn in turns:
                turn.release()

    threads = [
        threading.Thread(target=run, args=(name, index)) for index, name in enumerate(trainers)
    ]
    for thread in threads:
        thread.start()
    turns[0].release()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]
    return {name: clock.per_step() for name, clock in clocks.items()}


def ratio_to_grpo(name: str, rows: dict[str, dict[str, float]]) -> float:
    """A trainer's step time over that of the GRPO run it took turns with."""
    base = OUT_OF_STEP_GRPO if name.startswith("out of step") else "GRPO (TRL)"
    return rows[name]["step"] / rows[base]["step"]


def print_round(number: int, rows: dict[str, dict[str, float]]) -> None:
    print(f"\nRound {number} ({machine_line()}), CPU s per step:\n")
    print(f"| trainer | step s | vs GRPO | {' | '.join(PARTS)} |")
    print(f"|---|---|---|{'---|' * len(PARTS)}")
    for name, row in rows.items():
        parts = " | ".join(f"{row[part]:.4f}" for part in PARTS)
        print(f"| {name} | {row['step']:.3f} | {ratio_to_grpo(name, rows):.2f}x | {parts} |")


def best_time(run: Callable[[], Any], repeats: int) -> float:
    """The fastest of ``repeats`` runs, on this thread's CPU clock (after one untimed run)."""
    run()
    times = []
    for _ in range(repeats):
        start = time.thread_time()
        run()
        times.append(time.thread_time() - start)
    return min(times)


def main() -> None:
    args = parse_flags(
        __doc__,
        rounds=(3, "rounds, each with freshly built trainers"),
        steps=(12, "timed steps per trainer and round"),
        warmup=(2, "untimed first steps"),
        group=(4, "num_generations"),
        batch=(8, "completions per step"),
        completion_tokens=48,
        repeats=(5, "timed runs of the grounding stage"),
    )

    from datasets import load_dataset
    from trl import GRPOConfig, GRPOTrainer

    from anomseer.grounding import similarity_from_cost, transport_cost
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
    time_extra_decode()
    print(
        f"tiny Qwen2.5-VL, {len(dataset)} rows of the tiny preset, {args.batch} completions per "
        f"step in groups of {args.group}, {args.completion_tokens} completion tokens, "
        f"{torch.get_num_threads()} CPU thread(s); per trainer the mean CPU time of {args.steps} "
        f"steps after {args.warmup} warm-up steps, trainers taking turns step by step"
    )

    class Capturing(timed_trainer(TimerPOTrainer)):
        """Keeps the last scored batch the grounding stage saw."""

        def _local_similarity(self, inputs, batch, mode):
            self.captured = (inputs, batch, mode)
            return super()._local_similarity(inputs, batch, mode)

    timed_grpo, timed_timerpo = timed_trainer(GRPOTrainer), timed_trainer(TimerPOTrainer)
    ratios: defaultdict[str, list[float]] = defaultdict(list)
    steps: defaultdict[str, list[dict[str, float]]] = defaultdict(list)
    timerpo = None
    for number in range(1, args.rounds + 1):
        out = work / f"round-{number}"
        trainers = {
            "GRPO (TRL)": build_trainer(
                timed_grpo, GRPOConfig(**settings(args, str(out / "grpo"))), model_dir, dataset
            )
        }
        for name, mode in MODES.items():
            config = TimerPOConfig(**settings(args, str(out / name.replace(" ", "-"))), **mode)
            trainer_cls = Capturing if name == DEFAULT_MODE else timed_timerpo
            trainers[name] = build_trainer(trainer_cls, config, model_dir, dataset)
        rows = train_in_turns(trainers, args.warmup)
        timerpo = trainers[DEFAULT_MODE]
        out_of_step = {"steps_per_generation": 2}
        pair = {
            OUT_OF_STEP_GRPO: build_trainer(
                timed_grpo,
                GRPOConfig(**settings(args, str(out / "grpo-old"), **out_of_step)),
                model_dir,
                dataset,
            ),
            OUT_OF_STEP: build_trainer(
                timed_timerpo,
                TimerPOConfig(**settings(args, str(out / "timerpo-old"), **out_of_step)),
                model_dir,
                dataset,
            ),
        }
        rows |= train_in_turns(pair, args.warmup)
        print_round(number, rows)
        for name, row in rows.items():
            ratios[name].append(ratio_to_grpo(name, rows))
            steps[name].append(row)

    print(f"\nSummary over {args.rounds} rounds: each round's step ratio to its GRPO, the median")
    print("ratio, and the median CPU s per step of each part\n")
    print(f"| trainer | rounds vs GRPO | median vs GRPO | step s | {' | '.join(PARTS)} |")
    print(f"|---|---|---|---|{'---|' * len(PARTS)}")
    for name, values in ratios.items():
        middle = {key: statistics.median(row[key] for row in steps[name]) for key in steps[name][0]}
        rounds = " / ".join(f"{value:.2f}" for value in values)
        parts = " | ".join(f"{middle[part]:.4f}" for part in PARTS)
        print(
            f"| {name} | {rounds} | {statistics.median(values):.2f}x | {middle['step']:.3f} "
            f"| {parts} |"
        )

    # the grounding stage on the last batch of the last round's default TimerPO run, read by
    # its own forwards (nothing kept from generation)
    inputs, batch, mode = timerpo.captured
    config = timerpo.args
    texts = [row["expcot"] for row in inputs]
    unique = list(dict.fromkeys(texts))
    index = torch.tensor([unique.index(text) for text in texts])
    rows_per_read = config.per_device_train_batch_size
    tokens = TextTokens(timerpo._tokenizer, config.expcot_max_tokens)

    def states():
        ref, ref_mask = text_hidden_states(timerpo.model, tokens(unique), rows_per_read, "cpu")
        read = completion_hidden_states(timerpo.model, batch, rows_per_read)
        resp, resp_mask = zip(*read, strict=True)
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
    solve = best_time(lambda: transport_cost(*captured), args.repeats)
    loop = best_time(lambda: per_sample_loop(*captured), args.repeats)
    resp, _, ref, ref_mask = captured
    print(
        f"\nGrounding stage read by its own forwards on one captured batch ({resp.shape[0]} "
        f"completions x {resp.shape[1]} tokens vs ExpCoT of up to {ref.shape[1]} tokens, "
        f"{int(ref_mask.sum(1).max())} valid; hidden {resp.shape[2]}), fastest of "
        f"{args.repeats}, CPU s; max |s batched - s loop| = "
        f"{(batched_s - loop_s).abs().max().item():.1e}"
    )
    print("\n| part | reference loop s | TimerPO s | ratio (loop / TimerPO) |")
    print("|---|---|---|---|")
    print(f"| whole stage (policy forwards + OT) | {reference:.4f} | {stage:.4f} "
          f"| {reference / stage:.2f}x |")  # fmt: skip
    print(f"| OT solve only | {loop:.4f} | {solve:.4f} | {loop / solve:.2f}x |")
    print(f"| policy forwards only | {forwards:.4f} | {forwards:.4f} | 1.00x |")


if __name__ == "__main__":
    main()
