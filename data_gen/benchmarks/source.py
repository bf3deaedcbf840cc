"""What every benchmark reader returns, and the small parsers they share.

A reader turns one file into :class:`SourceSeries` (values plus truth as half-open index
intervals over the whole series) or raises :class:`SourceError` with a reason a person can
act on; the converter lists such files instead of stopping.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from anomseer.intervals import mask_to_intervals, merge_intervals


class SourceError(ValueError):
    """A file that does not follow its benchmark's layout; the message says what is wrong."""


@dataclass(frozen=True)
class ReadOptions:
    """Reader settings that change what a file means (hashable: readers are cached)."""

    split: str = "eval"
    """Split folder of the pickled layouts (``<type>/<split>/data.pkl``)."""
    ucr_index: str = "0-half-open"
    """How the UCR file name's anomaly start and end count (see ``data_gen.benchmarks.ucr``)."""


@dataclass(frozen=True)
class SourceSeries:
    """One series of a source file. ``values`` is ``(length,)`` or ``(variates, length)`` with
    NaN for missing points; ``intervals`` are half-open over the whole series; ``variates``
    the anomalous variate ids of a multivariate series; ``anomaly_type`` one of the protocol's
    labels when the source says it, None when the source has no type; ``index`` the series'
    position in its file (0 for single-series files)."""

    values: np.ndarray
    family: str
    intervals: list[tuple[int, int]] = field(default_factory=list)
    variates: list[int] = field(default_factory=list)
    anomaly_type: str | None = None
    index: int = 0
    reference_end: int = 0
    """The source's published anomaly-free part is ``[0, reference_end)`` (UCR and TSB-AD
    train parts, NAB's probationary period): the ``train`` split's windows and the expert's
    calibration come from it."""
    eval_start: int = 0
    """Where the evaluated part starts: windows of any split but ``train`` start here."""
    time_gaps: list[tuple[int, float]] = field(default_factory=list)
    """Irregular sampling: ``(i, steps)`` where the time from point ``i - 1`` to point ``i``
    is ``steps`` typical steps instead of one (0 for a repeated timestamp); see
    :func:`irregular_steps`."""

    @property
    def length(self) -> int:
        return int(self.values.shape[-1])

    @property
    def multivariate(self) -> bool:
        return self.values.ndim == 2


GAP_RATIO = 1.5
"""A step counts as a gap when it is this many typical steps or more."""


def irregular_steps(times: np.ndarray) -> list[tuple[int, float]]:
    """``(i, steps)`` for every step ``times[i] - times[i - 1]`` that is a gap (at least
    ``GAP_RATIO`` typical steps, the median) or not positive (repeated or out of order)."""
    if times.size < 3:
        return []
    steps = np.diff(times).astype(float)
    typical = float(np.median(steps))
    if typical <= 0:
        return []
    ratio = steps / typical
    odd = np.flatnonzero((ratio >= GAP_RATIO) | (steps <= 0))
    return [(int(i) + 1, round(float(ratio[i]), 2)) for i in odd]


def read_csv_columns(path: Path, columns: Sequence[str]) -> dict[str, list[str]]:
    """The text of ``columns`` of a CSV file with a header row (names stripped of spaces)."""
    with open(path, newline="", encoding="utf-8") as stream:
        rows = csv.reader(stream)
        header = [name.strip() for name in next(rows, [])]
        if not header:
            raise SourceError("the file is empty")
        missing = [name for name in columns if name not in header]
        if missing:
            raise SourceError(
                f"no {', '.join(repr(m) for m in missing)} column (the header has "
                f"{', '.join(repr(h) for h in header)})"
            )
        positions = [header.index(name) for name in columns]
        values: list[list[str]] = [[] for _ in columns]
        for line, row in enumerate(rows, start=2):
            if not row:
                continue
            if len(row) != len(header):
                raise SourceError(
                    f"line {line} has {len(row)} fields; the header has {len(header)}"
                )
            for column, position in zip(values, positions, strict=True):
                column.append(row[position])
    if not values[0]:
        raise SourceError("the file has a header but no rows")
    return dict(zip(columns, values, strict=True))


def parse_numbers(texts: Sequence[str], what: str, first_line: int = 2) -> np.ndarray:
    """Floats from text; empty fields and ``nan`` are missing (NaN), infinities are refused."""
    numbers = np.empty(len(texts))
    for i, text in enumerate(texts):
        text = text.strip()
        try:
            number = float(text) if text else math.nan
        except ValueError:
            raise SourceError(
                f"{what} on line {first_line + i} is not a number: {text[:40]!r}"
            ) from None
        if math.isinf(number):
            raise SourceError(f"{what} on line {first_line + i} is infinite")
        numbers[i] = number
    return numbers


def parse_labels(texts: Sequence[str], what: str, first_line: int = 2) -> np.ndarray:
    """A boolean anomaly mask from 0/1 text (``1.0`` and ``0.0`` too)."""
    numbers = parse_numbers(texts, what, first_line)
    bad = np.flatnonzero(~np.isin(numbers, (0.0, 1.0)))
    if bad.size:
        raise SourceError(
            f"{what} on line {first_line + int(bad[0])} is {texts[bad[0]].strip()!r}; "
            "labels are 0 or 1"
        )
    return numbers == 1.0


def labelled_csv_series(
    path: Path, value: str, label: str, family: str, **fields: int
) -> SourceSeries:
    """One series from a CSV with a header: the numbers of column ``value`` and the 0/1 labels
    of column ``label`` (runs of 1 become half-open intervals); ``fields`` go to the series."""
    columns = read_csv_columns(path, (value, label))
    values = parse_numbers(columns[value], value)
    mask = parse_labels(columns[label], label)
    return SourceSeries(values, family, mask_to_intervals(mask), **fields)


def truth_intervals(items: object, length: int) -> list[tuple[int, int]]:
    """Truth from a pickled layout: integers are points ``p -> [p, p+1)``, pairs are half-open
    ``[start, end)``; checked against the series length, sorted and merged."""
    if not isinstance(items, (list, tuple, np.ndarray)):
        raise SourceError(
            f"anomalies must be a list of indices or [start, end) pairs, got {items!r:.60}"
        )
    spans = []
    for item in items:
        if _is_index(item):
            start, end = int(item), int(item) + 1
        elif (
            isinstance(item, (list, tuple, np.ndarray))
            and len(item) == 2
            and all(_is_index(v) for v in item)
        ):
            start, end = int(item[0]), int(item[1])
        else:
            raise SourceError(f"anomaly {item!r:.60} is neither an index nor a [start, end) pair")
        if not 0 <= start < end <= length:
            raise SourceError(f"anomaly [{start}, {end}) does not fit a series of {length} points")
        spans.append((start, end))
    return merge_intervals(spans)


def _is_index(value: object) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))
