"""``report.html``: every evaluated row of one run, or of several runs side by side, in one
self-contained page that opens from ``file://`` (nothing loaded from the network).

The rows travel as gzip-compressed JSON in base64 inside the page; its inline script
decompresses them (``DecompressionStream``), draws each row's series as an SVG thumbnail with
the truth and every run's prediction overlaid, and pages, filters and sorts them. Series are
shrunk to a min/max envelope of at most ``THUMBNAIL_BUCKETS`` buckets per variate, quantised
to 0..``LEVELS``, so 10k rows stay a few MB. Model text is untrusted: the script only ever sets
it as text, never as markup.
"""

from __future__ import annotations

import base64
import gzip
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from anomseer.atomic_files import write_atomic
from anomseer.errors import UserInputError
from anomseer.evaluation.report import describe_run, format_value
from anomseer.protocol import parse_answer

if TYPE_CHECKING:
    from datasets import Dataset

HTML_REPORT_FILE = "report.html"
TEMPLATE = Path(__file__).with_name("report_page.html")
DATA_MARK = "__ANOMSEER_DATA__"
THUMBNAIL_BUCKETS = 150
"""Buckets of the min/max envelope of a univariate thumbnail (a multivariate row's variates
share this budget)."""
LEVELS = 999
"""Thumbnail values are quantised to the integers 0..LEVELS; -1 marks a missing value."""
SCORE_KEYS = ("localization", "aff_f1", "f1", "pa_f1")
"""Per-row scores shown and sortable in the page."""

Key = tuple[str, int]


@dataclass(frozen=True)
class HtmlRun:
    """One run as the page shows it: its name, ``backend model`` line, overall metrics and
    records by (id, sample)."""

    name: str
    metrics: Mapping
    records: Mapping[Key, dict]


def envelope(values: Sequence[float], buckets: int = THUMBNAIL_BUCKETS) -> list[int]:
    """A univariate series shrunk for drawing: every value when it has at most ``2 * buckets``,
    else the min and max of each of ``buckets`` equal slices (in the order they occur), then
    scaled to 0..LEVELS over the finite range (a flat series sits at LEVELS // 2; NaN, None
    and infinities -> -1)."""
    points = np.asarray(values, dtype=float)  # None becomes NaN
    points = np.where(np.isfinite(points), points, np.nan)
    n = len(points)
    if n > 2 * buckets:
        starts = np.arange(buckets) * n // buckets
        ends = np.append(starts[1:], n)
        index = starts[:, None] + np.arange(int((ends - starts).max()))
        grid = np.where(index < ends[:, None], points[np.minimum(index, n - 1)], np.nan)
        low_at = np.argmin(np.where(np.isnan(grid), np.inf, grid), axis=1)
        high_at = np.argmax(np.where(np.isnan(grid), -np.inf, grid), axis=1)
        rows = np.arange(buckets)
        low, high = grid[rows, low_at], grid[rows, high_at]
        in_order = low_at <= high_at
        points = np.column_stack([np.where(in_order, low, high), np.where(in_order, high, low)])
        points = points.ravel()
    finite = np.isfinite(points)
    if not finite.any():
        return [-1] * len(points)
    low, high = points[finite].min(), points[finite].max()
    scaled = np.rint((points - low) * (LEVELS / (high - low))) if high > low else LEVELS // 2
    return np.where(finite, scaled, -1).astype(int).tolist()


def thumbnail(series: Sequence) -> list[list[int]]:
    """The envelope of each variate (one list for a univariate series)."""
    if series and isinstance(series[0], Sequence):
        buckets = max(10, THUMBNAIL_BUCKETS // len(series))
        return [envelope(variate, buckets) for variate in series]
    return [envelope(series)]


def _reasoning(record: dict) -> str:
    """The ``<think>`` text of the answer, else its raw output, else the request's error."""
    if record.get("error"):
        return f"request failed: {record['error']}"
    output = record.get("output") or ""
    think = parse_answer(output).think
    return think if think is not None else output


def _prediction(record: dict) -> dict:
    answer, scores = record["answer"], record["scores"]
    prediction = {
        "label": answer["label"],
        "intervals": answer["intervals"],
        "variates": answer["variates"],
        "correct": scores["class_correct"],
        "valid": answer["answer_valid"],
        "failed": bool(record.get("error")),
        "scores": {key: scores.get(key) for key in SCORE_KEYS},
        "reasoning": _reasoning(record),
    }
    for optional in ("faithfulness", "claims"):  # written by the faithfulness check, when run
        if optional in record:
            prediction[optional] = record[optional]
    return prediction


def page_rows(runs: Sequence[HtmlRun], series: Mapping[str, Sequence] | None) -> list[dict]:
    """One entry per (id, sample) any run answered, in the first run's order then the others':
    the truth, the thumbnail (None when the series is unknown) and each run's prediction (None
    where that run has no record)."""
    keys = list(dict.fromkeys(key for run in runs for key in run.records))
    rows = []
    for key in keys:
        first = next(run.records[key] for run in runs if key in run.records)
        values = series.get(key[0]) if series is not None else None
        rows.append(
            {
                "id": key[0],
                "sample": key[1],
                "family": first["family"],
                "type": first["scores"]["truth_label"],
                "type_source": first.get("type_source"),
                "truth": first["truth"],
                "length": _length(values),
                "thumbnail": thumbnail(values) if values is not None else None,
                "runs": [
                    _prediction(run.records[key]) if key in run.records else None for run in runs
                ],
            }
        )
    return rows


def _length(series: Sequence | None) -> int | None:
    """Points per variate (None for an unknown series)."""
    if series is None:
        return None
    return len(series[0]) if series and isinstance(series[0], Sequence) else len(series)


def _summary(metrics: Mapping) -> str:
    overall = metrics.get("overall", {})
    return (
        f"{overall.get('count', '?')} completions, Aff-F1 {format_value(overall.get('aff_f1'))}, "
        f"F1 {format_value(overall.get('f1'))}, Acc {format_value(overall.get('class_accuracy'))}"
        f", invalid {overall.get('invalid_answers', '?')}, failed {overall.get('failures', '?')}"
    )


def render_page(
    runs: Sequence[HtmlRun], series: Mapping[str, Sequence] | None, note: str = ""
) -> str:
    """The page's HTML: the template with the rows embedded."""
    payload = {
        "title": " vs ".join(run.name for run in runs),
        "note": note,
        "runs": [
            {
                "name": run.name,
                "description": describe_run(run.metrics),
                "summary": _summary(run.metrics),
            }
            for run in runs
        ],
        "rows": page_rows(runs, series),
    }
    data = json.dumps(payload, separators=(",", ":"), allow_nan=False).encode("utf-8")
    packed = base64.b64encode(gzip.compress(data, compresslevel=6, mtime=0)).decode("ascii")
    return TEMPLATE.read_text(encoding="utf-8").replace(DATA_MARK, packed, 1)


def write_html_report(
    path: str | os.PathLike,
    runs: Sequence[HtmlRun],
    series: Mapping[str, Sequence] | None,
    note: str = "",
) -> None:
    """Write the page atomically."""
    write_atomic(path, render_page(runs, series, note))


def series_by_id(dataset: Dataset, ids: Sequence[str]) -> dict[str, list]:
    """The ``series`` of the dataset rows whose id is in ``ids`` (only those rows' series are
    decoded: the ids are read first)."""
    wanted = set(ids)
    indices = [i for i, row_id in enumerate(dataset["id"]) if str(row_id) in wanted]
    chosen = dataset.select_columns(["id", "series"]).select(indices)
    return {str(row["id"]): row["series"] for row in chosen}


def saved_series(metrics: Mapping, ids: Sequence[str]) -> tuple[dict[str, list] | None, str]:
    """The series of a finished run read back from the dataset its ``metrics.json`` names, and
    a note for the page when that dataset cannot be read (the rows are then shown unplotted)."""
    from anomseer.dataset_loading import load_split

    run = metrics["run"]
    try:
        return series_by_id(load_split(run["data"], run["split"]), ids), ""
    except UserInputError as error:
        return None, f"No plots: the series of {describe_run(metrics)} could not be read ({error})."


def write_run_page(out: Path, metrics: Mapping, records: Sequence[dict], rows: Dataset) -> None:
    """``out/report.html`` of one finished evaluation, its series read from ``rows``."""
    by_key = {(record["id"], record["sample"]): record for record in records}
    series = series_by_id(rows, [record["id"] for record in records])
    write_html_report(
        out / HTML_REPORT_FILE, [HtmlRun(out.resolve().name, metrics, by_key)], series
    )


def write_comparison_page(
    path: str | os.PathLike,
    names: Sequence[str],
    metrics: Sequence[Mapping],
    records: Sequence[Mapping[Key, dict]],
) -> None:
    """A page with the runs side by side, row by row; the series are read back from the first
    run's dataset (the rows are shown unplotted, with a note, when it cannot be read)."""
    ids = list(dict.fromkeys(key[0] for run in records for key in run))
    series, note = saved_series(metrics[0], ids)
    runs = [HtmlRun(n, m, r) for n, m, r in zip(names, metrics, records, strict=True)]
    write_html_report(path, runs, series, note)
