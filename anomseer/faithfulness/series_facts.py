"""The expert panel's analyses of one series, computed once and kept for the claims about it.

Every recomputed value comes from ``data_gen.expert`` (the functions that wrote the ExpCoT),
so a trace written from a series verifies on it exactly. Analyses are cached by the series'
bytes: the verifier, the evaluator and the reward all meet the same series many times.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from data_gen.expert.panel import Evidence
from data_gen.expert.variates import VariateEvidence

CACHE_SIZE = 256
"""Series whose analyses are kept (a TimerPO step meets each series ``num_generations`` times)."""


@dataclass(frozen=True)
class SeriesFacts:
    """A series as the claims see it: ``values`` with missing points filled, the univariate
    ``evidence`` or the multivariate ``variates`` (None where the series is too short for the
    panel), its ``length`` and ``std``."""

    values: np.ndarray
    length: int
    std: float
    evidence: Evidence | None = None
    variates: VariateEvidence | None = None


_CACHE: OrderedDict[bytes, SeriesFacts] = OrderedDict()


def series_facts(series: object) -> SeriesFacts:
    """The (cached) analyses of a 1-D or ``(variates, length)`` series; NaN = missing."""
    values = np.asarray(series, dtype=float)
    key = hashlib.blake2b(values.tobytes(), digest_size=16).digest() + repr(values.shape).encode()
    facts = _CACHE.get(key)
    if facts is None:
        facts = _analyse(values)
        _CACHE[key] = facts
        while len(_CACHE) > CACHE_SIZE:
            _CACHE.popitem(last=False)
    else:
        _CACHE.move_to_end(key)
    return facts


def _analyse(values: np.ndarray) -> SeriesFacts:
    """Run the panel (or the multivariate analysis); a series the panel refuses (too short,
    not 1-D or 2-D) keeps only its values, so only claims about the answer get checked."""
    from data_gen.expert.panel import analyze, fill_missing
    from data_gen.expert.variates import analyze_variates

    if values.ndim == 2 and values.size:
        filled = np.stack([fill_missing(row) for row in values])
        try:
            variates = analyze_variates(values)
        except ValueError:
            variates = None
        return SeriesFacts(filled, values.shape[1], float(filled.std()), variates=variates)
    filled = fill_missing(values.ravel())
    try:
        evidence = analyze(values) if values.ndim == 1 else None
    except ValueError:
        evidence = None
    return SeriesFacts(filled, filled.size, float(filled.std()) if filled.size else 0.0, evidence)
