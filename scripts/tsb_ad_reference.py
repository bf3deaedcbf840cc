"""Write tests/data/tsb_ad_reference.json: TSB-AD's own metric values on synthetic series.

Runs in a throwaway environment with the ``tsb-ad`` package (it pins numpy<2, so it cannot share
the project's environment), never in CI:

    python3 -m uv venv /tmp/tsbad --python 3.11
    python3 -m uv pip install --python /tmp/tsbad/bin/python tsb-ad==1.5
    /tmp/tsbad/bin/python scripts/tsb_ad_reference.py [--realdata ../shared/realdata]

Each case stores its inputs (series, score, label, optional binary prediction) and TSB-AD's
outputs: ``find_length_rank(series, rank=1)``, ``get_metrics(score, label, slidingWindow)``
and, with a prediction, ``get_metrics_pred``'s five threshold-dependent metrics. With
``--realdata`` it adds the two TSB-AD-U files scored by ``|x[t] - x[t-1]|`` (only the file
names and the outputs are stored, never the data). ``--time`` instead times ``get_metrics`` on
the detect-like 100,000-point series of ``scripts/bench_series_metrics.py`` and prints it.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from TSB_AD.evaluation.metrics import get_metrics, get_metrics_pred
from TSB_AD.utils.slidingWindows import find_length_rank

OUT = Path(__file__).resolve().parents[1] / "tests" / "data" / "tsb_ad_reference.json"
TSB_AD_U = (
    "001_NAB_id_1_Facility_tr_1007_1st_2014.csv",
    "451_UCR_id_149_Medical_tr_3000_1st_7175.csv",
)


def labels(n: int, events: list[tuple[int, int]]) -> np.ndarray:
    label = np.zeros(n, dtype=int)
    for start, end in events:
        label[start:end] = 1
    return label


def cases(rng: np.random.Generator) -> list[dict]:
    """Synthetic series covering the definitions' corners."""
    made = []

    def add(name, series, score, label, pred=None):
        made.append({"name": name, "series": series, "score": score, "label": label, "pred": pred})

    t = np.arange(600)
    sine = np.sin(2 * np.pi * t / 37) + 0.1 * rng.standard_normal(600)
    label = labels(600, [(100, 130), (300, 305), (450, 451)])
    score = rng.random(600) + 0.8 * label
    add("sine_three_events", sine, score, label, pred=score > 0.9)

    label = labels(400, [(0, 20), (390, 400)])  # events at both ends
    score = np.round(rng.random(400) + 0.5 * label, 1)  # many ties
    add("events_at_both_ends_ties", rng.standard_normal(400), score, label, pred=score > 0.8)

    label = labels(500, [(50, 52), (55, 57), (60, 70), (200, 201), (203, 204)])  # close events
    score = np.convolve(label, np.ones(9) / 9, mode="same") + 0.05 * rng.random(500)
    add("close_events_smooth_score", np.cumsum(rng.standard_normal(500)), score, label)

    label = labels(300, [(120, 180)])
    score = rng.random(300)  # uninformative
    pred = np.zeros(300, dtype=int)
    pred[[5, 6, 7, 119, 150, 181, 250]] = 1
    add("random_score_sparse_pred", np.cos(t[:300] / 5.0), score, label, pred=pred)

    label = labels(700, [(10, 11), (340, 420), (699, 700)])  # point event at the very end
    score = np.abs(rng.standard_normal(700)) * (1 + 2 * label)
    add("point_event_at_end", np.sin(t[:700] / 11.0) ** 3, score, label, pred=score > 1.5)

    label = labels(250, [(0, 1), (100, 160)])  # point event at index 0, event hit late
    score = np.where(np.arange(250) >= 140, 1.0, 0.0) * label + 0.01 * rng.random(250)
    add("point_event_at_start", rng.standard_normal(250), score, label, pred=score > 0.5)
    return made


def reference(case: dict) -> dict:
    window = int(find_length_rank(np.asarray(case["series"]), rank=1))
    label = np.asarray(case["label"], dtype=int)
    score = np.asarray(case["score"], dtype=float)
    out = {"sliding_window": window, "metrics": get_metrics(score, label, slidingWindow=window)}
    if case["pred"] is not None:
        pred = np.asarray(case["pred"], dtype=int)
        found = get_metrics_pred(score, label, pred, slidingWindow=window)
        out["pred_metrics"] = {k: found[k] for k in list(found)[:5]}
    return out


def plain(value):
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


def timing() -> None:
    """``get_metrics`` on bench_series_metrics.py's detect-like series (same seed and steps)."""
    rng = np.random.default_rng(0)
    label = np.zeros(100_000, dtype=int)
    for start in rng.choice(100_000 - 400, size=20, replace=False):
        label[start : start + rng.integers(1, 301)] = 1
    score = np.round(np.convolve(label, np.ones(200) / 200, mode="same") * 4) / 4
    start = time.perf_counter()
    found = get_metrics(score, label, slidingWindow=80)
    print(f"get_metrics, 100,000 points: {time.perf_counter() - start:.1f} s\n{plain(found)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--realdata", type=Path, default=None)
    parser.add_argument("--time", action="store_true")
    args = parser.parse_args()
    if args.time:
        timing()
        return
    rng = np.random.default_rng(26)
    entries = []
    for case in cases(rng):
        entry = {k: v for k, v in case.items() if v is not None}
        entry.update(reference(case))
        entries.append(entry)
    if args.realdata is not None:
        for name in TSB_AD_U:
            frame = np.genfromtxt(
                args.realdata / "tsb-ad-u" / "TSB-AD-U" / name, delimiter=",", names=True
            )
            data, label = frame["Data"], frame["Label"].astype(int)
            score = np.abs(np.diff(data, prepend=data[0]))
            entry = {"name": name, "file": name, "score_rule": "abs_diff"}
            entry.update(
                reference(
                    {
                        "series": data,
                        "score": score,
                        "label": label,
                        "pred": score > np.quantile(score, 0.95),
                    }
                )
            )
            entries.append(entry)
    OUT.write_text(
        json.dumps({"tsb_ad_version": "1.5", "cases": plain(entries)}, indent=None) + "\n"
    )
    print(f"wrote {OUT} ({len(entries)} cases)")


if __name__ == "__main__":
    main()
