"""Compare finished evaluation runs side by side: one Markdown table with the overall metrics
of each run (for example a checkpoint, GPT-4o through the openai backend and the expert),
then affiliation F1 / class accuracy per anomaly type."""

from __future__ import annotations

import argparse

NAME = "report"
HELP = "compare finished evaluation runs in one Markdown table"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("runs", nargs="+", metavar="OUT", help="run folders of 'anomseer eval'")
    parser.add_argument(
        "--output", default=argparse.SUPPRESS, help="write the Markdown here instead of printing it"
    )


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from anomseer.atomic_files import write_atomic
    from anomseer.evaluation import compare_runs, load_run

    folders = [Path(run) for run in args.runs]
    names = [folder.resolve().name for folder in folders]
    if len(set(names)) < len(names):
        names = [str(folder) for folder in folders]
    text = compare_runs(
        [(name, load_run(folder)) for name, folder in zip(names, folders, strict=True)]
    )
    if hasattr(args, "output"):
        write_atomic(args.output, text)
        print(f"comparison written to {args.output}")
    else:
        print(text, end="")
    return 0
