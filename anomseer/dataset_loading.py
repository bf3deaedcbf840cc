"""One split of an AnomSeer dataset (an ``anomseer gen`` folder, a ``save_to_disk`` folder or a
hub dataset) and its column check: the loading that training and evaluation share.

A local folder is read through ``datasets``' Arrow cache keyed to the folder's files as they
are now (:func:`folder_identity`): ``datasets`` alone keys the cache of a folder with a dataset
card to the folder's *name* and the card, so another folder of the same name, or the same folder
rebuilt, would return the cached rows of the first one.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from anomseer.errors import UserInputError, first_line
from anomseer.modeling import is_hub_id

if TYPE_CHECKING:
    from datasets import Dataset


def load_split(data: str | os.PathLike, split: str, split_option: str = "--split") -> Dataset:
    """The ``split`` of a dataset folder (parquet shards ``data/<split>-*.parquet``, or a
    ``save_to_disk`` folder) or of a hub dataset id. ``split_option`` names the setting that
    picks the split, for the message when the dataset has no such split."""
    import datasets

    from data_gen.dataset_writer import check_shards

    path = Path(data).expanduser()
    if not path.exists() and not is_hub_id(str(data)):
        raise UserInputError(
            f"dataset {str(data)!r} does not exist; pass a folder written by 'anomseer gen' "
            "(DIR/data/<split>-*.parquet) or a hub id like 'user/name'"
        )
    try:
        if path.is_dir() and (
            (path / "dataset_dict.json").is_file() or (path / "state.json").is_file()
        ):
            return _split_from_disk(datasets.load_from_disk(str(path)), data, split, split_option)
        if path.exists():
            check_shards(path)
            return datasets.load_dataset(str(path), split=split, description=folder_identity(path))
        return datasets.load_dataset(str(data), split=split)
    except UserInputError:
        raise
    except ValueError as error:  # unknown split, no data files
        if "split" in str(error).lower():
            raise UserInputError(
                f"dataset {data}: {first_line(error)}; pick one with {split_option}"
            ) from None
        raise UserInputError(f"cannot read dataset {data}: {first_line(error)}") from None
    except (OSError, datasets.exceptions.DatasetsError) as error:  # unreadable, hub unreachable
        raise UserInputError(f"cannot read dataset {data}: {first_line(error)}") from None


def folder_identity(folder: Path) -> str:
    """A digest of the folder's absolute path and of every file in it (relative path, size,
    modification time in ns); hidden files, such as a writer's temporaries, are left out.
    Passed to ``datasets`` as the config description, it becomes part of the cache key."""
    digest = hashlib.sha256(str(folder.resolve()).encode())
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(name for name in dirs if not name.startswith("."))
        for name in sorted(files):
            if name.startswith("."):
                continue
            path = Path(root, name)
            stat = path.stat()
            digest.update(
                f"\0{path.relative_to(folder)}\0{stat.st_size}\0{stat.st_mtime_ns}".encode()
            )
    return f"anomseer files {digest.hexdigest()}"


def _split_from_disk(loaded: object, data: object, split: str, split_option: str) -> Dataset:
    from datasets import DatasetDict

    if not isinstance(loaded, DatasetDict):
        return loaded
    if split not in loaded:
        raise UserInputError(
            f"dataset {data} has no split {split!r}; its splits: {', '.join(loaded)}; "
            f"pick one with {split_option}"
        )
    return loaded[split]


def check_columns(dataset: Dataset, needed: Iterable[str], data: object, reader: str) -> None:
    """Fail with one line naming the columns ``reader`` needs that the dataset lacks."""
    missing = [name for name in needed if name not in dataset.column_names]
    if missing:
        raise UserInputError(
            f"dataset {data} lacks the column(s) {', '.join(missing)} that {reader} needs "
            f"(found no {', '.join(repr(name) for name in missing)} column(s) among: "
            f"{', '.join(dataset.column_names)}); regenerate it with 'anomseer gen'"
        )
