"""The one way tests write a dataset: rows in the ``anomseer gen`` row format (its own
``row_features``) saved as ``FOLDER/data/<split>-00000-of-00001.parquet``, the layout gen
writes. A test that needs the generator itself builds a split with ``data_gen.build``."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    from PIL import Image


def save_rows(
    folder: str | Path,
    rows: list[dict],
    split: str = "eval",
    multivariate: bool = False,
    drop: Sequence[str] = (),
) -> Path:
    """Write ``rows`` as one shard of ``split`` in ``folder``; ``drop`` removes columns (to build
    bad input). Returns ``folder``."""
    from datasets import Dataset

    from anomseer.columns import row_features

    dataset = Dataset.from_list(rows, features=row_features(multivariate))
    target = Path(folder) / "data" / f"{split}-00000-of-00001.parquet"
    target.parent.mkdir(parents=True, exist_ok=True)
    dataset.remove_columns(list(drop)).to_parquet(str(target))
    return Path(folder)


def generate_tiny(
    folder: str | Path, split: str, num_per_family: int, seed: int | None = None
) -> Path:
    """A ``split`` of the ``tiny`` preset written by the generator itself (``anomseer gen``'s
    rows, ExpCoT included), with the preset's seed unless ``seed`` is given. Returns
    ``folder``."""
    from data_gen.build import build_split
    from data_gen.presets import load_preset

    preset = load_preset("tiny")
    build_split(preset, split, folder, seed=seed, num_per_family=num_per_family, progress=False)
    return Path(folder)


def make_row(
    id: str,
    family: str,
    label: str,
    series: np.ndarray,
    image: Image.Image,
    expcot: str,
    intervals: Sequence[Sequence[int]] = (),
    variates: Sequence[int] = (),
) -> dict:
    """One row in gen's format for a series whose truth the test knows: the prompt for its
    length (and variate count), the completion ``format_answer`` writes with ``expcot``."""
    from anomseer.protocol import build_messages, format_answer

    multivariate = series.ndim == 2
    answer = format_answer(
        list(intervals), label, think=expcot, variates=list(variates) if multivariate else None
    )
    return {
        "id": id,
        "family": family,
        "anomaly_type": label,
        "length": series.shape[-1],
        "series": series.tolist(),
        "intervals": [list(span) for span in intervals],
        "variates": list(variates),
        "image": image,
        "prompt": build_messages(series.shape[-1], series.shape[0] if multivariate else None),
        "completion": [{"role": "assistant", "content": [{"type": "text", "text": answer}]}],
        "expcot": expcot,
    }
