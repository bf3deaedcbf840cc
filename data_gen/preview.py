"""A preview grid of a preset's first samples WITH their truth marked, for people to look at.

This is the one place that draws labels: truth intervals shaded red, anomalous variates drawn
red. Dataset images come from ``data_gen.render`` and never do.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from anomseer.atomic_files import atomic_open
from data_gen.build import make_sample
from data_gen.presets import Preset
from data_gen.synthetic.families import anomaly_type_for
from data_gen.synthetic.sample import Sample


def preview_samples(
    preset: Preset, split: str, seed: int | None = None, per_family: int = 2
) -> list[tuple[str, int, Sample]]:
    """(family, index, sample) for the first ``per_family`` samples of every family."""
    seed = preset.split(split).seed if seed is None else seed
    return [
        (spec.name, index, make_sample(preset, split, seed, spec.name, index))
        for spec in preset.families
        for index in range(per_family)
    ]


def draw_preview(samples: list[tuple[str, int, Sample]], path: str | os.PathLike, columns: int = 2):
    """Draw the samples in a grid (truth marked) and save it as a PNG, atomically."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    rows = -(-len(samples) // columns)
    figure = Figure(figsize=(7 * columns, 1.8 * rows), dpi=80)
    FigureCanvasAgg(figure)
    axes_grid = figure.subplots(rows, columns, squeeze=False).ravel()
    for axes, (family, index, sample) in zip(axes_grid, samples, strict=False):
        values = np.asarray(sample.series, dtype=float)
        label = anomaly_type_for(family, sample.intervals, sample.variates)
        truth = sample.variates if values.ndim == 2 else sample.intervals
        axes.set_title(f"{family} #{index}: {label} {truth}", fontsize=8, loc="left")
        axes.tick_params(labelsize=6)
        if values.ndim == 1:
            axes.plot(values, color="steelblue", linewidth=0.8)
            for start, end in sample.intervals:
                axes.axvspan(start - 0.5, end - 0.5, color="red", alpha=0.25, linewidth=0)
        else:
            spread = np.nanmax(np.abs(values)) * 2.2 or 1.0
            for variate, row in enumerate(values):
                color = "red" if variate in sample.variates else "steelblue"
                axes.plot(row - variate * spread, color=color, linewidth=0.6)
            axes.set_yticks([])
    for axes in axes_grid[len(samples) :]:
        axes.set_visible(False)
    figure.tight_layout()
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with atomic_open(target, "wb") as stream:
        figure.savefig(stream, format="png")
    return target
