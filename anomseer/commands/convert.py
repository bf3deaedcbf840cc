"""Convert a real or published benchmark into an AnomSeer dataset: the same parquet rows as
'anomseer gen' (label-free plot rendered from the values, prompt, truth, expert chain of thought
and SFT completion), one row per window of a long series, plus the columns source_file,
source_index, offset and type_source that map every row back to the original index (and
expert_thresholds, the expert baseline's thresholds calibrated on that series). Windows are
placed around the anomalies by default (no overlap, no anomaly cut at an edge when it fits);
published splits are kept: UCR's and TSB-AD's train parts and NAB's probationary period go to
--split train only (TSB-AD scores whole series, so its other splits cover them whole).
Unreadable files are listed with the reason and left out (with --strict nothing is written).
The anomllm and visualtimeanomaly formats read data.pkl files with Python's pickle, which can
run code: only the data.pkl you name, or the <type>/<split>/data.pkl files under the folder you
name, are opened, with a loader that refuses everything but containers, numbers, strings and
numpy arrays; point --input only at files you trust. Their pre-rendered figures (which show the
truth) are never read."""

from __future__ import annotations

import argparse

NAME = "convert"
HELP = (
    "convert UCR, TSB-AD(-M), TSB-UAD, NAB, Yahoo, AnomLLM or VisualTimeAnomaly data into a dataset"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from data_gen.benchmarks import FORMATS

    parser.add_argument(
        "--format",
        required=True,
        choices=list(FORMATS),
        help="source layout: " + "; ".join(f"{k}: {v}" for k, v in FORMATS.items()),
    )
    parser.add_argument(
        "--input",
        required=True,
        metavar="PATH",
        help="a file or a folder in the format's layout (nab: the folder holding data/ and "
        "labels/; anomllm, visualtimeanomaly: a data.pkl, or a folder whose <type>/<split>/"
        "data.pkl files are unpickled: trusted files only)",
    )
    parser.add_argument("--out", required=True, metavar="DIR", help="dataset folder to write")
    parser.add_argument(
        "--split",
        default="eval",
        help="split to write: 'train' takes a source's published train part (UCR, TSB-AD, NAB's "
        "probationary period), any other name the part after it; the pickled layouts also read "
        "their <split>/ folders",
    )
    parser.add_argument(
        "--file-list",
        default=None,
        metavar="CSV",
        help="convert only the files named in this CSV's file_name column (TSB-AD's "
        "File_List/TSB-AD-U-Eva.csv or -Tuning.csv)",
    )
    parser.add_argument("--window", type=int, default=1000, help="points per window (plot)")
    parser.add_argument(
        "--windowing",
        choices=["anomaly-aware", "grid"],
        default=None,
        help="anomaly-aware: non-overlapping windows, each anomaly that fits whole inside one "
        "with normal context; grid: a window every --stride points plus one at the end; None: "
        "grid when --stride is given, else anomaly-aware",
    )
    parser.add_argument(
        "--stride",
        type=int,
        default=None,
        help="grid: points between window starts; None: --window",
    )
    parser.add_argument(
        "--normal-ratio",
        type=float,
        default=None,
        metavar="R",
        help="keep anomaly-free windows as this share (0 <= R < 1) of the rows, drawn at random "
        "with --seed; None: keep every window",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the --normal-ratio draw")
    parser.add_argument(
        "--ucr-index",
        default="0-half-open",
        choices=["0-half-open", "0-inclusive", "1-half-open", "1-inclusive"],
        help="how the UCR file name's anomaly start and end count",
    )
    parser.add_argument(
        "--scale",
        choices=["minmax", "none"],
        default=None,
        help="minmax: scale each window to [-1, 1]; None: minmax for ucr, tsb-ad(-m), tsb-uad, "
        "nab, yahoo, none (keep values) for anomllm, visualtimeanomaly",
    )
    parser.add_argument(
        "--style",
        choices=["paper", "real", "visualtimeanomaly"],
        default=None,
        help="plot style (real: the paper's with a 5%% y-margin); None: visualtimeanomaly for that "
        "format, real for min-max scaled windows, paper otherwise",
    )
    parser.add_argument("--rows-per-shard", type=int, default=400, help="rows per parquet shard")
    parser.add_argument(
        "--workers", type=int, default=1, help="processes building shards in parallel"
    )
    parser.add_argument(
        "--strict",
        action="store_true",
        help="fail (exit 2, nothing written) when any file cannot be read",
    )
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bars")


def run(args: argparse.Namespace) -> int:
    import os
    import sys

    from anomseer.errors import UserInputError

    if args.workers < 1:
        raise UserInputError(f"--workers must be at least 1, got {args.workers}")
    if args.rows_per_shard < 1:
        raise UserInputError(f"--rows-per-shard must be positive, got {args.rows_per_shard}")
    # One BLAS thread per process: the parallelism is --workers (inherited by the workers).
    os.environ.setdefault("OMP_NUM_THREADS", "1")

    from data_gen.benchmarks.convert import ConvertOptions, scan, write_dataset

    options = ConvertOptions(
        format=args.format,
        split=args.split,
        window=args.window,
        stride=args.stride,
        normal_ratio=args.normal_ratio,
        seed=args.seed,
        ucr_index=args.ucr_index,
        scale=args.scale,
        style=args.style,
        windowing=args.windowing,
        file_list=args.file_list,
    )
    inventory = scan(args.input, options, progress=not args.no_progress)
    if inventory.not_listed:
        print(
            f"anomseer convert: {len(inventory.not_listed)} files named in --file-list are not "
            f"under --input (first: {inventory.not_listed[0]})",
            file=sys.stderr,
        )
    if inventory.irregular:
        print(
            f"anomseer convert: {len(inventory.irregular)} of {len(inventory.files)} files are "
            f"irregularly sampled (first: {inventory.irregular[0]}); plots use the point index, "
            "the gaps are listed in each row's time_gaps column",
            file=sys.stderr,
        )
    for bad in inventory.bad_files:
        print(f"anomseer convert: skipped {bad.path}: {bad.reason}", file=sys.stderr)
    if inventory.bad_files:
        total = len(inventory.bad_files) + len(inventory.files)
        print(
            f"anomseer convert: {len(inventory.bad_files)} of {total} files could not be read",
            file=sys.stderr,
        )
        if args.strict:
            raise UserInputError(
                f"{len(inventory.bad_files)} files could not be read (listed above); fix or "
                "remove them, or drop --strict to convert the rest"
            )
    summary = write_dataset(
        inventory,
        args.out,
        rows_per_shard=args.rows_per_shard,
        workers=args.workers,
        progress=not args.no_progress,
    )
    types = ", ".join(f"{k} {v}" for k, v in summary.anomaly_types.items())
    print(
        f"{args.split}: {summary.num_rows} rows from {inventory.series} series in "
        f"{len(inventory.files)} files ({inventory.anomalous_windows} anomalous windows, "
        f"{inventory.normal_kept} of {inventory.normal_windows} anomaly-free kept) in "
        f"{summary.num_shards} shards ({types})"
    )
    print(f"dataset: {args.out} (datasets.load_dataset({str(args.out)!r}, split=...))")
    return 0
