"""Faithfulness in ``anomseer eval``: per completion in ``predictions.jsonl``, per group in
``metrics.json`` (with bootstrap intervals over series like the headline metrics), and the
least faithful answers with their false claims in ``report.md``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from anomseer.bootstrap import SeriesScores, bootstrap_interval
from anomseer.faithfulness.verify import verify_reasoning
from anomseer.protocol import Answer

WORST_SHOWN = 5
"""Least faithful completions listed in the report, each with up to this many false claims."""


def faithfulness_fields(text: str, series: object, answer: Answer) -> dict:
    """The ``faithfulness`` (verified share, None when no claim) and ``claims`` of a record."""
    report = verify_reasoning(series, text, answer)
    return {"faithfulness": report.score, "claims": [claim.as_dict() for claim in report.claims]}


def add_faithfulness(metrics: dict, records: Sequence[Mapping]) -> None:
    """Mean faithfulness (over completions with a checkable claim), its interval and the mean
    claims per completion of every group of ``metrics``, and the least faithful answers."""
    groups = {"overall": (metrics["overall"], records)}
    for key, field in (("by_type", "truth_label"), ("by_family", "family")):
        for name, group in metrics[key].items():
            members = [r for r in records if _group_key(r, field) == name]
            groups[f"{key}/{name}"] = (group, members)
    for group, members in groups.values():
        values = np.array([_score(r) for r in members], dtype=float).reshape(-1, 1)
        scores = SeriesScores.from_values([str(r["id"]) for r in members], values)
        mean = float(scores.means()[0]) if members else float("nan")
        ((low, high),) = bootstrap_interval(scores) if members else [(np.nan, np.nan)]
        group["faithfulness"] = None if np.isnan(mean) else mean
        group["claims"] = float(np.mean([len(r.get("claims") or []) for r in members] or [0]))
        interval = None if np.isnan(low) else [float(low), float(high)]
        group.setdefault("intervals", {})["faithfulness"] = interval
    metrics["least_faithful"] = least_faithful(records)


def _group_key(record: Mapping, field: str) -> object:
    return record["scores"]["truth_label"] if field == "truth_label" else record[field]


def _score(record: Mapping) -> float:
    value = record.get("faithfulness")
    return np.nan if value is None else float(value)


def least_faithful(records: Sequence[Mapping], count: int = WORST_SHOWN) -> list[dict]:
    """The ``count`` completions with the lowest faithfulness below 1, with their false claims."""
    scored = [r for r in records if r.get("faithfulness") is not None and r["faithfulness"] < 1]
    scored.sort(key=lambda r: (r["faithfulness"], str(r["id"]), r["sample"]))
    return [
        {
            "id": r["id"],
            "sample": r["sample"],
            "faithfulness": r["faithfulness"],
            "claims": len(r["claims"]),
            "false_claims": [c for c in r["claims"] if not c["verified"]][:count],
        }
        for r in scored[:count]
    ]


def faithfulness_section(metrics: Mapping) -> list[str]:
    """The report's paragraphs on the least faithful answers (none when no answer has a false
    claim or the run predates the faithfulness check)."""
    worst = metrics.get("least_faithful")
    if not worst:
        return []
    lines = [
        "## Least faithful answers",
        "Faith = share of the checkable claims of the reasoning that hold on the series "
        "(anomseer.faithfulness.verify_reasoning: statistics, periods, slopes, positions and "
        "departures recomputed with the expert panel, and claims about the answer checked "
        "against it).",
    ]
    for entry in worst:
        lines.append(
            f"- `{entry['id']}` (completion {entry['sample']}): {entry['faithfulness']:.2f} of "
            f"{entry['claims']} claims verified; false:"
        )
        for claim in entry["false_claims"]:
            lines.append(
                f'  - {claim["kind"]}: "{_quote(claim["quote"])}" states {claim["stated"]}, '
                f"the series gives {claim['recomputed']} (tolerance {claim['tolerance']:.3g})"
            )
    return [*lines[:2], "\n".join(lines[2:])]


def _quote(text: str, limit: int = 120) -> str:
    text = " ".join(text.split()).replace("|", "\\|")
    return text if len(text) <= limit else text[: limit - 1] + "…"
