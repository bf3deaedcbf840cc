"""The evaluation runner: dataset rows -> backend completions -> the parser and scores the
rewards use -> ``predictions.jsonl``, then ``metrics.json``, ``report.md`` and figures.

Resumable: predictions are appended per batch, a rerun answers only the rows not yet in
``predictions.jsonl``, and the outputs are computed from the records in dataset order, so a
run killed midway and rerun ends with the same ``metrics.json`` as an uninterrupted run.
``metrics.json`` is written last, atomically, only when every row has been answered.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from anomseer.atomic_files import write_atomic
from anomseer.bootstrap import BOOTSTRAP_SETTINGS, group_intervals
from anomseer.columns import OPTIONAL_SCORING_COLUMNS, SCORING_COLUMNS
from anomseer.dataset_loading import check_columns, load_split
from anomseer.errors import OptionError, UserInputError, first_line
from anomseer.evaluation.backends import (
    Backend,
    EvalRequest,
    Generation,
    backend_class,
    load_backend,
)
from anomseer.evaluation.baselines import run_baselines
from anomseer.evaluation.html_report import write_run_page
from anomseer.evaluation.predictions import PREDICTIONS_FILE, PredictionLog
from anomseer.evaluation.report import run_report
from anomseer.faithfulness.evaluation import add_faithfulness, faithfulness_fields
from anomseer.metrics import SampleScore, aggregate_scores, score_completion
from anomseer.protocol import Answer

if TYPE_CHECKING:
    from datasets import Dataset

RUN_FILE = "run.json"
METRICS_FILE = "metrics.json"
REPORT_FILE = "report.md"
FIGURES_DIR = "figures"
SAMPLES_FIGURE = "samples.png"
PER_TYPE_FIGURE = "per_type.png"
FIGURE_SAMPLES = 12

COUNTING = (
    "Means are over completions (one per series unless n > 1), each scored by "
    "anomseer.metrics.score_completion. An invalid answer scores 0 on every localisation term "
    "and stays in every mean (invalid_answers counts them). A failed request (no completion "
    "after its retries) is scored as the empty completion, i.e. as an invalid answer with no "
    "class and no valid format: it stays in every mean with 0 and is counted in both "
    "failures and invalid_answers."
)


def evaluate(
    data: str | os.PathLike | Dataset,
    split: str = "eval",
    backend: str | Backend = "hf",
    out: str | os.PathLike = "runs/eval",
    *,
    model: str | None = None,
    limit: int | None = None,
    batch_size: int | None = None,
    retry_failed: bool = False,
    figures: bool = True,
    progress: bool = True,
    **options: Any,
) -> dict:
    """Evaluate ``backend`` on the ``split`` of ``data`` and write the run into ``out``.

    ``data`` is a dataset folder, a hub id or a ``datasets.Dataset``; ``backend`` a name from
    ``BACKENDS`` (loaded with ``model`` and ``options``, e.g. ``temperature``, ``n``,
    ``max_new_tokens``, ``min_pixels``, ``base_url``) or a backend object already built.
    ``limit`` evaluates the first rows only. ``retry_failed`` asks again for the rows whose
    request failed in an earlier run. Returns the metrics (also in ``out/metrics.json``).
    """
    dataset, data_name = _open_dataset(data, split)
    cls = backend_class(backend) if isinstance(backend, str) else type(backend)
    needed = (*SCORING_COLUMNS, *cls.columns)
    check_columns(dataset, needed, data_name, f"the {cls.name} backend")
    ids = [str(i) for i in dataset["id"]]
    if limit is not None:
        if limit < 1:
            raise OptionError(f"$o must be at least 1, got {limit}", o="limit")
        ids = ids[:limit]
    check_unique_ids(ids, data_name)
    if batch_size is not None and batch_size < 1:
        raise OptionError(f"$o must be at least 1, got {batch_size}", o="batch_size")
    engine = _backend(backend, model, options)
    run = {"data": data_name, "split": split, "backend": engine.name, "settings": engine.settings()}

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    log = _open_log(out, run)
    pending = _pending(ids, log, engine.n, retry_failed)
    if pending:
        (out / METRICS_FILE).unlink(missing_ok=True)
    present = [c for c in (*needed, *OPTIONAL_SCORING_COLUMNS) if c in dataset.column_names]
    rows = dataset.select_columns(present)
    try:
        _answer(
            rows, pending, engine, log, batch_size or engine.default_batch_size, len(ids), progress
        )
    except UserInputError:
        if not log.records:  # nothing answered: leave no trace of the run
            _remove_empty_run(out)
        raise
    return _finish(out, rows, ids, log, run, engine.n, figures)


def _open_dataset(data: Any, split: str) -> tuple[Dataset, str]:
    from datasets import Dataset

    if isinstance(data, Dataset):
        return data, f"<datasets.Dataset {data.info.dataset_name or 'in memory'}>"
    path = Path(data).expanduser()
    name = str(path.resolve()) if path.exists() else str(data)
    return load_split(data, split), name


def _backend(backend: str | Backend, model: str | None, options: dict[str, Any]) -> Backend:
    if isinstance(backend, str):
        return load_backend(backend, model, **options)
    if model is not None or options:
        raise UserInputError("pass the model and options to the backend object you built")
    return backend


def _open_log(out: Path, run: dict) -> PredictionLog:
    """The run's prediction log; a folder holding another configuration's predictions is
    refused so one metrics.json never mixes two runs."""
    log = PredictionLog(out / PREDICTIONS_FILE)
    run_path = out / RUN_FILE
    canonical = json.loads(json.dumps(run))
    if log.records and run_path.is_file():
        previous = json.loads(run_path.read_text())
        if previous != canonical:
            before, now = _flat(previous), _flat(canonical)
            changed = sorted(k for k in before.keys() | now.keys() if before.get(k) != now.get(k))
            raise OptionError(
                f"{out} already holds predictions of another configuration (changed: "
                f"{', '.join(changed) or 'settings'}); pass a new $o or delete {out}",
                o="out",
            )
    write_atomic(run_path, json.dumps(canonical, indent=2) + "\n")
    return log


def _flat(run: dict) -> dict[str, Any]:
    return {**{k: v for k, v in run.items() if k != "settings"}, **run.get("settings", {})}


def _pending(ids: list[str], log: PredictionLog, n: int, retry_failed: bool) -> list[int]:
    """Dataset positions still to answer: rows without all ``n`` records (or, with
    ``retry_failed``, with a failed one)."""
    latest = log.latest()

    def done(row_id: str) -> bool:
        records = [latest.get((row_id, k)) for k in range(n)]
        return all(r is not None and not (retry_failed and r["error"]) for r in records)

    return [i for i, row_id in enumerate(ids) if not done(row_id)]


def _answer(
    rows: Dataset,
    pending: list[int],
    engine: Backend,
    log: PredictionLog,
    batch_size: int,
    total: int,
    progress: bool,
) -> None:
    """Ask the backend for the pending rows batch by batch, appending each batch's records."""
    from tqdm.auto import tqdm

    any_success = any(not record["error"] for record in log.records)
    failed = 0
    with tqdm(
        total=total,
        initial=total - len(pending),
        unit="sample",
        desc=f"eval {engine.name}",
        disable=not progress,
        dynamic_ncols=True,
    ) as bar:
        for start in range(0, len(pending), batch_size):
            batch = _read_rows(rows, pending[start : start + batch_size])
            generations = engine.generate([_request(row) for row in batch])
            failures = [g.error for g in generations if g.error]
            if not any_success and len(failures) == len(generations):
                raise UserInputError(
                    f"the {engine.name} backend failed on every row of the first batch "
                    f"(first error: {failures[0]}); nothing was recorded: fix the cause and rerun"
                )
            any_success = any_success or len(failures) < len(generations)
            log.append(
                record
                for row, generation in zip(batch, generations, strict=True)
                for record in prediction_records(row, generation, engine.n)
            )
            bar.update(len(batch))
            if failures:
                failed += len(failures)
                bar.set_postfix(failed=failed)


def _read_rows(rows: Dataset, positions: list[int]) -> list[dict]:
    """The rows at ``positions``, decoded; a row whose image cannot be decoded is named."""
    try:
        return list(rows.select(positions))
    except (OSError, ValueError):  # PIL's UnidentifiedImageError is an OSError
        pass
    ids = rows.select_columns(["id"])
    for position in positions:
        try:
            rows[position]
        except (OSError, ValueError) as error:
            raise UserInputError(
                f"dataset row {ids[position]['id']!r} (index {position}) cannot be read: "
                f"{first_line(error).split(' <')[0]}; fix or drop that row (its image must be a "
                "PNG or JPEG)"
            ) from None
    return list(rows.select(positions))


def _remove_empty_run(out: Path) -> None:
    """Remove the run record and empty prediction log of a run that answered no row, and the
    folder when nothing else is in it."""
    for name in (RUN_FILE, PREDICTIONS_FILE):
        path = out / name
        if path.is_file() and (name == RUN_FILE or path.stat().st_size == 0):
            path.unlink()
    if not any(out.iterdir()):
        out.rmdir()


def _request(row: dict) -> EvalRequest:
    return EvalRequest(
        id=str(row["id"]),
        length=int(row["length"]),
        series=row["series"],
        prompt=row.get("prompt"),
        image=row.get("image"),
        expert_thresholds=row.get("expert_thresholds"),
    )


def prediction_records(row: dict, generation: Generation, n: int) -> list[dict]:
    """The ``predictions.jsonl`` records of one row: each completion parsed and scored exactly
    as the rewards do; a failure is scored as the empty completion."""
    texts = generation.texts if generation.error is None else ("",) * n
    if len(texts) != n:
        raise RuntimeError(f"backend returned {len(texts)} completions for {row['id']}, not {n}")
    records = []
    for k, text in enumerate(texts):
        answer, score = score_completion(
            text,
            intervals=row["intervals"],
            anomaly_type=row["anomaly_type"],
            length=row["length"],
            variates=row.get("variates"),
            series=row["series"],
        )
        records.append(
            {
                "id": str(row["id"]),
                "sample": k,
                "family": row["family"],
                "anomaly_type": row["anomaly_type"],
                "type_source": row.get("type_source"),
                "truth": {"intervals": row["intervals"], "variates": row.get("variates") or []},
                "output": None if generation.error else text,
                "error": generation.error,
                "answer": _answer_dict(answer),
                "scores": score.as_dict(),
                **faithfulness_fields(text, row["series"], answer),
            }
        )
    return records


def _answer_dict(answer: Answer) -> dict:
    return {
        "intervals": [list(span) for span in answer.intervals],
        "variates": list(answer.variates),
        "label": answer.label,
        "answer_valid": answer.answer_valid,
        "format_valid": answer.format_valid,
    }


def summarize(records: Sequence[dict]) -> dict:
    """``aggregate_scores`` of the records, with failed requests counted in every group."""
    scores = [SampleScore.from_dict(record["scores"]) for record in records]
    families = [record["family"] for record in records]
    metrics = aggregate_scores(scores, families)
    failed = [bool(record["error"]) for record in records]
    metrics["overall"]["failures"] = sum(failed)
    for group in (*metrics["by_type"].values(), *metrics["by_family"].values()):
        group["failures"] = 0
    for score, family, is_failure in zip(scores, families, failed, strict=True):
        metrics["by_type"][score.truth_label]["failures"] += is_failure
        metrics["by_family"][family]["failures"] += is_failure
    _add_intervals(metrics, records, scores)
    add_faithfulness(metrics, records)
    expert_read = [s.truth_label for s, r in zip(scores, records, strict=True) if _expert_read(r)]
    metrics["expert_read_types"] = {t: expert_read.count(t) for t in sorted(set(expert_read))}
    return metrics


def _expert_read(record: dict) -> bool:
    return record.get("type_source") == "expert"


def _add_intervals(metrics: dict, records: Sequence[dict], scores: list[SampleScore]) -> None:
    """Bootstrap intervals over series of the headline metrics of every group."""
    metrics["bootstrap"] = dict(BOOTSTRAP_SETTINGS)
    metrics["overall"]["intervals"] = group_intervals(records)
    for name, group in metrics["by_type"].items():
        group["intervals"] = group_intervals(
            [r for r, s in zip(records, scores, strict=True) if s.truth_label == name]
        )
    for name, group in metrics["by_family"].items():
        group["intervals"] = group_intervals([r for r in records if r["family"] == name])


def _finish(
    out: Path, rows: Dataset, ids: list[str], log: PredictionLog, run: dict, n: int, figures: bool
) -> dict:
    """Metrics, figures and report from the records in dataset order; metrics.json last."""
    position = {row_id: i for i, row_id in enumerate(ids)}
    records = sorted(
        (r for (row_id, _), r in log.latest().items() if row_id in position),
        key=lambda r: (position[r["id"]], r["sample"]),
    )
    metrics = {
        "run": json.loads(json.dumps(run)),
        "samples": len(ids),
        "completions_per_sample": n,
        "counting": COUNTING,
        **summarize(records),
        **run_baselines(records, rows, ids),
    }
    figure_paths = _write_figures(out, rows, records, position, metrics) if figures else []
    write_atomic(out / REPORT_FILE, run_report(metrics, figure_paths))
    write_run_page(out, metrics, records, rows)
    write_atomic(out / METRICS_FILE, json.dumps(metrics, indent=2, allow_nan=False) + "\n")
    return metrics


def _write_figures(
    out: Path, rows: Dataset, records: list[dict], position: dict[str, int], metrics: dict
) -> list[str]:
    """The sample grid and the per-type bar chart; returns their paths relative to ``out``."""
    from anomseer.evaluation.figures import FigureSample, plot_per_type, plot_samples

    chosen = _figure_records(records)
    series = rows.select_columns(["series", "length"]).select([position[r["id"]] for r in chosen])
    samples = [
        FigureSample(
            id=record["id"],
            series=row["series"],
            truth_intervals=record["truth"]["intervals"],
            truth_variates=record["truth"]["variates"],
            truth_label=record["scores"]["truth_label"],
            predicted_intervals=record["answer"]["intervals"],
            predicted_variates=record["answer"]["variates"],
            predicted_label=record["answer"]["label"],
            error=record["error"],
            score=record["scores"]["localization"],
            output=record["output"],
        )
        for record, row in zip(chosen, series, strict=True)
    ]
    (out / FIGURES_DIR).mkdir(exist_ok=True)
    grid = f"{FIGURES_DIR}/{SAMPLES_FIGURE}"
    bars = f"{FIGURES_DIR}/{PER_TYPE_FIGURE}"
    plot_samples(out / grid, samples)
    plot_per_type(out / bars, metrics["by_type"])
    return [bars, grid]


def _figure_records(records: list[dict]) -> list[dict]:
    """Up to ``FIGURE_SAMPLES`` first completions, taking anomaly types in turn."""
    by_type: dict[str, list[dict]] = {}
    for record in records:
        if record["sample"] == 0:
            by_type.setdefault(record["scores"]["truth_label"], []).append(record)
    groups = list(by_type.values())
    longest = max(map(len, groups), default=0)
    interleaved = [group[rank] for rank in range(longest) for group in groups if rank < len(group)]
    return interleaved[:FIGURE_SAMPLES]


def check_unique_ids(ids: list[str], data: object) -> None:
    """Ids key the resumable predictions, so they must be unique."""
    repeated = [i for i, count in Counter(ids).items() if count > 1]
    if repeated:
        duplicate = repeated[0]
        raise UserInputError(
            f"dataset {data} repeats the id {duplicate!r}; every row needs a unique id"
        )
