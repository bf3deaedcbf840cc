"""A small SFT dataset with the exact row contract of ``anomseer gen`` whose answers the tests
know (a spiked sine and a clean one, alternating), written by
:func:`helpers.dataset_files.save_rows`."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from data_gen.synthetic.families import label_for_family
from helpers.dataset_files import make_row, save_rows

LENGTH = 1000


def _expcot(series: np.ndarray) -> str:
    """A short trace of global statistics (the real ExpCoT comes from data_gen)."""
    z = (series - series.mean()) / series.std()
    peak = int(np.argmax(np.abs(z)))
    return (
        f"The global mean is {series.mean():.2f} and the standard deviation is "
        f"{series.std():.2f}; the largest |z| is {abs(z[peak]):.1f} at index {peak}."
    )


def sft_rows(count: int, seed: int = 0) -> list[dict]:
    """``count`` rows alternating a spiked sine (``range``: global point) and a clean sine."""
    from data_gen.render import PlotRenderer

    rng = np.random.default_rng(seed)
    renderer = PlotRenderer()
    rows = []
    for index in range(count):
        t = np.arange(LENGTH)
        series = 0.5 * np.sin(2 * np.pi * 0.03 * t) + rng.normal(0, 0.02, LENGTH)
        if index % 2 == 0:
            where = int(rng.integers(100, 900))
            series[where] = 0.95
            family, intervals = "range", [[where, where + 1]]
            label = label_for_family(family)
        else:
            family, intervals, label = "point", [], "normal"
        image = renderer.render(series)
        row_id = f"fixture/{family}/train/{index}"
        rows.append(make_row(row_id, family, label, series, image, _expcot(series), intervals))
    return rows


def write_sft_dataset(
    out: str | Path, count: int = 8, split: str = "train", seed: int = 0, drop: tuple = ()
) -> Path:
    """Write ``count`` rows as ``out/data/<split>-00000-of-00001.parquet``; ``drop`` removes
    columns (to build bad input). Returns ``out``."""
    return save_rows(out, sft_rows(count, seed), split, drop=drop)
