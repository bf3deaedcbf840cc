"""Detect anomalies in whole series (TSB-AD, TSB-AD-M, NAB, UCR, TSB-UAD files, or a plain
one-column CSV/parquet, labels optional) with a checkpoint, an API model or the expert: each
series is cut into overlapping windows rendered as `anomseer convert` renders real data, every
window is asked (resumable, like `eval`), and the answers become one score per point, the mean
over covering windows of the share of completions marking the point. Writes
OUT/scores/<series>.csv, OUT/intervals.json, OUT/figures/, OUT/report.md and OUT/metrics.json
with TSB-AD's metrics (VUS-PR and eight others, as its get_metrics computes them)."""

from __future__ import annotations

import argparse

from anomseer.commands.eval import BACKEND_CHOICES, add_backend_arguments, given_backend_options

NAME = "detect"
HELP = "detect anomalies in whole series and score them as TSB-AD does"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from data_gen.benchmarks import DETECT_FORMATS

    parser.argument_default = argparse.SUPPRESS  # unset options take the defaults of detect()
    parser.add_argument("--input", nargs="+", required=True, metavar="FILE", help="series files")
    parser.add_argument("--backend", required=True, choices=BACKEND_CHOICES)
    parser.add_argument(
        "--model", help="checkpoint folder or hub id (vllm, hf); served model name (openai)"
    )
    parser.add_argument("--out", required=True, help="run folder (resumed when it exists)")
    parser.add_argument(
        "--format",
        choices=DETECT_FORMATS,
        help="the files' layout (default: guessed from the suffix and the CSV header)",
    )
    parser.add_argument("--window", type=int, help="points per window (default: 1000)")
    parser.add_argument("--stride", type=int, help="points between windows (default: window/2)")
    parser.add_argument(
        "--threshold", type=float, help="score at which a point is detected (default: 0.5)"
    )
    parser.add_argument("--batch-size", type=int, help="windows per batch (default: backend's)")
    parser.add_argument(
        "--compare-tsb-ad",
        metavar="TABLE.csv",
        help="TSB-AD's published per-series VUS-PR table to rank this run in (report.md)",
    )
    parser.add_argument("--no-figures", action="store_true", help="skip the overview figures")
    add_backend_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from anomseer.detection import detect
    from anomseer.evaluation.report import format_value

    named = ("model", "format", "window", "stride", "threshold", "batch_size", "compare_tsb_ad")
    options = given_backend_options(args) | {o: getattr(args, o) for o in named if hasattr(args, o)}
    metrics = detect(
        args.input,
        args.backend,
        args.out,
        figures=not getattr(args, "no_figures", False),
        **options,
    )
    overall = metrics["overall"]
    print(
        f"{overall['series']} series ({overall['scored_series']} with labels): "
        f"VUS-PR {format_value(overall['VUS-PR'])}, AUC-PR {format_value(overall['AUC-PR'])}, "
        f"Affiliation-F {format_value(overall['Affiliation-F'])}"
    )
    print(f"report: {args.out}/report.md, metrics: {args.out}/metrics.json")
    return 0
