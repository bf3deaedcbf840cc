"""Evaluation data: one split of an AnomSeer dataset from a local folder or the hub, with its
columns checked before any model is loaded."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from anomseer.errors import UserInputError
from anomseer.modeling import is_hub_id

if TYPE_CHECKING:
    from datasets import Dataset

SCORING_COLUMNS = ("id", "family", "anomaly_type", "length", "intervals", "series")
"""Columns every evaluation reads (DESIGN.md); ``variates`` is read when present."""
OPTIONAL_COLUMNS = ("variates",)


def load_split(data: str | os.PathLike, split: str) -> Dataset:
    """The ``split`` of a dataset folder (parquet shards ``data/<split>-*.parquet``, or a
    ``save_to_disk`` folder) or of a hub dataset id."""
    import datasets

    path = Path(data).expanduser()
    if not path.exists() and not is_hub_id(str(data)):
        raise UserInputError(
            f"dataset {str(data)!r} does not exist; pass a folder written by 'anomseer gen' "
            "or a hub id like 'user/name'"
        )
    try:
        if path.is_dir() and (
            (path / "dataset_dict.json").is_file() or (path / "state.json").is_file()
        ):
            return _split_from_disk(datasets.load_from_disk(str(path)), data, split)
        return datasets.load_dataset(str(path) if path.exists() else str(data), split=split)
    except UserInputError:
        raise
    except ValueError as error:
        if "split" in str(error).lower():
            raise UserInputError(f"dataset {data}: {error}; pick one with --split") from None
        raise UserInputError(f"cannot read dataset {data}: {_first_line(error)}") from None
    except (OSError, datasets.exceptions.DatasetsError) as error:
        raise UserInputError(f"cannot read dataset {data}: {_first_line(error)}") from None


def _split_from_disk(loaded: object, data: object, split: str) -> Dataset:
    from datasets import DatasetDict

    if not isinstance(loaded, DatasetDict):
        return loaded
    if split not in loaded:
        raise UserInputError(
            f"dataset {data} has no split {split!r}; its splits: {', '.join(loaded)}"
        )
    return loaded[split]


def check_columns(dataset: Dataset, needed: Iterable[str], data: object, reader: str) -> None:
    """Fail with the names of the columns ``reader`` needs that the dataset lacks."""
    missing = [name for name in needed if name not in dataset.column_names]
    if missing:
        raise UserInputError(
            f"dataset {data} lacks the column(s) {', '.join(missing)} that {reader} needs; "
            f"regenerate it with 'anomseer gen' (it has: {', '.join(dataset.column_names)})"
        )


def check_unique_ids(ids: list[str], data: object) -> None:
    """Ids key the resumable predictions, so they must be unique."""
    repeated = [i for i, count in Counter(ids).items() if count > 1]
    if repeated:
        duplicate = repeated[0]
        raise UserInputError(
            f"dataset {data} repeats the id {duplicate!r}; every row needs a unique id"
        )


def _first_line(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0]
