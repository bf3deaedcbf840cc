"""Evaluation data: the id check that keeps resumable
predictions keyed one row each (loading is :mod:`anomseer.dataset_loading`)."""

from __future__ import annotations

from collections import Counter

from anomseer.errors import UserInputError


def check_unique_ids(ids: list[str], data: object) -> None:
    """Ids key the resumable predictions, so they must be unique."""
    repeated = [i for i, count in Counter(ids).items() if count > 1]
    if repeated:
        duplicate = repeated[0]
        raise UserInputError(
            f"dataset {data} repeats the id {duplicate!r}; every row needs a unique id"
        )
