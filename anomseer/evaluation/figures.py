"""Report figures (for people, so they may show the truth; dataset plots never do): a grid of
sample plots with the truth and predicted intervals overlaid, and a per-type bar chart."""

from __future__ import annotations

import io
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from anomseer.atomic_files import write_atomic
from anomseer.protocol import LABELS

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

TRUTH_COLOR = "tab:green"
PREDICTION_COLOR = "tab:red"
LINE_COLOR = "steelblue"
RAW_OUTPUT_CHARS = 70
"""Characters of the raw output shown on the plot of an answer with no valid class."""
MIN_SPAN_FRACTION = 0.004
"""Spans are drawn at least this fraction of the x-range wide, so point anomalies show."""
BAR_METRICS = (
    ("aff_f1", "affiliation F1"),
    ("class_accuracy", "class accuracy"),
    ("f1", "point F1"),
)


@dataclass(frozen=True)
class FigureSample:
    """One row's plot data: its series (one list per variate when multivariate), the truth and
    the parsed answer; ``output`` is the raw completion (shown when the answer is invalid)."""

    id: str
    series: Sequence
    truth_intervals: Sequence[Sequence[int]]
    truth_variates: Sequence[int]
    truth_label: str
    predicted_intervals: Sequence[Sequence[int]]
    predicted_variates: Sequence[int]
    predicted_label: str | None
    error: str | None
    score: float
    output: str | None = None


def plot_samples(
    path: str | os.PathLike, samples: Sequence[FigureSample], columns: int = 3
) -> None:
    """A grid of the samples: series in blue, truth shaded green over the full height,
    predicted intervals as red bands along the bottom (variate ids for multivariate rows)."""
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    rows = max(1, math.ceil(len(samples) / columns))
    figure = Figure(figsize=(5.0 * columns, 2.3 * rows + 0.4), dpi=100, layout="constrained")
    axes = figure.subplots(rows, columns, squeeze=False).ravel()
    for ax, sample in zip(axes, samples, strict=False):
        _draw_sample(ax, sample)
    for ax in axes[len(samples) :]:
        ax.set_axis_off()
    figure.legend(
        handles=[
            Patch(color=TRUTH_COLOR, alpha=0.35, label="truth"),
            Patch(color=PREDICTION_COLOR, label="prediction"),
        ],
        loc="outside upper center",
        ncols=2,
        frameon=False,
    )
    save_figure(figure, path)


def _draw_sample(ax: Axes, sample: FigureSample) -> None:
    values = np.asarray(sample.series, dtype=float)
    if values.ndim == 2:
        _draw_variates(ax, values, sample)
    else:
        length = len(values)
        ax.plot(np.arange(length), values, color=LINE_COLOR, linewidth=0.8)
        for start, end in visible_spans(sample.truth_intervals, length):
            ax.axvspan(start, end, color=TRUTH_COLOR, alpha=0.3, linewidth=0)
        for start, end in visible_spans(sample.predicted_intervals, length):
            ax.axvspan(start, end, ymin=0.0, ymax=0.12, color=PREDICTION_COLOR, linewidth=0)
        ax.set_xlim(0, length)
    predicted = sample.predicted_label or ("request failed" if sample.error else "no valid class")
    ax.set_title(
        f"{sample.id}\ntruth: {sample.truth_label} | predicted: {predicted} | "
        f"localisation {sample.score:.2f}",
        fontsize=8,
    )
    if sample.predicted_label is None and sample.output is not None:
        raw = sample.output[:RAW_OUTPUT_CHARS]
        raw += "..." if len(sample.output) > RAW_OUTPUT_CHARS else ""
        ax.text(
            0.01, 0.98, f"raw output: {raw!r}", transform=ax.transAxes, fontsize=6,
            va="top", ha="left", wrap=True, color=PREDICTION_COLOR,
            bbox={"facecolor": "white", "alpha": 0.8, "linewidth": 0},
        )  # fmt: skip
    ax.tick_params(labelsize=7)


def visible_spans(intervals: Sequence[Sequence[int]], length: int) -> list[tuple[float, float]]:
    """Intervals widened about their centre to the minimum visible width."""
    width = MIN_SPAN_FRACTION * length
    spans = []
    for start, end in intervals:
        pad = max(0.0, (width - (end - start)) / 2)
        spans.append((start - pad, end + pad))
    return spans


def _draw_variates(ax: Axes, values: np.ndarray, sample: FigureSample) -> None:
    """Variates stacked top to bottom in id order, each scaled to its own range; truth
    variates drawn green, predicted ids in red on the y axis."""
    truth, predicted = set(sample.truth_variates), set(sample.predicted_variates)
    x = np.arange(values.shape[1])
    for variate, row in enumerate(values):
        low, high = np.nanmin(row), np.nanmax(row)
        scaled = (row - low) / (high - low) if high > low else np.zeros_like(row) + 0.5
        color = TRUTH_COLOR if variate in truth else LINE_COLOR
        ax.plot(x, 0.8 * scaled - variate, color=color, linewidth=0.8)
    ax.set_yticks(-np.arange(len(values)) + 0.4, [str(v) for v in range(len(values))])
    for variate, label in enumerate(ax.get_yticklabels()):
        if variate in predicted:
            label.set_color(PREDICTION_COLOR)
            label.set_fontweight("bold")
    ax.set_xlim(0, values.shape[1])


def plot_per_type(path: str | os.PathLike, by_type: Mapping[str, Mapping]) -> None:
    """Grouped bars per anomaly type: affiliation F1, class accuracy and point F1 (a missing
    bar is an undefined score, e.g. affiliation on multivariate rows); each bar is labelled
    with its value."""
    from matplotlib.figure import Figure

    labels = [label for label in LABELS if label in by_type]
    figure = Figure(figsize=(max(6.0, 1.6 * len(labels) + 2), 3.6), dpi=100, layout="constrained")
    ax = figure.subplots()
    x = np.arange(len(labels))
    width = 0.8 / len(BAR_METRICS)
    for k, (key, title) in enumerate(BAR_METRICS):
        heights = [_number(by_type[label].get(key)) for label in labels]
        bars = ax.bar(x + (k - (len(BAR_METRICS) - 1) / 2) * width, heights, width, label=title)
        ax.bar_label(bars, fmt="%.2f", fontsize=6)  # a zero bar shows as "0.00", not as nothing
    ax.set_xticks(x, [f"{label}\n(n={by_type[label]['count']})" for label in labels], fontsize=8)
    ax.set_ylim(0, 1.0)
    ax.set_ylabel("mean per series")
    figure.legend(loc="outside upper center", fontsize=8, ncols=len(BAR_METRICS), frameon=False)
    save_figure(figure, path)


def _number(value: object) -> float:
    return math.nan if value is None else float(value)


def save_figure(figure: Figure, path: str | os.PathLike) -> None:
    """Render a figure to PNG and write it atomically."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    write_atomic(path, buffer.getvalue())
