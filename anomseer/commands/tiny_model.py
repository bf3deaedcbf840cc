"""Build the offline tiny Qwen2.5-VL (random weights, locally trained tokenizer) into a folder
that AutoProcessor and AutoModelForImageTextToText load."""

from __future__ import annotations

import argparse

NAME = "tiny-model"
HELP = "build the offline tiny Qwen2.5-VL used by tests and the demo"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from anomseer.modeling import TINY_SIZES

    parser.add_argument("out", help="folder to write (left as is when it already holds a model)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random weights")
    parser.add_argument(
        "--size", choices=tuple(TINY_SIZES), default="test",
        help="'test': the test suite's 0.4 M-parameter model; 'demo': hidden 128, 4 layers, "
        "sized to learn the task on a CPU",
    )  # fmt: skip


def run(args: argparse.Namespace) -> int:
    from anomseer.modeling import build_tiny_model

    path = build_tiny_model(args.out, seed=args.seed, size=args.size)
    print(f"tiny Qwen2.5-VL ready in {path}")
    return 0
