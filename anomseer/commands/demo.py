"""Run the whole pipeline on a tiny model that learns on a CPU: build the offline tiny
Qwen2.5-VL (size 'demo', random weights), generate the 'demo' data (brief expert chain of
thought), run SFT, then TimerPO, evaluate the untrained model, both checkpoints and the expert
baseline on the same held-out rows, and write a report with figures. --size small is the
longer setting (target: under 20 minutes on 2 cores). A rerun skips the stages that finished, so an
interrupted demo resumes."""

from __future__ import annotations

import argparse

NAME = "demo"
HELP = "run data -> SFT -> TimerPO -> evaluation -> report with a tiny model that learns"
SIZES = ("default", "small", "ci")
"""The names of ``anomseer.demo.DEMO_SIZES`` (kept here so --help imports nothing heavy)."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default="runs/demo", help="folder for every stage's output")
    parser.add_argument(
        "--size", choices=SIZES, default="default",
        help="default: target under 5 minutes on 2 cores; small: longer, target under 20; "
        "ci: the test suite's reduced run",
    )  # fmt: skip
    for flag, what in (
        ("--train-per-family", "training series per family"),
        ("--eval-per-family", "held-out series per family"),
        ("--sft-steps", "SFT optimiser steps"),
        ("--timerpo-steps", "TimerPO steps"),
        ("--max-new-tokens", "tokens a checkpoint may generate in the evaluation"),
    ):
        parser.add_argument(flag, type=int, default=None, help=f"{what}; default: --size's")


def run(args: argparse.Namespace) -> int:
    import dataclasses
    import time

    from anomseer.demo import DEMO_SIZES, run_demo

    overrides = {
        field.name: getattr(args, field.name)
        for field in dataclasses.fields(DEMO_SIZES[args.size])
        if getattr(args, field.name, None) is not None
    }
    size = dataclasses.replace(DEMO_SIZES[args.size], **overrides)
    start = time.perf_counter()
    report = run_demo(args.out, size)
    print(f"\ndemo finished in {time.perf_counter() - start:.0f} s; report: {report}")
    return 0
