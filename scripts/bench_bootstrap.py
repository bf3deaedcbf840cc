"""Benchmark the vectorised bootstrap of `anomseer.bootstrap` against a per-resample loop.

Both compute the percentile interval of six headline-metric means over series (one
completion per series, some metrics undefined on a tenth of the series) with the same
draws: the loop indexes the per-series values once per resample, as a straightforward
implementation would; ours multiplies blocks of draw counts with per-series sums.

    .venv/bin/python scripts/bench_bootstrap.py --series 10000 --resamples 1000
"""

from __future__ import annotations

import statistics
import time

import numpy as np
from _common import machine_line, parse_flags  # scripts/ is on sys.path when run as a script

from anomseer.bootstrap import SeriesScores, bootstrap_interval, percentile_interval


def per_resample_loop(values: np.ndarray, resamples: int, seed: int) -> np.ndarray:
    """One fancy-indexed nanmean per resample, with the same draws as ours."""
    rng = np.random.default_rng(seed)
    n = len(values)
    means = []
    for start in range(0, resamples, 100):
        for draw in rng.integers(0, n, size=(min(100, resamples - start), n)):
            means.append(np.nanmean(values[draw], axis=0))
    return percentile_interval(np.array(means))


def main() -> None:
    args = parse_flags(__doc__, series=10_000, resamples=1000, repeats=5)
    print(machine_line())
    rng = np.random.default_rng(0)
    values = rng.random((args.series, 6))
    values[rng.random(args.series) < 0.1, :3] = np.nan
    scores = SeriesScores.from_values([str(i) for i in range(args.series)], values)

    ours = bootstrap_interval(scores, args.resamples, seed=0)
    loop = per_resample_loop(values, args.resamples, seed=0)
    if not np.allclose(ours, loop, atol=1e-12):
        raise SystemExit(f"intervals differ: {ours} vs {loop}")
    times: dict[str, list[float]] = {"loop": [], "ours": []}
    for _ in range(args.repeats):
        for name, run in (
            ("loop", lambda: per_resample_loop(values, args.resamples, 0)),
            ("ours", lambda: bootstrap_interval(scores, args.resamples, 0)),
        ):
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    loop_s, ours_s = (statistics.median(times[name]) for name in ("loop", "ours"))
    print("| series | resamples | per-resample loop s | vectorised s | speed-up |")
    print("|---|---|---|---|---|")
    print(
        f"| {args.series} | {args.resamples} | {loop_s:.3f} | {ours_s:.3f} "
        f"| {loop_s / ours_s:.1f}x |"
    )


if __name__ == "__main__":
    main()
