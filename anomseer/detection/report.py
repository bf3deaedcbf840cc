"""``report.md`` of a detect run: the per-series TSB-AD metrics and, with a published table,
the comparison with TSB-AD's detectors."""

from __future__ import annotations

from anomseer.evaluation.report import markdown_table
from anomseer.series_metrics import METRIC_KEYS

SHOWN_DETECTORS = 10
"""Detectors listed beside this run in the comparison (the best by mean VUS-PR)."""


def detect_report(metrics: dict) -> str:
    """The Markdown report of a detect run's ``metrics``."""
    run = metrics["run"]
    lines = [
        f"# anomseer detect: {run['backend']}" + (f" ({run['model']})" if run["model"] else ""),
        "",
        f"Windows of {run['window']} points every {run['stride']} points; threshold "
        f"{run['threshold']}. Rule: {metrics['score_rule']}.",
        "",
        "Metrics as TSB-AD's `get_metrics(score, label, slidingWindow=find_length_rank(series, "
        "rank=1))` (anomseer.series_metrics); `intervals` columns score the detected intervals.",
        "",
    ]
    rows = [
        [
            e["series"],
            e["length"],
            e["sliding_window"],
            *(e[k] for k in METRIC_KEYS),
            e["intervals"]["Affiliation-F"],
        ]
        for e in metrics["series"]
    ]
    overall = metrics["overall"]
    rows.append(
        [
            "mean",
            None,
            None,
            *(overall[k] for k in METRIC_KEYS),
            overall["intervals"]["Affiliation-F"],
        ]
    )
    header = ["series", "points", "window", *METRIC_KEYS, "intervals Affiliation-F"]
    lines += [markdown_table(header, rows), ""]
    comparison = metrics.get("tsb_ad_comparison")
    if comparison:
        lines += _comparison(comparison)
    return "\n".join(lines) + "\n"


def _comparison(comparison: dict) -> list[str]:
    lines = [
        f"## Beside TSB-AD's published detectors ({comparison['table']})",
        "",
        f"{comparison['shared_series']} series of this run are in the table.",
        "",
    ]
    if not comparison["series"]:
        return lines
    rows = [
        [r["file"], r["VUS-PR"], f"{r['rank']} of {r['of']}", r["best"], r["best_VUS-PR"]]
        for r in comparison["series"]
    ]
    lines += [
        markdown_table(["file", "VUS-PR", "rank", "best detector", "its VUS-PR"], rows),
        "",
        f"Mean VUS-PR over these series (this run ranks {comparison['mean_rank']} of "
        f"{len(comparison['mean_VUS-PR'])}):",
        "",
    ]
    means = list(comparison["mean_VUS-PR"].items())
    shown = means[:SHOWN_DETECTORS]
    if not any(name == "this run" for name, _ in shown):
        shown += [(n, v) for n, v in means if n == "this run"]
    lines += [markdown_table(["detector", "mean VUS-PR"], shown), ""]
    return lines
