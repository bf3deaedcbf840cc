"""Compare finished evaluation runs: on the rows they all answered, each headline metric with
its 95% bootstrap interval over series and its paired difference against the first run (also
per anomaly type); runs of one setting with different seeds pooled with ``--group``; then
each run's metrics on all its rows."""

from __future__ import annotations

import argparse
import sys

NAME = "report"
HELP = "compare finished evaluation runs (intervals, paired differences, seed groups)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "runs",
        nargs="*",
        default=argparse.SUPPRESS,
        metavar="OUT",
        help="run folders of 'anomseer eval'",
    )
    parser.add_argument(
        "--group",
        action="append",
        default=argparse.SUPPRESS,
        metavar="NAME=OUT1,OUT2,...",
        help="pool runs of one setting with different seeds into one line (repeatable)",
    )
    parser.add_argument("--resamples", type=int, default=1000, help="bootstrap resamples")
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    parser.add_argument(
        "--output", default=argparse.SUPPRESS, help="write the Markdown here instead of printing it"
    )
    parser.add_argument(
        "--html",
        default=argparse.SUPPRESS,
        help="also write the runs side by side, row by row, to this self-contained HTML page",
    )


def _parse_group(text: str) -> tuple[str, list[str]]:
    from anomseer.errors import UserInputError

    name, _, folders = text.partition("=")
    runs = [folder for folder in folders.split(",") if folder]
    if not name or len(runs) < 2:
        raise UserInputError(
            f"--group {text!r}: write it as NAME=OUT1,OUT2[,...] with at least two run folders"
        )
    return name, runs


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from anomseer.atomic_files import write_atomic
    from anomseer.errors import UserInputError
    from anomseer.evaluation import compare_runs, load_run
    from anomseer.evaluation.comparison import Entry, compare_shared_rows, load_records
    from anomseer.evaluation.report import describe_run

    positional = getattr(args, "runs", [])
    groups = [_parse_group(text) for text in getattr(args, "group", [])]
    if not positional and not groups:
        raise UserInputError("give at least one run folder (OUT) or --group NAME=OUT1,OUT2")
    if args.resamples < 1:
        raise UserInputError(f"--resamples must be at least 1, got {args.resamples}")
    folders = [Path(run) for run in positional] + [Path(r) for _, runs in groups for r in runs]
    names = [folder.resolve().name for folder in folders]
    if len(set(names)) < len(names):
        names = [str(folder) for folder in folders]
    metrics = [load_run(folder) for folder in folders]
    records = [load_records(folder) for folder in folders]
    entries = [
        Entry(names[i], describe_run(metrics[i]), [records[i]]) for i in range(len(positional))
    ]
    start = len(positional)
    for name, runs in groups:
        members = range(start, start + len(runs))
        start += len(runs)
        described = " / ".join(sorted({describe_run(metrics[i]) for i in members}))
        entries.append(Entry(name, described, [records[i] for i in members]))
    text = (
        "## On the rows all runs share\n\n"
        + compare_shared_rows(entries, args.resamples, args.seed)
        + "\n## Each run on all its rows\n\n"
        + compare_runs(list(zip(names, metrics, strict=True)))
    )
    if hasattr(args, "html"):
        from anomseer.evaluation.html_report import write_comparison_page

        write_comparison_page(args.html, names, metrics, records)
        print(f"page written to {args.html}", file=sys.stderr)
    if hasattr(args, "output"):
        write_atomic(args.output, text)
        print(f"comparison written to {args.output}")
    else:
        print(text, end="")
    return 0
