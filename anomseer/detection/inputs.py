"""Long-series files as ``detect`` reads them: which converter format a file is in, the
folder its reader needs, and its series (``data_gen.benchmarks`` readers)."""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path

from anomseer.errors import UserInputError
from data_gen.benchmarks import DETECT_FORMATS, reader
from data_gen.benchmarks.nab import WINDOWS_FILE
from data_gen.benchmarks.source import ReadOptions, SourceError, SourceSeries

SUFFIX_FORMATS = {".txt": "ucr", ".out": "tsb-uad", ".parquet": "plain"}


@dataclass(frozen=True)
class InputFile:
    """A file to scan: its format, the root its reader needs and its name under that root."""

    format: str
    root: Path
    name: str

    @property
    def source(self) -> tuple[str, Path, tuple[str, ...], ReadOptions]:
        """The ``source`` tuple ``data_gen.benchmarks.convert.window_rows`` takes."""
        return self.format, self.root, (self.name,), ReadOptions()

    @property
    def stem(self) -> str:
        return Path(self.name).stem

    def series(self) -> list[SourceSeries]:
        """The file's series; a file that breaks its layout is a one-line error."""
        path = self.root / self.name
        try:
            return reader(self.format).read(path, self.root, ReadOptions())
        except (SourceError, OSError, UnicodeDecodeError, csv.Error) as error:
            raise UserInputError(f"{path} is not a readable {self.format} file: {error}") from None


def guess_format(path: Path) -> str:
    """The layout of a file: by suffix, else by a CSV's header (``Data,Label`` is TSB-AD-U,
    more columns ending in ``Label`` TSB-AD-M, ``timestamp,value`` NAB, anything else plain)."""
    if path.suffix in SUFFIX_FORMATS:
        return SUFFIX_FORMATS[path.suffix]
    if path.suffix != ".csv":
        raise UserInputError(
            f"{path}: cannot tell its format from the suffix {path.suffix!r}; pass --format "
            f"({', '.join(DETECT_FORMATS)})"
        )
    with open(path, newline="", encoding="utf-8") as stream:
        header = [name.strip() for name in next(csv.reader(stream), [])]
    if header == ["Data", "Label"]:
        return "tsb-ad"
    if len(header) > 2 and header[-1] == "Label":
        return "tsb-ad-m"
    if header == ["timestamp", "value"]:
        return "nab"
    return "plain"


def locate(path: str | os.PathLike, format: str | None = None) -> InputFile:
    """The input file ``path`` in ``format`` (guessed when None). A NAB file needs the NAB
    folder above it (the one holding ``labels/combined_windows.json``)."""
    given = Path(path).expanduser()
    if not given.is_file():
        raise UserInputError(f"the input {given} is not a file")
    given = given.resolve()
    chosen = format or guess_format(given)
    if chosen not in DETECT_FORMATS:
        known = ", ".join(DETECT_FORMATS)
        raise UserInputError(f"detect reads the formats {known}, not {chosen!r}")
    if chosen != "nab":
        return InputFile(chosen, given.parent, given.name)
    for root in given.parents:
        if (root / WINDOWS_FILE).is_file():
            return InputFile(chosen, root, given.relative_to(root).as_posix())
    raise UserInputError(
        f"{given}: a NAB file needs its labels; no folder above it holds {WINDOWS_FILE}"
    )
