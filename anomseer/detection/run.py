"""``detect``: long series -> overlapping windows rendered as ``anomseer convert`` renders real
data -> the evaluation runner (any backend; resumable, progress bar, clean interrupt) -> one
score per point (``anomseer.detection.combine``) -> TSB-AD's metrics per series.

Writes into ``out``: ``windows/`` (the runner's run over the windows: ``predictions.jsonl``,
its window-level ``metrics.json`` and ``report.md``), ``scores/<series>.csv`` (``score`` and,
when the file has labels, ``label`` per point), ``figures/<series>.png``, ``intervals.json``,
``report.md`` and, last, ``metrics.json``. Rerunning the same command resumes: windows already
answered are not asked again.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from anomseer.atomic_files import write_atomic
from anomseer.detection.combine import (
    WindowAnswers,
    detected_intervals,
    interval_classes,
    point_scores,
)
from anomseer.detection.inputs import InputFile, locate
from anomseer.errors import OptionError, UserInputError
from anomseer.intervals import intervals_to_mask
from anomseer.series_metrics import (
    METRIC_KEYS,
    THRESHOLD_KEYS,
    binary_metrics,
    find_length_rank,
    tsb_ad_metrics,
)
from data_gen.benchmarks.convert import MIN_WINDOW, ConvertOptions, WindowRef
from data_gen.benchmarks.windows import window_offsets

WINDOWS_DIR = "windows"
SCORES_DIR = "scores"
FIGURES_DIR = "figures"
INTERVALS_FILE = "intervals.json"
METRICS_FILE = "metrics.json"
REPORT_FILE = "report.md"
SPLIT = "detect"
SCORE_RULE = (
    "score = mean over the windows covering a point of the share of that window's completions "
    "whose answer marks the point (failed or invalid answers mark nothing); detected intervals "
    "are the runs scoring at least the threshold, each labelled by the most common label of the "
    "answers overlapping it"
)


@dataclass(frozen=True)
class SeriesPlan:
    """One series of one input file and its windows (ids ``<key>/<offset>``)."""

    input: InputFile
    index: int
    key: str
    values: np.ndarray
    truth: list[tuple[int, int]]
    labelled: bool
    refs: tuple[WindowRef, ...]

    def window_id(self, ref: WindowRef) -> str:
        return f"{self.key}/{ref.offset}"


def detect(
    inputs: Sequence[str | os.PathLike],
    backend: str,
    out: str | os.PathLike,
    *,
    model: str | None = None,
    format: str | None = None,
    window: int = 1000,
    stride: int | None = None,
    threshold: float = 0.5,
    batch_size: int | None = None,
    compare_tsb_ad: str | os.PathLike | None = None,
    figures: bool = True,
    progress: bool = True,
    **options: Any,
) -> dict:
    """Detect anomalies in every series of ``inputs`` with ``backend`` and write ``out``.

    Windows of ``window`` points start every ``stride`` points (default half a window) plus one
    ending at the last point; ``options`` go to the backend (e.g. ``n``, ``temperature``).
    ``compare_tsb_ad`` is TSB-AD's published per-series VUS-PR table. Returns the metrics.
    """
    from anomseer.evaluation import evaluate

    stride = window // 2 if stride is None else stride
    _check_options(window, stride, threshold)
    if compare_tsb_ad is not None:
        from anomseer.detection.compare import read_table

        read_table(compare_tsb_ad)  # a bad table fails before any window is asked
    plans = _plans(inputs, format, window, stride)
    dataset = _windows_dataset(plans, window, stride)
    out = Path(out)
    evaluate(
        dataset,
        SPLIT,
        backend,
        out / WINDOWS_DIR,
        model=model,
        batch_size=batch_size,
        figures=False,
        progress=progress,
        **options,
    )
    answers = _window_answers(out / WINDOWS_DIR, plans)
    run = {
        "backend": backend,
        "model": model,
        "options": options,
        "window": window,
        "stride": stride,
        "threshold": threshold,
    }
    return _finish(out, plans, answers, run, threshold, compare_tsb_ad, figures)


def _check_options(window: int, stride: int, threshold: float) -> None:
    if window < MIN_WINDOW:
        raise OptionError(f"$o must be at least {MIN_WINDOW} points, got {window}", o="window")
    if not 1 <= stride <= window:
        raise OptionError(
            f"$o must be between 1 and the window ({window}), got {stride}", o="stride"
        )
    if not 0 < threshold <= 1:
        raise OptionError(f"$o must be in (0, 1], got {threshold}", o="threshold")


def _plans(
    inputs: Sequence[str | os.PathLike], format: str | None, window: int, stride: int
) -> list[SeriesPlan]:
    if not inputs:
        raise OptionError("give at least one file with $o", o="input")
    plans: list[SeriesPlan] = []
    for path in inputs:
        source = locate(path, format)
        found = source.series()
        for index, series in enumerate(found):
            key = source.stem if len(found) == 1 else f"{source.stem}_{index}"
            if series.length < MIN_WINDOW:
                raise UserInputError(
                    f"{path}: series {index} has {series.length} points; detect needs at least "
                    f"{MIN_WINDOW}"
                )
            length = min(window, series.length)
            refs = tuple(
                WindowRef(0, index, offset, length)
                for offset in window_offsets(series.length, window, stride)
            )
            labelled = source.format != "plain" or bool(series.intervals)
            plans.append(
                SeriesPlan(source, index, key, series.values, series.intervals, labelled, refs)
            )
    keys = [plan.key for plan in plans]
    repeated = sorted({k for k in keys if keys.count(k) > 1})
    if repeated:
        raise UserInputError(f"two inputs share the name {repeated[0]!r}; rename one")
    if len({plan.values.ndim for plan in plans}) > 1:
        raise UserInputError("detect takes univariate or multivariate files in one run, not both")
    return plans


def _windows_dataset(plans: list[SeriesPlan], window: int, stride: int):
    """The windows as converted dataset rows (rendered as ``anomseer convert`` renders them)."""
    from datasets import Dataset, DatasetInfo

    from anomseer.columns import converted_features
    from data_gen.benchmarks.convert import THRESHOLD_NAMES, window_rows

    rows = []
    styles = set()
    for plan in plans:
        options = ConvertOptions(format=plan.input.format, window=window)
        styles.add((options.effective_scale, options.effective_style))
        built = window_rows(
            plan.input.source,
            plan.refs,
            SPLIT,
            options.effective_scale,
            options.effective_style,
            range(len(plan.refs)),
        )
        for ref, row in zip(plan.refs, built, strict=True):
            row["id"] = plan.window_id(ref)
            rows.append(row)
    name = f"anomseer detect: window {window}, stride {stride}, scale/style {sorted(styles)}"
    features = converted_features(plans[0].values.ndim == 2, THRESHOLD_NAMES)
    return Dataset.from_list(
        rows, features=features, info=DatasetInfo(dataset_name=name, features=features)
    )


def _window_answers(run_dir: Path, plans: list[SeriesPlan]) -> dict[str, list[WindowAnswers]]:
    """Each series' window answers from the runner's prediction log."""
    from anomseer.evaluation.predictions import PREDICTIONS_FILE, PredictionLog

    latest = PredictionLog(run_dir / PREDICTIONS_FILE).latest()
    by_window: dict[str, list[dict]] = {}
    for (row_id, _), record in sorted(latest.items()):
        by_window.setdefault(row_id, []).append(record)
    answers = {}
    for plan in plans:
        answers[plan.key] = []
        for ref in plan.refs:
            records = by_window.get(plan.window_id(ref), [])
            usable = [r["answer"] if r["answer"]["answer_valid"] else None for r in records]
            answers[plan.key].append(
                WindowAnswers(
                    ref.offset,
                    ref.length,
                    [[tuple(s) for s in a["intervals"]] if a else [] for a in usable],
                    [a["label"] if a else None for a in usable],
                )
            )
    return answers


def _finish(
    out: Path,
    plans: list[SeriesPlan],
    answers: dict[str, list[WindowAnswers]],
    run: dict,
    threshold: float,
    compare_tsb_ad: str | os.PathLike | None,
    figures: bool,
) -> dict:
    from anomseer.detection.report import detect_report

    (out / SCORES_DIR).mkdir(parents=True, exist_ok=True)
    series_entries, found = [], []
    for plan in plans:
        length = plan.values.shape[-1]
        score = point_scores(length, answers[plan.key])
        detected = detected_intervals(score, threshold)
        classes = interval_classes(detected, answers[plan.key])
        label = intervals_to_mask(plan.truth, length).astype(int) if plan.labelled else None
        _write_scores(out / SCORES_DIR / f"{plan.key}.csv", score, label)
        if figures:
            from anomseer.detection.figure import plot_overview

            (out / FIGURES_DIR).mkdir(exist_ok=True)
            title = f"{plan.key} ({length} points, {len(plan.refs)} windows)"
            path = out / FIGURES_DIR / f"{plan.key}.png"
            plot_overview(path, title, plan.values, plan.truth, score, detected, classes, threshold)
        found.append(
            {
                "series": plan.key,
                "file": Path(plan.input.name).name,
                "intervals": [[s, e, c] for (s, e), c in zip(detected, classes, strict=True)],
            }
        )
        series_entries.append(_series_metrics(plan, score, label, detected, len(plan.refs)))
    metrics = {
        "run": json.loads(json.dumps(run)),
        "score_rule": SCORE_RULE,
        "series": series_entries,
        "overall": _overall(series_entries),
    }
    if compare_tsb_ad is not None:
        from anomseer.detection.compare import compare_with_table

        metrics["tsb_ad_comparison"] = compare_with_table(series_entries, compare_tsb_ad)
    write_atomic(out / INTERVALS_FILE, json.dumps({"series": found}, indent=1) + "\n")
    write_atomic(out / REPORT_FILE, detect_report(metrics))
    write_atomic(out / METRICS_FILE, json.dumps(metrics, indent=2, allow_nan=False) + "\n")
    return metrics


def _write_scores(path: Path, score: np.ndarray, label: np.ndarray | None) -> None:
    if label is None:
        lines = ["score", *(repr(float(v)) for v in score)]
    else:
        pairs = zip(score, label, strict=True)
        lines = ["score,label", *(f"{float(v)!r},{int(k)}" for v, k in pairs)]
    write_atomic(path, "\n".join(lines) + "\n")


def _series_metrics(
    plan: SeriesPlan,
    score: np.ndarray,
    label: np.ndarray | None,
    detected: list[tuple[int, int]],
    windows: int,
) -> dict:
    """TSB-AD's metrics of the score and the threshold-dependent ones of the detected
    intervals; None where the series has no labels or only one class."""
    values = plan.values if plan.values.ndim == 1 else plan.values[0]
    window = find_length_rank(values, rank=1)
    entry = {
        "file": Path(plan.input.name).name,
        "series": plan.key,
        "length": int(plan.values.shape[-1]),
        "windows": windows,
        "labelled": plan.labelled,
        "sliding_window": window,
    }
    scorable = label is not None and 0 < label.sum() < len(label)
    entry.update(tsb_ad_metrics(score, label, window) if scorable else dict.fromkeys(METRIC_KEYS))
    own = intervals_to_mask(detected, len(score))
    entry["intervals"] = binary_metrics(label, own) if scorable else dict.fromkeys(THRESHOLD_KEYS)
    return {k: _finite(v) for k, v in entry.items()}


def _finite(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _overall(entries: list[dict]) -> dict:
    """Means over the series that have both classes."""
    scored = [e for e in entries if e["VUS-PR"] is not None]

    def mean(values: list) -> float | None:
        kept = [v for v in values if v is not None]
        return float(np.mean(kept)) if kept else None

    overall: dict[str, Any] = {"series": len(entries), "scored_series": len(scored)}
    overall.update({k: mean([e[k] for e in scored]) for k in METRIC_KEYS})
    overall["intervals"] = {k: mean([e["intervals"][k] for e in scored]) for k in THRESHOLD_KEYS}
    return overall
