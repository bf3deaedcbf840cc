"""Read the ``data.pkl`` files of the AnomLLM and VisualTimeAnomaly layouts.

Unpickling can run arbitrary code, so it happens only here, only for files the user named
with ``--input`` (a ``data.pkl`` file, or the ``<type>/<split>/data.pkl`` files under a
folder), and through an unpickler that refuses every global except the few numpy needs to
rebuild arrays and scalars: a pickle holding anything but containers, numbers, strings and
numpy arrays is rejected before any of its objects is built.
"""

from __future__ import annotations

import io
import pickle
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from data_gen.benchmarks.source import ReadOptions, SourceError, SourceSeries

DATA_FILE = "data.pkl"
FILE_DEPTH = 3
"""A ``data.pkl`` given as the input is ``<type>/<split>/data.pkl``: three path parts."""
_NUMPY_GLOBALS = {
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("_codecs", "encode"),  # bytes in protocol 0-2 pickles
}
for _core in ("numpy.core", "numpy._core"):  # numpy 1.x and 2.x module names
    _NUMPY_GLOBALS |= {
        (f"{_core}.multiarray", "_reconstruct"),
        (f"{_core}.multiarray", "scalar"),
        (f"{_core}.numeric", "_frombuffer"),
    }


class _DataUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> object:
        if (module, name) not in _NUMPY_GLOBALS:
            raise SourceError(
                f"it holds a {module}.{name} object; only lists, dicts, numbers, strings and "
                "numpy arrays are read from data.pkl, nothing else is unpickled"
            )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # numpy.core under numpy 2
            return super().find_class(module, name)


def load_data_pkl(path: Path) -> dict:
    """The dict stored in a layout's ``data.pkl`` (``series``, ``anom``, maybe ``drop_index``)."""
    try:
        data = _DataUnpickler(io.BytesIO(Path(path).read_bytes())).load()
    except SourceError:
        raise
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, IndexError) as error:
        raise SourceError(f"not a readable pickle ({type(error).__name__}: {error})") from None
    if not isinstance(data, dict) or "series" not in data or "anom" not in data:
        found = sorted(map(str, data)) if isinstance(data, dict) else type(data).__name__
        raise SourceError(f"expected a dict with 'series' and 'anom', found {found}")
    if not all(isinstance(data[key], (list, tuple, np.ndarray)) for key in ("series", "anom")):
        raise SourceError("'series' and 'anom' must be lists")
    if len(data["series"]) != len(data["anom"]):
        raise SourceError(
            f"'series' has {len(data['series'])} entries but 'anom' has {len(data['anom'])}"
        )
    return data


def find(root: Path, options: ReadOptions) -> list[Path]:
    """The ``<type>/<split>/data.pkl`` files under ``root``: files named ``data.pkl`` in a
    folder named ``options.split``. No other file is opened."""
    split = options.split
    return sorted(p for p in root.rglob(DATA_FILE) if p.parent.name == split and p.is_file())


def layout_type(path: Path, known: Sequence[str], what: str) -> str:
    """The ``<type>`` folder of ``.../<type>/<split>/data.pkl``, one of ``known`` (``what``
    names them in the error, e.g. "an AnomLLM family")."""
    if len(path.parts) < 3:
        raise SourceError(f"expected the layout <type>/<split>/{DATA_FILE}")
    name = path.parent.parent.name
    if name not in known:
        raise SourceError(f"the folder {name!r} is not {what} ({', '.join(known)})")
    return name


def read_each(
    data: dict, read_one: Callable[[int, object, object], SourceSeries]
) -> list[SourceSeries]:
    """``read_one(index, series, anom)`` for every series of a loaded ``data.pkl``; a
    ``SourceError`` names the series it is about."""
    found = []
    for index, (series, anom) in enumerate(zip(data["series"], data["anom"], strict=True)):
        try:
            found.append(read_one(index, series, anom))
        except SourceError as error:
            raise SourceError(f"series {index}: {error}") from None
    return found


def series_array(series: object) -> np.ndarray:
    """A pickled series as a new float array, a ``(length, 1)`` column flattened to
    ``(length,)``."""
    try:
        values = np.array(series, dtype=float)
    except (TypeError, ValueError):
        raise SourceError("not an array of numbers") from None
    if values.ndim == 2 and values.shape[1] == 1:
        values = values[:, 0]
    return values
