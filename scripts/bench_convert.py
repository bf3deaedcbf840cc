"""Benchmark: how often the expert reading of untyped anomalies agrees with a known type, and how
fast a long real-style series becomes dataset rows.

1. Agreement: for every univariate synthetic family (known type), ``--per-family`` anomalous
   series are min-max scaled as the converter scales real windows and labelled by
   ``data_gen.benchmarks.expert_label`` from the truth intervals alone; the share that gets
   the family's label is its agreement. It bounds what the ``anomaly_type`` of converted UCR,
   TSB-AD, NAB and Yahoo rows means (those sources carry no type).
2. Throughput: a UCR-layout file of ``--length`` points (a noisy sine with level shifts,
   spikes and a slow drift) is scanned and every 1000-point window built into a row
   (``data_gen.benchmarks.convert.window_rows``: scaling, expert label, plot, PNG, panel,
   ExpCoT), one process, numba warmed up before the clock starts.

    .venv/bin/python scripts/bench_convert.py [--per-family 100] [--length 200000]
"""

from __future__ import annotations

import os
import tempfile
import time
from collections import Counter
from pathlib import Path

from _common import machine_line, parse_flags  # scripts/ is on sys.path when run as a script

os.environ.setdefault("OMP_NUM_THREADS", "1")


def agreement(per_family: int, seed: int) -> list[tuple[str, str, int, Counter]]:
    """(family, true label, anomalous series, expert labels) per univariate family."""
    from data_gen.benchmarks.expert_label import expert_label
    from data_gen.benchmarks.windows import scale_window
    from data_gen.synthetic.families import (
        FAMILIES,
        generate_sample,
        label_for_family,
        resolve_parameters,
        sample_rng,
    )

    results = []
    for name, family in FAMILIES.items():
        if family.multivariate:
            continue
        parameters = resolve_parameters(name, family.length, {})
        labels: Counter = Counter()
        index = 0
        while sum(labels.values()) < per_family:
            sample = generate_sample(
                name, family.length, parameters, sample_rng(seed, "bench", name, index)
            )
            index += 1
            if sample.intervals:
                labels[expert_label(scale_window(sample.series), sample.intervals)] += 1
        results.append((name, label_for_family(name), per_family, labels))
    return results


def long_series(length: int, seed: int):
    """A real-looking series and its truth: sine + drift + noise, level shifts and spikes."""
    import numpy as np

    rng = np.random.default_rng(seed)
    t = np.arange(length)
    values = 50 + 10 * np.sin(2 * np.pi * t / 288) + t * 1e-4 + rng.normal(0, 1, length)
    start = length // 2
    values[start : start + 40] += 25
    spikes = rng.choice(length, size=length // 20_000, replace=False)
    values[spikes] += 40
    return values, start


def throughput(length: int, seed: int) -> tuple[int, float]:
    """(rows, seconds) to scan and build every window of one UCR-layout file."""
    from data_gen.benchmarks.convert import ConvertOptions, inventory_rows, scan
    from data_gen.expert.panel import warm_up

    warm_up()
    values, start = long_series(length, seed)
    with tempfile.TemporaryDirectory() as folder:
        name = f"001_UCR_Anomaly_Bench_{length // 4}_{start}_{start + 40}.txt"
        Path(folder, name).write_text("\n".join(f"{v:.6f}" for v in values))
        began = time.perf_counter()
        inventory = scan(folder, ConvertOptions("ucr"), progress=False)
        rows = inventory_rows(inventory)(range(len(inventory.windows)))
        return len(rows), time.perf_counter() - began


def main() -> None:
    args = parse_flags(__doc__, per_family=100, length=200_000, seed=0)
    print(machine_line())
    print("\n| family | true label | agreement | expert labels |\n|---|---|---|---|")
    agreed = total = 0
    for name, truth, count, labels in agreement(args.per_family, args.seed):
        agreed += labels[truth]
        total += count
        spread = ", ".join(f"{k} {v}" for k, v in labels.most_common())
        print(f"| {name} | {truth} | {labels[truth] / count:.2f} | {spread} |")
    print(f"| all | | {agreed / total:.3f} | {total} series |")
    rows, seconds = throughput(args.length, args.seed)
    print(
        f"\nthroughput: {rows} windows of 1000 points in {seconds:.1f} s "
        f"({rows / seconds:.1f} rows/s, {seconds / rows * 1000:.1f} ms/row)"
    )


if __name__ == "__main__":
    main()
