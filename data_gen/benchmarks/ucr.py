"""UCR anomaly archive (Wu and Keogh, 2021): one series per text file, truth in the name.

``NNN_UCR_Anomaly_<name>_<trainEnd>_<anomStart>_<anomEnd>.txt`` holds one value per line (a
few files hold them on one line separated by spaces). The name is parsed from the right, so
``<name>`` may contain underscores. Loaders disagree on how ``anomStart`` and ``anomEnd``
count, so :data:`INDEX_CONVENTIONS` names the choices; the default reads them as 0-based and
half-open, ``[anomStart, anomEnd)``. ``[0, trainEnd)`` is the anomaly-free train part: only
the ``train`` split takes windows from it, the other splits start at ``trainEnd``.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from data_gen.benchmarks.source import ReadOptions, SourceError, SourceSeries

FAMILY = "ucr"
PATTERN = "*.txt"
FILE_DEPTH = 1
NAME = re.compile(r"^(\d+)_UCR_Anomaly_(.+)_(\d+)_(\d+)_(\d+)\.txt$")
INDEX_CONVENTIONS = {
    # name -> (shift of start, shift of end) giving 0-based half-open [start, end)
    "0-half-open": (0, 0),
    "0-inclusive": (0, 1),
    "1-half-open": (-1, -1),
    "1-inclusive": (-1, 0),
}


def find(root: Path, options: ReadOptions) -> list[Path]:
    """Every ``.txt`` file under ``root`` (names that do not parse are reported, not skipped)."""
    return sorted(root.rglob(PATTERN))


def parse_name(name: str, convention: str = "0-half-open") -> tuple[int, tuple[int, int]]:
    """``(trainEnd, (start, end))`` of a UCR file name, the anomaly as 0-based half-open."""
    match = NAME.match(name)
    if match is None:
        raise SourceError(
            "the name does not follow NNN_UCR_Anomaly_<name>_<trainEnd>_<anomStart>_<anomEnd>.txt"
        )
    train_end, start, end = (int(match.group(i)) for i in (3, 4, 5))
    shift_start, shift_end = INDEX_CONVENTIONS[convention]
    return train_end, (start + shift_start, end + shift_end)


def read(path: Path, root: Path, options: ReadOptions) -> list[SourceSeries]:
    train_end, (start, end) = parse_name(path.name, options.ucr_index)
    tokens = path.read_text(encoding="utf-8").split()
    try:
        values = np.array(tokens, dtype=float)
    except ValueError:
        bad = next(t for t in tokens if not _is_float(t))
        raise SourceError(f"holds {bad[:40]!r}, which is not a number") from None
    if values.size == 0:
        raise SourceError("the file holds no values")
    if np.isinf(values).any():
        raise SourceError(f"value {int(np.flatnonzero(np.isinf(values))[0])} is infinite")
    if not 0 <= start < end <= values.size:
        raise SourceError(
            f"the anomaly read as [{start}, {end}) ({options.ucr_index}) does not fit the "
            f"{values.size} values; check the ucr_index convention"
        )
    if not 0 < train_end <= start:
        raise SourceError(
            f"the train part [0, {train_end}) must end before the anomaly [{start}, {end})"
        )
    return [
        SourceSeries(values, FAMILY, [(start, end)], reference_end=train_end, eval_start=train_end)
    ]


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
