"""Benchmark whole-series detection: TSB-AD's metrics on a long series, and windows/s of
building the rendered window rows plus the expert's answers.

    OMP_NUM_THREADS=1 NUMBA_NUM_THREADS=1 .venv/bin/python scripts/bench_series_metrics.py \
        [--length 100000 --events 20 --detect-length 20000 --realdata ../shared/realdata]

Metrics: ``anomseer.series_metrics.tsb_ad_metrics`` on ``--length`` points with ``--events``
labelled events (1-300 points, fixed seed), for two scores: a detect-like one (a few plateaus
over and near the events, few distinct values) and white noise shifted up on the events (the
worst case: tens of thousands of runs above each threshold). Prints each part's seconds.

Detection: a ``--detect-length`` noisy sine as a plain CSV, windows of 1000 every 500 points:
seconds to build the rows (``window_rows``: scaling, the expert's calibration, ExpCoT and the
rendered plot; timed on a second pass, after the imports, the figure set-up and the per-series
calibration cache) and for the expert to answer them, as windows/s on one core. With
``--realdata``, ``anomseer detect --backend expert`` on the two TSB-AD-U files with the
published table, and each file's VUS-PR, rank and the best detector.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
from _common import machine_line, parse_flags  # scripts/ is on sys.path when run as a script

from anomseer.series_metrics import (
    auc_pr,
    auc_roc,
    best_over_thresholds,
    best_standard_f1,
    find_length_rank,
    vus,
)


def labels(rng: np.random.Generator, length: int, events: int) -> np.ndarray:
    label = np.zeros(length, dtype=int)
    for start in rng.choice(length - 400, size=events, replace=False):
        label[start : start + rng.integers(1, 301)] = 1
    return label


def timed(name: str, run) -> object:
    start = time.perf_counter()
    result = run()
    print(f"| {name} | {time.perf_counter() - start:.3f} |")
    return result


def bench_metrics(length: int, events: int) -> None:
    rng = np.random.default_rng(0)
    label = labels(rng, length, events)
    series = np.sin(np.arange(length) * 2 * np.pi / 80) + 0.3 * rng.standard_normal(length)
    plateaus = np.convolve(label, np.ones(200) / 200, mode="same")
    scores = {
        "detect-like (plateaus)": np.round(plateaus * 4) / 4,
        "white noise + 0.5 on events": rng.random(length) + 0.5 * label,
    }
    window = timed("find_length_rank", lambda: find_length_rank(series))
    print(f"sliding window {window}")
    for name, score in scores.items():
        print(f"\n{name}, {length} points, {events} events\n\n| part | seconds |\n|---|---:|")
        start = time.perf_counter()
        timed("AUC-PR + AUC-ROC + Standard-F1", lambda s=score: (
            auc_pr(s, label), auc_roc(s, label), best_standard_f1(s, label)
        ))  # fmt: skip
        timed(f"VUS-PR + VUS-ROC (window {window})", lambda s=score: vus(s, label, window))
        timed("PA/Event/R-based F1, Affiliation-F (100 thresholds)", lambda s=score: (
            best_over_thresholds(s, label)
        ))  # fmt: skip
        print(f"| all nine | {time.perf_counter() - start:.3f} |")


def bench_detection(length: int) -> None:
    from anomseer.detection.run import _plans, _windows_dataset
    from anomseer.evaluation.backends.base import EvalRequest
    from anomseer.evaluation.backends.expert import ExpertBackend

    rng = np.random.default_rng(1)
    values = np.sin(np.arange(length) * 2 * np.pi / 60) + 0.1 * rng.standard_normal(length)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "series.csv"
        path.write_text("\n".join(repr(float(v)) for v in values) + "\n")
        plans = _plans([path], "plain", 1000, 500)
        backend = ExpertBackend.load()
        start = time.perf_counter()
        _windows_dataset(plans, 1000, 500)  # with the imports, figure set-up and calibration
        cold = time.perf_counter() - start
        start = time.perf_counter()
        dataset = _windows_dataset(plans, 1000, 500)
        built = time.perf_counter() - start
        rows = list(dataset.select_columns(["id", "length", "series", "expert_thresholds"]))
        requests = [
            EvalRequest(r["id"], r["length"], r["series"], expert_thresholds=r["expert_thresholds"])
            for r in rows
        ]
        start = time.perf_counter()
        backend.generate(requests)
        answered = time.perf_counter() - start
    count = len(rows)
    print(f"\ndetection, {length} points, {count} windows of 1000 every 500\n")
    print("| step | seconds | windows/s |\n|---|---:|---:|")
    print(f"| build rows, first pass (+ imports, calibration) | {cold:.2f} | {count / cold:.1f} |")
    print(f"| build rows (render, ExpCoT) | {built:.2f} | {count / built:.1f} |")
    print(f"| expert answers | {answered:.2f} | {count / answered:.1f} |")
    print(f"| both | {built + answered:.2f} | {count / (built + answered):.1f} |")


def bench_tsb_ad_u(realdata: Path) -> None:
    from anomseer.detection import detect

    folder = realdata / "tsb-ad-u"
    files = sorted((folder / "TSB-AD-U").glob("*.csv"))
    with tempfile.TemporaryDirectory() as out:
        metrics = detect(
            files,
            "expert",
            out,
            compare_tsb_ad=folder / "uni_mergedTable_VUS-PR.csv",
            figures=False,
            progress=False,
        )
    ranked = {row["file"]: row for row in metrics["tsb_ad_comparison"]["series"]}
    print("\n| file | sliding window | expert VUS-PR | rank of 33 | best detector (VUS-PR) |")
    print("|---|---:|---:|---:|---|")
    for entry in metrics["series"]:
        row = ranked.get(entry["file"])
        rank = f"{row['rank']}" if row else "not in the table"
        best = f"{row['best']} ({row['best_VUS-PR']:.3f})" if row else "–"
        print(
            f"| {entry['file']} | {entry['sliding_window']} | {entry['VUS-PR']:.3f} | {rank} | "
            f"{best} |"
        )


def main() -> None:
    args = parse_flags(
        __doc__, length=100_000, events=20, detect_length=20_000, realdata=("", "folder")
    )
    print(machine_line())
    bench_metrics(args.length, args.events)
    bench_detection(args.detect_length)
    if args.realdata:
        bench_tsb_ad_u(Path(args.realdata))


if __name__ == "__main__":
    main()
