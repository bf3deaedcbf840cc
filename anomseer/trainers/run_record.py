"""The record every training run leaves in ``output_dir``: ``log_history.json`` (the trainer's
log history, written at each checkpoint and at the end) and ``training_curves.png`` (one panel
per logged number, at the end). Written by the main process only, atomically."""

from __future__ import annotations

import json
from pathlib import Path

from transformers import TrainerCallback

from anomseer.atomic_files import write_atomic

LOG_HISTORY_FILE = "log_history.json"
CURVES_FILE = "training_curves.png"
NOT_CURVES = frozenset({"step", "epoch", "total_flos"})
"""Logged keys that are bookkeeping, not curves."""


class RunRecordCallback(TrainerCallback):
    """Writes the log history on every save and at the end, and the curves at the end."""

    def on_save(self, args, state, control, **kwargs) -> None:
        if state.is_world_process_zero:
            write_log_history(args.output_dir, state.log_history)

    def on_train_end(self, args, state, control, **kwargs) -> None:
        if state.is_world_process_zero:
            write_log_history(args.output_dir, state.log_history)
            plot_curves(Path(args.output_dir) / CURVES_FILE, state.log_history)


def write_log_history(output_dir: str, history: list[dict]) -> None:
    folder = Path(output_dir)
    folder.mkdir(parents=True, exist_ok=True)
    write_atomic(folder / LOG_HISTORY_FILE, json.dumps(history, indent=1) + "\n")


def curves(history: list[dict]) -> dict[str, list[tuple[int, float]]]:
    """(step, value) points of every numeric key logged during training (the end-of-run
    summary, which has ``train_runtime``, is left out)."""
    points: dict[str, list[tuple[int, float]]] = {}
    for entry in history:
        if "train_runtime" in entry:
            continue
        for key, value in entry.items():
            if key in NOT_CURVES or isinstance(value, bool):
                continue
            if isinstance(value, int | float):
                points.setdefault(key, []).append((entry["step"], float(value)))
    return points


def plot_curves(path: Path, history: list[dict], columns: int = 4) -> None:
    """One small panel per curve of ``history`` against the step (an empty figure when the run
    logged nothing)."""
    from matplotlib.figure import Figure

    from anomseer.evaluation.figures import save_figure

    panels = curves(history)
    rows = max(1, -(-len(panels) // columns))
    figure = Figure(figsize=(3.2 * columns, 2.2 * rows))
    for index, (key, points) in enumerate(sorted(panels.items())):
        axes = figure.add_subplot(rows, columns, index + 1)
        axes.plot(*zip(*points, strict=True), marker=".", markersize=3, linewidth=1)
        axes.set_title(key, fontsize=8)
        axes.tick_params(labelsize=6)
    if not panels:
        figure.text(0.5, 0.5, "no numbers were logged", ha="center")
    figure.tight_layout()
    save_figure(figure, path)
