"""This run's VUS-PR beside TSB-AD's published detectors (``uni_mergedTable_VUS-PR.csv`` or
``multi_mergedTable_VUS-PR.csv``: one row per series file, one column per detector, then
columns describing the series from ``ts_len`` on)."""

from __future__ import annotations

import csv
import math
import os
from pathlib import Path

from anomseer.errors import UserInputError

FIRST_DESCRIPTION_COLUMN = "ts_len"
THIS_RUN = "this run"


def read_table(path: str | os.PathLike) -> tuple[list[str], dict[str, dict[str, float]]]:
    """The detector names and, per series file, each detector's VUS-PR."""
    path = Path(path).expanduser()
    try:
        with open(path, newline="", encoding="utf-8") as stream:
            rows = list(csv.reader(stream))
    except OSError as error:
        raise UserInputError(f"cannot read the TSB-AD table {path}: {error.strerror}") from None
    header = rows[0] if rows else []
    if not header or header[0] != "file":
        raise UserInputError(
            f"{path} is not a TSB-AD VUS-PR table (its first column must be 'file'); use "
            "uni_mergedTable_VUS-PR.csv or multi_mergedTable_VUS-PR.csv"
        )
    end = header.index(FIRST_DESCRIPTION_COLUMN) if FIRST_DESCRIPTION_COLUMN in header else None
    detectors = header[1:end]
    table = {}
    for row in rows[1:]:
        try:
            values = row[1 : 1 + len(detectors)]
            table[row[0]] = {d: float(v) for d, v in zip(detectors, values, strict=True)}
        except ValueError:
            raise UserInputError(f"{path}: the row of {row[0]!r} holds a non-number") from None
    return detectors, table


def compare_with_table(series: list[dict], path: str | os.PathLike) -> dict:
    """For each scored series whose file is in the table: its VUS-PR, its rank among the
    detectors and this run (1 = best, ties share the better rank), and the mean VUS-PR over
    those series of this run and of every detector."""
    detectors, table = read_table(path)
    shared = [s for s in series if s["file"] in table and s["VUS-PR"] is not None]
    rows = []
    for entry in shared:
        published = table[entry["file"]]
        ours = entry["VUS-PR"]
        rows.append(
            {
                "file": entry["file"],
                "VUS-PR": ours,
                "rank": 1 + sum(v > ours for v in published.values() if not math.isnan(v)),
                "of": 1 + len(published),
                "best": max(published, key=published.get),
                "best_VUS-PR": max(published.values()),
                "published": published,
            }
        )
    means = {}
    if shared:
        means[THIS_RUN] = sum(r["VUS-PR"] for r in rows) / len(rows)
        for detector in detectors:
            means[detector] = sum(r["published"][detector] for r in rows) / len(rows)
    order = sorted(means, key=means.get, reverse=True)
    return {
        "table": str(Path(path).name),
        "shared_series": len(rows),
        "series": rows,
        "mean_VUS-PR": {name: means[name] for name in order},
        "mean_rank": 1 + order.index(THIS_RUN) if shared else None,
    }
