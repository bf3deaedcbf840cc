"""Generate a synthetic dataset from a preset: series with injected anomalies, label-free plots,
expert chain of thought and SFT completions, written as Hugging Face parquet shards
(DIR/data/<split>-<i>-of-<n>.parquet) with a dataset card. Resumable: finished shards are kept
and a rerun fills in the rest with identical bytes. --preview draws the first samples of every
family with their truth marked (for people; dataset images are never marked)."""

from __future__ import annotations

import argparse

NAME = "gen"
HELP = "generate a synthetic anomaly dataset (parquet shards) or a preview grid"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--preset",
        required=True,
        help="preset name in recipes/data (anomllm, visualtimeanomaly, "
        "visualtimeanomaly-multivariate, tiny) or a path to a preset YAML",
    )
    parser.add_argument(
        "--split",
        nargs="+",
        default=None,
        help="split(s) to build; None: every split of the preset",
    )
    parser.add_argument("--out", default=None, help="dataset folder to write")
    parser.add_argument(
        "--num-per-family", type=int, default=None, help="series per family; None: the preset's"
    )
    parser.add_argument(
        "--workers", type=int, default=1, help="processes building shards in parallel"
    )
    parser.add_argument("--seed", type=int, default=None, help="seed; None: the split's")
    parser.add_argument(
        "--rows-per-shard", type=int, default=None, help="rows per shard; None: the preset's"
    )
    parser.add_argument(
        "--preview",
        default=None,
        metavar="OUT.png",
        help="also draw a preview grid with the truth marked",
    )
    parser.add_argument(
        "--preview-per-family", type=int, default=2, help="samples per family in the preview"
    )
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def run(args: argparse.Namespace) -> int:
    import os

    from anomseer.errors import UserInputError

    if args.out is None and args.preview is None:
        raise UserInputError("nothing to do: give --out DIR to build a dataset and/or --preview")
    if args.workers < 1:
        raise UserInputError(f"--workers must be at least 1, got {args.workers}")
    if args.seed is not None and args.seed < 0:
        raise UserInputError(f"--seed must be non-negative, got {args.seed}")
    if args.rows_per_shard is not None and args.rows_per_shard < 1:
        raise UserInputError(f"--rows-per-shard must be positive, got {args.rows_per_shard}")
    if args.preview_per_family < 1:
        raise UserInputError("--preview-per-family must be positive")
    if args.preview is not None and not args.preview.lower().endswith(".png"):
        raise UserInputError(
            f"--preview writes a PNG image; give a file name ending in .png, not {args.preview!r}"
        )
    # One BLAS thread per process: the parallelism is --workers (inherited by the workers).
    os.environ.setdefault("OMP_NUM_THREADS", "1")

    from data_gen.presets import load_preset

    preset = load_preset(args.preset)
    splits = args.split or list(preset.splits)
    rows = sum(sum(preset.counts(split, args.num_per_family).values()) for split in splits)
    if args.out is not None:
        check_disk_space(args.out, rows)
    if args.preview is not None:
        from data_gen.preview import draw_preview, preview_samples

        samples = preview_samples(preset, splits[0], args.seed, args.preview_per_family)
        path = draw_preview(samples, args.preview)
        print(f"preview of {len(samples)} {splits[0]} samples: {path}")
    if args.out is None:
        return 0

    from data_gen.build import build_split

    for split in splits:
        summary = build_split(
            preset,
            split,
            args.out,
            seed=args.seed,
            num_per_family=args.num_per_family,
            rows_per_shard=args.rows_per_shard,
            workers=args.workers,
            progress=not args.no_progress,
        )
        types = ", ".join(f"{k} {v}" for k, v in summary.anomaly_types.items())
        print(f"{split}: {summary.num_rows} rows in {summary.num_shards} shards ({types})")
    print(f"dataset: {args.out} (datasets.load_dataset({str(args.out)!r}, split=...))")
    return 0


MIN_BYTES_PER_ROW = 8_000
"""A lower bound on one row's size on disk (its PNG plot alone takes more)."""


def check_disk_space(out: str, rows: int) -> None:
    """Refuse up front a dataset that cannot fit on the disk holding ``out``."""
    import shutil
    from pathlib import Path

    from anomseer.errors import UserInputError

    folder = Path(out).resolve()
    while not folder.exists():
        folder = folder.parent
    free = shutil.disk_usage(folder).free
    needed = rows * MIN_BYTES_PER_ROW
    if needed > free:
        raise UserInputError(
            f"{rows} rows need at least {needed / 1e9:.3g} GB but only {free / 1e9:.3g} GB are "
            f"free under {folder}; lower --num-per-family or write elsewhere"
        )
