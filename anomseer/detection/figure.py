"""The overview figure of one detected series: the whole series with the truth and the
detected intervals (labelled by class), and the per-point score under it."""

from __future__ import annotations

import os

import numpy as np

from anomseer.evaluation.figures import (
    LINE_COLOR,
    PREDICTION_COLOR,
    TRUTH_COLOR,
    save_figure,
    visible_spans,
)


def plot_overview(
    path: str | os.PathLike,
    title: str,
    values: np.ndarray,
    truth: list[tuple[int, int]],
    score: np.ndarray,
    detected: list[tuple[int, int]],
    classes: list[str],
    threshold: float,
) -> None:
    """Write the overview PNG of a series (``(length,)`` or ``(variates, length)``)."""
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    values = np.atleast_2d(values)
    length = values.shape[-1]
    figure = Figure(figsize=(14, 4.5), dpi=100)
    top, bottom = figure.subplots(2, 1, sharex=True, height_ratios=(3, 1))
    for row in values:
        top.plot(np.arange(length), row, color=LINE_COLOR, linewidth=0.6)
    for start, end in visible_spans(truth, length):
        top.axvspan(start, end, color=TRUTH_COLOR, alpha=0.25, linewidth=0)
    for (start, end), (s, e), name in zip(
        visible_spans(detected, length), detected, classes, strict=True
    ):
        top.axvspan(start, end, ymin=0.0, ymax=0.12, color=PREDICTION_COLOR, alpha=0.7)
        top.annotate(name, ((s + e) / 2, 0.13), xycoords=("data", "axes fraction"), fontsize=7)
    handles = [
        Patch(color=TRUTH_COLOR, alpha=0.25, label="truth"),
        Patch(color=PREDICTION_COLOR, alpha=0.7, label="detected"),
    ]
    top.legend(handles=handles, loc="upper right", fontsize=8)
    top.set_title(title, fontsize=10)
    bottom.plot(np.arange(length), score, color="black", linewidth=0.8)
    bottom.axhline(threshold, color=PREDICTION_COLOR, linestyle="--", linewidth=0.8)
    bottom.set_ylim(-0.05, 1.05)
    bottom.set_ylabel("score")
    bottom.set_xlabel("index")
    figure.tight_layout()
    save_figure(figure, path)
