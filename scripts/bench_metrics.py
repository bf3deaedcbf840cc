"""Benchmark the metrics: affiliation P/R per series (one call each and one batched call) and
the full per-series score (point, affiliation and point-adjusted terms).

    OMP_NUM_THREADS=1 .venv/bin/python scripts/bench_metrics.py [--series 5000 --length 1000]

Random series: 1-8 truth events and 0-8 predicted intervals (disjoint, 1-60 points long),
fixed seed. Prints series per second, the best of ``--repeats`` runs, as Markdown rows.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
from _common import machine_line, parse_flags  # scripts/ is on sys.path when run as a script

from anomseer.metrics import (
    affiliation_precision_recall,
    affiliation_precision_recall_batch,
    score_sample,
)
from anomseer.protocol import Answer


def random_intervals(rng: np.random.Generator, count: int, length: int) -> list[tuple[int, int]]:
    """Up to ``count`` disjoint intervals, each 1-60 points long, within ``[0, length)``."""
    starts = np.sort(rng.choice(length - 60, size=count, replace=False))
    spans: list[tuple[int, int]] = []
    for start in starts:
        end = int(start + rng.integers(1, 61))
        if not spans or start > spans[-1][1]:
            spans.append((int(start), end))
    return spans


def best_rate(run: Callable[[], object], count: int, repeats: int) -> float:
    """Series per second of the fastest of ``repeats`` runs."""
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return count / best


def main() -> None:
    args = parse_flags(__doc__, series=5000, length=1000, repeats=3)
    print(machine_line())

    rng = np.random.default_rng(0)
    n, length = args.series, args.length
    truths = [random_intervals(rng, int(rng.integers(1, 9)), length) for _ in range(n)]
    predictions = [random_intervals(rng, int(rng.integers(0, 9)), length) for _ in range(n)]
    lengths = [length] * n
    answers = [Answer(intervals=p, answer_valid=True, format_valid=True) for p in predictions]

    rows = {
        "affiliation_precision_recall, one call per series": lambda: [
            affiliation_precision_recall(p, t, length)
            for p, t in zip(predictions, truths, strict=True)
        ],
        "affiliation_precision_recall_batch, one call": lambda: affiliation_precision_recall_batch(
            predictions, truths, lengths
        ),
        "score_sample (point, affiliation, PA terms)": lambda: [
            score_sample(a, t, "trend", length) for a, t in zip(answers, truths, strict=True)
        ],
    }
    print(f"{n} series of length {length}, best of {args.repeats}\n")
    print("| what | series/s |\n|---|---|")
    for name, run in rows.items():
        print(f"| {name} | {best_rate(run, n, args.repeats):,.0f} |")


if __name__ == "__main__":
    main()
