"""Run the whole pipeline on the built-in tiny default: build the offline tiny Qwen2.5-VL,
generate a small train and eval set (preset 'tiny'), run SFT, then TimerPO, evaluate the
trained checkpoint and the expert baseline on the held-out split, and write a report with
figures. The tiny model has random weights, so its scores mean nothing; every stage is the
real one. A rerun skips the stages that finished, so an interrupted demo resumes."""

from __future__ import annotations

import argparse

NAME = "demo"
HELP = "run data -> SFT -> TimerPO -> evaluation -> report on the built-in tiny default"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default="runs/demo", help="folder for every stage's output")
    parser.add_argument(
        "--num-per-family", type=int, default=None,
        help="series per family and split; default: the 'tiny' preset's",
    )  # fmt: skip
    parser.add_argument("--sft-steps", type=int, default=40, help="SFT optimiser steps")
    parser.add_argument("--timerpo-steps", type=int, default=12, help="TimerPO steps")
    parser.add_argument(
        "--max-new-tokens", type=int, default=96, help="tokens the checkpoint may generate"
    )


def run(args: argparse.Namespace) -> int:
    import time

    from anomseer.demo import DemoSize, run_demo

    start = time.perf_counter()
    size = DemoSize(args.num_per_family, args.sft_steps, args.timerpo_steps, args.max_new_tokens)
    report = run_demo(args.out, size)
    print(f"\ndemo finished in {time.perf_counter() - start:.0f} s; report: {report}")
    print(
        "note: the tiny model has random weights, so its scores mean nothing; every stage "
        "(data, SFT, TimerPO, evaluation) is the real one."
    )
    return 0
