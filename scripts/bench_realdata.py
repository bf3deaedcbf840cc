"""Benchmark: windows and the expert baseline on real benchmark files, before and after issue 16.

For each benchmark in ``shared/realdata`` (NAB, UCR, TSB-AD-U, TSB-UAD samples):

1. Windows. *Before*: the old converter's fixed grid (1000-point windows every 1000 points over
   the whole series plus one ending at the last point). *After*: ``anomseer convert``'s default
   (anomaly-aware windows over the evaluated part: after UCR's train part and NAB's
   probationary period). Counted: anomalous windows, those cutting an anomaly at an edge,
   overlapping pairs, labelled points scored twice, anomalies that fit a window with context
   but lie whole in none.
2. Expert baseline. Every window (min-max scaled as the rows are) is answered by
   ``data_gen.expert.detector.expert_detect`` and scored by
   ``anomseer.metrics.score_completion`` as the
   evaluator does: *before* with the default thresholds on the old windows, then the default
   thresholds on the new windows, then (*after*) the thresholds calibrated on the rest of the
   series (``data_gen.benchmarks.convert.window_thresholds``). Reported: the share of anomaly-free
   windows it calls normal, and the mean affiliation F1 over all windows and over the
   anomalous ones.

    .venv/bin/python scripts/bench_realdata.py [--realdata ../shared/realdata]
"""

from __future__ import annotations

import argparse
import itertools
import os
from pathlib import Path

from _common import machine_line  # scripts/ is on sys.path when run as a script

os.environ.setdefault("OMP_NUM_THREADS", "1")

BENCHMARKS = (
    ("NAB", "nab", "nab"),
    ("UCR", "ucr", "ucr"),
    ("TSB-AD-U", "tsb-ad", "tsb-ad-u/TSB-AD-U"),
    ("TSB-UAD", "tsb-uad", "tsb-uad/data"),
)
WINDOW = 1000


def windows_of(inventory, old: bool) -> dict[tuple[int, int], list[tuple[int, int]]]:
    """(file, series) -> its windows: the old grid over the whole series, or the inventory's."""
    from data_gen.benchmarks.windows import window_offsets

    found: dict[tuple[int, int], list[tuple[int, int]]] = {}
    for ref in inventory.windows:
        found.setdefault((ref.file, ref.series), []).append((ref.offset, ref.length))
    if old:
        for key in found:
            length = series_of(inventory, key).length
            size = min(WINDOW, length)
            found[key] = [(o, size) for o in window_offsets(length, WINDOW, WINDOW)]
    return found


def series_of(inventory, key):
    from data_gen.benchmarks.convert import read_file

    options = inventory.options
    name = inventory.files[key[0]]
    return read_file(options.format, inventory.root, name, options.read_options)[key[1]]


def placement(inventory, windows) -> dict[str, int]:
    """The window counts of part 1."""
    import numpy as np

    from anomseer.intervals import clip_intervals, cuts_an_anomaly
    from data_gen.benchmarks.windows import context_points

    room = WINDOW - 2 * context_points(WINDOW)
    counts = dict.fromkeys(("windows", "anomalous", "cut", "overlaps", "twice", "split"), 0)
    for key, placed in windows.items():
        series = series_of(inventory, key)
        covered = np.zeros(series.length, dtype=int)
        for offset, length in placed:
            covered[offset : offset + length] += 1
            counts["windows"] += 1
            if clip_intervals(series.intervals, offset, length):
                counts["anomalous"] += 1
                counts["cut"] += cuts_an_anomaly(series.intervals, offset, length)
        for (a, n), (b, _) in itertools.pairwise(placed):
            counts["overlaps"] += a + n > b
        for start, end in series.intervals:
            counts["twice"] += int((covered[start:end] > 1).sum())
            if end - start <= room and covered[start:end].all():
                whole = any(o <= start and end <= o + n for o, n in placed)
                counts["split"] += not whole
    return counts


def expert_scores(inventory, windows, calibrated: bool) -> tuple[float, float, float]:
    """(share of anomaly-free windows called normal, mean Aff-F1, mean Aff-F1 on anomalous)."""
    import numpy as np

    from anomseer.intervals import clip_intervals
    from anomseer.metrics import score_completion
    from anomseer.protocol import NORMAL_LABEL, format_answer
    from data_gen.benchmarks.convert import WindowRef, window_thresholds
    from data_gen.benchmarks.windows import scale_window
    from data_gen.expert.detector import expert_detect
    from data_gen.expert.panel import DEFAULT_THRESHOLDS

    options = inventory.options
    source = (options.format, inventory.root, inventory.files, options.read_options)
    normal, said_normal, f1, f1_anomalous = 0, 0, [], []
    for key, placed in windows.items():
        series = series_of(inventory, key)
        for offset, length in placed:
            ref = WindowRef(*key, offset, length)
            thresholds = window_thresholds(source, *key, ref) if calibrated else DEFAULT_THRESHOLDS
            values = scale_window(series.values[offset : offset + length])
            truth = clip_intervals(series.intervals, offset, length)
            answer = expert_detect(values, thresholds)
            text = format_answer(answer.intervals, answer.label, think="")
            _, score = score_completion(
                text,
                intervals=truth,
                anomaly_type="shapelet" if truth else NORMAL_LABEL,
                length=length,
                series=values.tolist(),
            )
            f1.append(score.aff_f1)
            if truth:
                f1_anomalous.append(score.aff_f1)
            else:
                normal += 1
                said_normal += answer.label == NORMAL_LABEL
    return said_normal / max(normal, 1), float(np.mean(f1)), float(np.mean(f1_anomalous))


def main() -> None:
    from data_gen.benchmarks.convert import ConvertOptions, scan
    from data_gen.expert.panel import warm_up

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = Path(__file__).resolve().parents[1].parent / "shared" / "realdata"
    parser.add_argument("--realdata", type=Path, default=default)
    args = parser.parse_args()
    print(machine_line())
    warm_up()
    windows_table, expert_table = [], []
    for title, fmt, folder in BENCHMARKS:
        inventory = scan(args.realdata / folder, ConvertOptions(fmt), progress=False)
        old, new = windows_of(inventory, old=True), windows_of(inventory, old=False)
        for name, placed in (("before (grid)", old), ("after (anomaly-aware)", new)):
            c = placement(inventory, placed)
            windows_table.append(
                f"| {title} | {name} | {c['windows']} | {c['anomalous']} | {c['cut']} | "
                f"{c['overlaps']} | {c['twice']} | {c['split']} |"
            )
        runs = (
            ("before: default thresholds, grid", old, False),
            ("default thresholds, anomaly-aware", new, False),
            ("after: calibrated, anomaly-aware", new, True),
        )
        for name, placed, calibrated in runs:
            normal, f1, f1_anomalous = expert_scores(inventory, placed, calibrated)
            expert_table.append(
                f"| {title} | {name} | {normal:.2f} | {f1:.3f} | {f1_anomalous:.3f} |"
            )
        print(f"{title}: done", flush=True)
    print(
        "\n| benchmark | windows | count | anomalous | cut an anomaly | overlapping pairs | "
        "labelled points scored twice | fitting anomalies split |\n|---|---|---:|---:|---:|---:|"
        "---:|---:|"
    )
    print("\n".join(windows_table))
    print(
        "\n| benchmark | expert | normal on anomaly-free | Aff-F1 all | Aff-F1 anomalous |"
        "\n|---|---|---:|---:|---:|"
    )
    print("\n".join(expert_table))


if __name__ == "__main__":
    main()
