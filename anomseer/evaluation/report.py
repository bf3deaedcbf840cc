"""Markdown reports: one run's tables (overall, per anomaly type, per family) and a side-by-side
comparison of several runs. Standard library only."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from pathlib import Path

from anomseer.errors import UserInputError
from anomseer.faithfulness.evaluation import faithfulness_section
from anomseer.protocol import LABELS

METRIC_COLUMNS: tuple[tuple[str, str], ...] = (
    ("count", "n"),
    ("aff_precision", "Aff-P"),
    ("aff_recall", "Aff-R"),
    ("aff_f1", "Aff-F1"),
    ("class_accuracy", "Acc"),
    ("class_macro_f1", "Macro-F1"),
    ("precision", "P"),
    ("recall", "R"),
    ("f1", "F1"),
    ("pa_f1", "PA-F1"),
    ("faithfulness", "Faith"),
    ("format_rate", "Format"),
    ("invalid_answers", "Invalid"),
    ("failures", "Failed"),
)
"""Group keys of ``metrics.json`` shown in the tables, with their column titles."""


def format_value(value: object) -> str:
    """A table cell: floats with three decimals, None (undefined) as a dash."""
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def format_estimate(value: float | None, interval: Sequence | None, signed: bool = False) -> str:
    """``0.812 [0.774, 0.849]`` (``+0.031 [+0.004, +0.058] *`` when `signed`: a difference,
    starred when its interval excludes 0); a dash when undefined, the bare value without an
    interval."""
    if value is None or math.isnan(value):
        return "–"
    spec = "+.3f" if signed else ".3f"
    if interval is None or math.isnan(interval[0]):
        return format(value, spec)
    low, high = interval
    text = f"{value:{spec}} [{low:{spec}}, {high:{spec}}]"
    return f"{text} *" if signed and (low > 0 or high < 0) else text


def interval_note(bootstrap: dict) -> str:
    """The sentence saying how the bracketed intervals were drawn."""
    return (
        f"`value [low, high]`: {bootstrap['level']:.0%} percentile-bootstrap confidence "
        f"interval over {bootstrap['over']} ({bootstrap['resamples']} resamples, seed "
        f"{bootstrap['seed']}): rerunning the evaluation on other series of the same kind "
        "would likely land inside it."
    )


def metric_cell(group: dict, key: str) -> object:
    """A group's value of `key` with its interval when ``metrics.json`` carries one."""
    interval = group.get("intervals", {}).get(key)
    if interval is None:
        return group.get(key)
    return format_estimate(group.get(key), interval)


def markdown_table(
    header: Sequence[str], rows: Sequence[Sequence[object]], text_columns: int = 1
) -> str:
    """A GitHub-flavoured Markdown table: the first ``text_columns`` left-aligned, the (numeric)
    others right-aligned."""
    align = [":---" if i < text_columns else "---:" for i in range(len(header))]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(align) + "|"]
    lines += ["| " + " | ".join(format_value(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def _group_rows(groups: dict[str, dict]) -> list[list[object]]:
    return [
        [name, *(metric_cell(group, key) for key, _ in METRIC_COLUMNS)]
        for name, group in groups.items()
    ]


def describe_run(metrics: dict) -> str:
    """``backend model`` of a run, e.g. ``hf /ckpt/timerpo`` or ``expert``."""
    run = metrics.get("run", {})
    model = run.get("settings", {}).get("model")
    return f"{run.get('backend', '?')} {model}" if model else str(run.get("backend", "?"))


def run_report(metrics: dict, figures: Sequence[str] = ()) -> str:
    """The ``report.md`` of one run: settings, tables and figure links."""
    run = metrics["run"]
    header = ["group", *(title for _, title in METRIC_COLUMNS)]
    settings = [[key, f"`{json.dumps(value)}`"] for key, value in run["settings"].items()]
    parts = [
        f"# Evaluation: {describe_run(metrics)}",
        f"Data: `{run['data']}`, split `{run['split']}`, {metrics['samples']} series, "
        f"{metrics['completions_per_sample']} completion(s) per series.",
        markdown_table(["setting", "value"], settings, text_columns=2),
        "## Overall",
        markdown_table(header, _group_rows({"overall": metrics["overall"], **_trivial(metrics)})),
        *baseline_verdicts(metrics),
        "## By anomaly type",
        markdown_table(header, _group_rows(metrics["by_type"])),
        *expert_read_note(metrics),
        "## By family",
        markdown_table(header, _group_rows(metrics["by_family"])),
        *faithfulness_section(metrics),
        "## How it is counted",
        metrics["counting"],
        "Aff = affiliation metric (Huet et al. 2022); P/R/F1 = point-wise; PA-F1 = "
        "point-adjusted F1; Acc / Macro-F1 = class accuracy and macro F1; Format = share with "
        "a valid `<think>`/`<answer>`/`<class>` format; – = undefined (e.g. affiliation on "
        "multivariate rows, which are scored on variate ids).",
    ]
    if "bootstrap" in metrics:
        parts.append(interval_note(metrics["bootstrap"]))
    if figures:
        parts.append("## Figures")
        parts += [f"![{Path(path).stem}]({path})" for path in figures]
    return "\n\n".join(parts) + "\n"


def _trivial(metrics: dict) -> dict[str, dict]:
    """The baseline groups of ``metrics.json``, named for the table."""
    return {
        f"trivial: {name.replace('_', ' ')}": g for name, g in metrics.get("baselines", {}).items()
    }


def _above(entry: dict) -> str:
    difference = format_estimate(entry["difference"], entry["interval"], signed=True)
    verdict = "above" if entry["above"] else "not above"
    return f"{difference}: {verdict}"


def baseline_verdicts(metrics: dict) -> list[str]:
    """Per localisation metric, the run against its best trivial baseline (nothing for runs
    written before baselines were computed)."""
    against = metrics.get("against_baselines")
    if not against:
        return []
    titles = {**dict(METRIC_COLUMNS), "localization": "Localization"}
    rows = [
        [
            titles.get(key, key),
            e["run"],
            e["best_baseline"].replace("_", " "),
            e["baseline"],
            _above(e),
        ]
        for key, e in against["metrics"].items()
    ]
    header = ["metric", "run", "best trivial baseline", "its value", "run − baseline"]
    return [
        "Trivial rows answer every series without looking at it (whole series, no anomaly, the "
        "run's most common answer, random intervals of the run's count and lengths averaged "
        f"over {against['random_draws']} seeded draws); their class columns do not apply. Per "
        "metric, the run against the best of them, paired bootstrap over series: *above* when "
        "the interval of the difference lies above 0.",
        markdown_table(header, rows, text_columns=1),
    ]


BEST_BASELINE_KEYS = (("aff_f1", "Aff-F1"), ("pa_f1", "PA-F1"))
"""Metrics the run comparison shows beside their best trivial baseline."""


def best_baseline_table(runs: Sequence[tuple[str, dict]]) -> list[str]:
    """Each run's affiliation and point-adjusted F1 beside its best trivial baseline (nothing
    when no run carries baselines)."""
    rows = []
    for name, metrics in runs:
        against = metrics.get("against_baselines", {}).get("metrics", {})
        cells = []
        for key, _ in BEST_BASELINE_KEYS:
            e = against.get(key)
            cells += (
                ["–"] * 3
                if e is None
                else [
                    e["run"],
                    f"{e['baseline']:.3f} ({e['best_baseline'].replace('_', ' ')})",
                    _above(e),
                ]
            )
        if against:
            rows.append([name, *cells])
    if not rows:
        return []
    header = ["run"]
    for _, title in BEST_BASELINE_KEYS:
        header += [title, f"best trivial {title}", "run − baseline"]
    return [
        "Against the best trivial baseline of each run (paired bootstrap over series; *above* "
        "when the interval lies above 0):",
        markdown_table(header, rows),
    ]


def expert_read_note(metrics: dict) -> list[str]:
    """A paragraph naming the types that are the expert's reading, not the source's (none when
    every type came from the source)."""
    counts = metrics.get("expert_read_types") or {}
    if not counts:
        return []
    listed = ", ".join(
        f"{label} ({count} of {metrics['by_type'].get(label, {}).get('count', count)} rows)"
        for label, count in counts.items()
    )
    return [
        f"**Expert-read types:** {listed}. The source marks where these anomalies are but not "
        "their type; the type is the expert panel's reading of the labelled points "
        "(`type_source` = expert), so class accuracy on them measures agreement with that "
        "heuristic, not with a true type. The localisation scores are unaffected."
    ]


def load_run(out: str | os.PathLike) -> dict:
    """The ``metrics.json`` of a finished run folder."""
    path = Path(out) / "metrics.json"
    if not Path(out).is_dir():
        raise UserInputError(
            f"run folder {str(out)!r} does not exist; pass the folder an evaluation wrote"
        )
    if not path.is_file():
        raise UserInputError(
            f"{out} has no metrics.json; finish the run by evaluating into it again"
        )
    try:
        return json.loads(path.read_text())
    except ValueError as error:
        raise UserInputError(f"{path} is not valid JSON ({error}); rerun the evaluation") from None


def compare_runs(runs: Sequence[tuple[str, dict]]) -> str:
    """Runs side by side: one row per run with the overall metrics, then the affiliation F1
    and class accuracy of each anomaly type with one column per run."""
    header = ["run", "backend / model", *(title for _, title in METRIC_COLUMNS)]
    overall = [
        [
            name,
            describe_run(metrics),
            *(metric_cell(metrics["overall"], key) for key, _ in METRIC_COLUMNS),
        ]
        for name, metrics in runs
    ]
    types = [label for label in LABELS if any(label in m["by_type"] for _, m in runs)]
    per_type = [
        [label, *(_type_cell(metrics["by_type"].get(label)) for _, metrics in runs)]
        for label in types
    ]
    parts = [
        markdown_table(header, overall, text_columns=2),
        *best_baseline_table(runs),
        "Affiliation F1 / class accuracy per anomaly type:",
        markdown_table(["anomaly type", *(name for name, _ in runs)], per_type),
    ]
    datasets = {(m["run"]["data"], m["run"]["split"], m["samples"]) for _, m in runs}
    if len(datasets) > 1:
        parts.append(
            "Note: these runs did not all evaluate the same data, split and number of series."
        )
    return "\n\n".join(parts) + "\n"


def _type_cell(group: dict | None) -> str:
    if group is None:
        return "–"
    return f"{format_value(group.get('aff_f1'))} / {format_value(group.get('class_accuracy'))}"
