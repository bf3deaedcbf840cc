"""Build a preset's split: sample, render, analyse, write ExpCoT and rows, shard to parquet.

Row ``k`` of a split is a pure function of (preset, split, seed, k): rows interleave the
families (row 0 is the first family's sample 0, row 1 the second family's sample 0, ...), and
each sample draws from its own generator seeded by (seed, split, family, index). Shards can
therefore be built in any order, by any number of processes, and rebuilt identically.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

from anomseer.columns import row_features
from data_gen.dataset_writer import ShardPlan, SplitSummary, write_split
from data_gen.expert.panel import warm_up
from data_gen.presets import Preset
from data_gen.render import PlotRenderer, PlotStyle
from data_gen.rows import build_row
from data_gen.synthetic.families import anomaly_type_for, generate_sample, sample_rng
from data_gen.synthetic.sample import Sample


def schedule(counts: dict[str, int]) -> list[tuple[str, int]]:
    """(family, index) of every row, families interleaved in their preset order."""
    order = []
    for index in range(max(counts.values())):
        order.extend((family, index) for family, count in counts.items() if index < count)
    return order


def make_sample(preset: Preset, split: str, seed: int, family: str, index: int) -> Sample:
    """Sample ``index`` of ``family`` in ``split``."""
    spec = preset.family(family)
    rng = sample_rng(seed, split, family, index)
    return generate_sample(family, spec.length, spec.parameters, rng)


def build_rows(
    preset: Preset, split: str, seed: int, counts: tuple[tuple[str, int], ...], indices: range
) -> list[dict]:
    """The dataset rows ``indices`` of a split (``counts`` as a tuple of pairs, so the call is
    hashable and picklable for worker processes)."""
    order = _schedule_cached(counts)
    renderer = renderer_for(preset.style)
    rows = []
    for k in indices:
        family, index = order[k]
        sample = make_sample(preset, split, seed, family, index)
        rows.append(
            build_row(
                id=f"{preset.name}/{family}/{split}/{index}",
                family=family,
                series=sample.series,
                intervals=sample.intervals,
                variates=sample.variates,
                anomaly_type=anomaly_type_for(family, sample.intervals, sample.variates),
                renderer=renderer,
                expcot_style=preset.expcot,
            )
        )
    return rows


@functools.lru_cache(maxsize=4)
def _schedule_cached(counts: tuple[tuple[str, int], ...]) -> list[tuple[str, int]]:
    return schedule(dict(counts))


@functools.lru_cache(maxsize=8)
def renderer_for(style: PlotStyle) -> PlotRenderer:
    """One renderer (and so one reused figure) per style per process."""
    return PlotRenderer(style)


def build_split(
    preset: Preset,
    split: str,
    out_dir: str | os.PathLike,
    *,
    seed: int | None = None,
    num_per_family: int | None = None,
    rows_per_shard: int | None = None,
    workers: int = 1,
    progress: bool = True,
) -> SplitSummary:
    """Write ``split`` of ``preset`` to ``out_dir`` (see ``data_gen.dataset_writer``);
    ``seed``, ``num_per_family`` and ``rows_per_shard`` override the preset's."""
    spec = preset.split(split)
    seed = spec.seed if seed is None else seed
    counts = preset.counts(split, num_per_family)
    plan = ShardPlan(split, sum(counts.values()), rows_per_shard or preset.rows_per_shard)
    make_rows = functools.partial(build_rows, preset, split, seed, tuple(counts.items()))
    description = preset.description or f"Synthetic time-series anomalies, preset {preset.name}."
    return write_split(
        Path(out_dir),
        plan,
        make_rows,
        row_features(preset.multivariate),
        preset.recipe(split, seed, counts),
        title=f"AnomSeer synthetic dataset: {preset.name}",
        description=description,
        workers=workers,
        initializer=warm_up,
        progress=progress,
    )
