"""Converters from real and published benchmark layouts to AnomSeer dataset rows.

One module per source layout (``ucr``, ``tsb_ad``, ``tsb_ad_m``, ``tsb_uad``, ``nab``,
``yahoo``, ``anomllm``, ``visualtimeanomaly``, ``plain``), each with
``find(root, options) -> [paths]`` and ``read(path, root, options) -> [SourceSeries]``
(raising ``SourceError`` for a file that breaks the layout), and ``FILE_DEPTH``: how many
trailing path parts name a file given directly as ``--input`` (None: the layout needs its
folder). ``data_gen.benchmarks.convert`` windows the series and writes the rows. This module
imports nothing heavy: the CLI reads :data:`FORMATS` for ``--help``.
"""

from __future__ import annotations

import importlib
from types import ModuleType

FORMATS = {
    "ucr": "UCR anomaly archive",
    "tsb-ad": "TSB-AD-U",
    "tsb-ad-m": "TSB-AD-M (multivariate)",
    "tsb-uad": "TSB-UAD .out files",
    "nab": "Numenta Anomaly Benchmark",
    "yahoo": "Yahoo S5",
    "anomllm": "AnomLLM data.pkl layout",
    "visualtimeanomaly": "VisualTimeAnomaly data.pkl layout",
    "plain": "one-column CSV or parquet (optional label column)",
}
"""Format name -> what it reads."""
UNTYPED_FORMATS = ("ucr", "tsb-ad", "tsb-ad-m", "tsb-uad", "nab", "yahoo", "plain")
"""Sources that mark where anomalies are but not their type."""
PICKLED_FORMATS = ("anomllm", "visualtimeanomaly")
DETECT_FORMATS = ("tsb-ad", "tsb-ad-m", "nab", "ucr", "tsb-uad", "plain")
"""The long-series layouts ``anomseer detect`` reads (the pickled window layouts hold no long
series)."""


def reader(name: str) -> ModuleType:
    """The reader module of a format."""
    if name not in FORMATS:
        raise KeyError(f"unknown format {name!r}; known: {', '.join(FORMATS)}")
    return importlib.import_module(f"data_gen.benchmarks.{name.replace('-', '_')}")
