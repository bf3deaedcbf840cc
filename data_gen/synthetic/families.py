"""The family registry: each family name maps to a generator, its declared parameters (a frozen
dataclass of defaults), its default length and its anomaly label; each sample is a pure
function of (family, parameters, seed, split, index)."""

from __future__ import annotations

import dataclasses
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from anomseer.errors import UserInputError
from anomseer.protocol import NORMAL_LABEL
from data_gen.synthetic import anomllm
from data_gen.synthetic import visualtimeanomaly as vta
from data_gen.synthetic.sample import Sample

MIN_LENGTH = 64
"""Shortest series a family generates (the expert analyses need a few periods)."""
IRREGULAR_PREFIX = "irregular-"
"""``irregular-<family>``: the family with a share of its points set to NaN."""
DROP_RATIOS = (0.05, 0.10, 0.15, 0.20, 0.25)
"""Default fractions of points an ``irregular-`` family sets to NaN (one drawn per series)."""
CHOICE_PARAMETERS = frozenset({"num_variates", "drop_ratio"})
"""List parameters that hold choices (one drawn per series); other lists are [low, high]."""


@dataclass(frozen=True)
class Family:
    """A generator called as ``generator(rng, length, *args, parameters)``, the parameters
    (with this family's defaults) a preset may change, the default length and the label."""

    generator: Callable[..., Sample]
    parameters: object
    length: int
    label: str
    args: tuple = ()
    multivariate: bool = False


NOISY = 0.08
"""``noise_std`` of the ``noisy-`` AnomLLM families."""

FAMILIES: dict[str, Family] = {
    # AnomLLM-style families (SPEC 2.1). The noisy and flat variants map to their base
    # family's label: the reference code left them unmapped (SPEC section 9).
    "range": Family(anomllm.range_series, anomllm.RangeParameters(), 1000, "global point"),
    "point": Family(anomllm.point_series, anomllm.PointParameters(), 1000, "contextual point"),
    "freq": Family(anomllm.freq_series, anomllm.FreqParameters(), 1000, "seasonal"),
    "trend": Family(anomllm.trend_series, anomllm.TrendParameters(), 1000, "trend"),
    "flat-trend": Family(
        anomllm.trend_series, anomllm.TrendParameters(anomaly_slope=(4.5, 6.0)), 1000, "trend"
    ),
    "noisy-point": Family(
        anomllm.point_series, anomllm.PointParameters(noise_std=NOISY), 1000, "contextual point"
    ),
    "noisy-freq": Family(
        anomllm.freq_series, anomllm.FreqParameters(noise_std=NOISY), 1000, "seasonal"
    ),
    "noisy-trend": Family(
        anomllm.trend_series, anomllm.TrendParameters(noise_std=NOISY), 1000, "trend"
    ),
    # VisualTimeAnomaly-style univariate types (SPEC 2.2).
    "vta-global": Family(vta.global_point_series, vta.GLOBAL_POINT, 400, "global point"),
    "vta-contextual": Family(
        vta.contextual_point_series, vta.CONTEXTUAL_POINT, 400, "contextual point"
    ),
    "vta-seasonal": Family(vta.seasonal_series, vta.SEASONAL, 400, "seasonal"),
    "vta-trend": Family(vta.trend_window_series, vta.TREND_WINDOW, 400, "trend"),
    "vta-shapelet": Family(vta.shapelet_series, vta.SHAPELET, 400, "shapelet"),
    # VisualTimeAnomaly-style multivariate types: whole variates replaced by another shape.
    **{
        f"vta-{shape}": Family(
            vta.variate_wise_series,
            vta.VariateParameters(),
            200,
            "shapelet",
            args=(shape,),
            multivariate=True,
        )
        for shape in vta.VARIATE_SHAPES
    },
}


def family_of(name: str) -> Family:
    """The registry entry of a family name (``irregular-`` variants share their base's)."""
    base = name.removeprefix(IRREGULAR_PREFIX)
    if base not in FAMILIES:
        known = ", ".join([*FAMILIES, f"{IRREGULAR_PREFIX}<family>"])
        raise UserInputError(f"unknown family {name!r}; known families: {known}")
    return FAMILIES[base]


def label_for_family(name: str) -> str:
    """The anomaly label of a family (``irregular-`` variants share their base's)."""
    return family_of(name).label


def anomaly_type_for(
    family: str, intervals: Sequence[Sequence[int]], variates: Sequence[int] = ()
) -> str:
    """The label of a sample of ``family``: the family's label, or ``normal`` without truth."""
    return label_for_family(family) if (len(intervals) or len(variates)) else NORMAL_LABEL


def tunable_parameters(name: str) -> dict[str, object]:
    """The parameters a preset may set for a family, with their defaults."""
    tunable = _flat(family_of(name).parameters)
    if name.startswith(IRREGULAR_PREFIX):
        tunable["drop_ratio"] = DROP_RATIOS
    return tunable


def resolve_parameters(name: str, length: int, overrides: Mapping[str, object]) -> dict:
    """Defaults merged with ``overrides``, type-checked and checked to fit in ``length``;
    raises ``UserInputError`` naming the problem."""
    defaults = tunable_parameters(name)
    unknown = sorted(set(overrides) - set(defaults))
    if unknown:
        raise UserInputError(
            f"family {name!r} has no parameter {', '.join(map(repr, unknown))}; "
            f"it takes: {', '.join(defaults)}"
        )
    resolved = dict(defaults)
    for key, value in overrides.items():
        resolved[key] = _coerce(name, key, value, defaults[key])
    _check_fits(name, length, resolved)
    return resolved


def generate_sample(name: str, length: int, parameters: Mapping, rng: np.random.Generator):
    """One sample of family ``name`` with resolved ``parameters`` (see resolve_parameters)."""
    family = family_of(name)
    arguments = {k: v for k, v in parameters.items() if k != "drop_ratio"}
    declared = _declared(family.parameters, arguments)
    sample = family.generator(rng, length, *family.args, declared)
    if not name.startswith(IRREGULAR_PREFIX):
        return sample
    ratio = float(rng.choice(np.asarray(parameters["drop_ratio"], dtype=float)))
    dropped = rng.choice(length, size=round(ratio * length), replace=False)
    series = sample.series.astype(float, copy=True)
    series[..., dropped] = np.nan
    return Sample(series, sample.intervals, sample.variates)


def _flat(parameters: object) -> dict[str, object]:
    """A parameters dataclass as one flat mapping: a nested dataclass's fields are lifted."""
    flat: dict[str, object] = {}
    for field in dataclasses.fields(parameters):
        value = getattr(parameters, field.name)
        flat.update(_flat(value) if dataclasses.is_dataclass(value) else {field.name: value})
    return flat


def _declared(defaults: object, values: Mapping[str, object]) -> object:
    """``defaults`` (a parameters dataclass) with the flat ``values`` set, nested ones too."""
    changes = {}
    for field in dataclasses.fields(defaults):
        value = getattr(defaults, field.name)
        if dataclasses.is_dataclass(value):
            changes[field.name] = _declared(value, values)
        elif field.name in values:
            changes[field.name] = values[field.name]
    return dataclasses.replace(defaults, **changes)


def sample_rng(seed: int, split: str, family: str, index: int) -> np.random.Generator:
    """The generator of one sample: independent of every other (split, family, index)."""
    key = (zlib.crc32(split.encode()), zlib.crc32(family.encode()), int(index))
    return np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=key))


def _coerce(name: str, key: str, value: object, default: object) -> object:
    problem = f"family {name!r} parameter {key!r}"
    if isinstance(default, tuple):
        if not isinstance(value, list | tuple) or not value:
            raise UserInputError(f"{problem} must be a list like {list(default)}, got {value!r}")
        if not all(_is_number(v) for v in value):
            raise UserInputError(f"{problem} must hold numbers, got {value!r}")
        if key not in CHOICE_PARAMETERS and len(value) != 2:
            raise UserInputError(f"{problem} must be a [low, high] pair, got {value!r}")
        if all(isinstance(d, int) for d in default):
            if any(int(v) != v for v in value):
                raise UserInputError(f"{problem} must hold integers, got {value!r}")
            return tuple(int(v) for v in value)
        return tuple(float(v) for v in value)
    if not _is_number(value):
        raise UserInputError(f"{problem} must be a number, got {value!r}")
    if isinstance(default, int) and not isinstance(default, bool):
        if int(value) != value:
            raise UserInputError(f"{problem} must be an integer, got {value!r}")
        return int(value)
    return float(value)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_fits(name: str, length: int, p: Mapping) -> None:
    """Reject parameters under which no anomaly (or no valid series) can be drawn."""
    if not isinstance(length, int) or length < MIN_LENGTH:
        raise UserInputError(
            f"family {name!r}: length must be an integer >= {MIN_LENGTH}, got {length!r}"
        )

    def fail(what: str) -> None:
        raise UserInputError(f"family {name!r} with length {length}: {what}")

    if "min_normal" in p:
        if p["min_normal"] < 1 or p["min_anomaly"] < 1 or p["max_intervals"] < 1:
            fail("min_normal, min_anomaly and max_intervals must be at least 1")
        if p["min_normal"] + p["min_anomaly"] > length:
            fail(
                f"min_normal + min_anomaly = {p['min_normal'] + p['min_anomaly']} does not fit; "
                "lower them or raise the length"
            )
    if "radius" in p:
        points = int(p["ratio"] * length)
        if p["radius"] < 1 or points < 1:
            fail(f"ratio {p['ratio']} gives no anomalous point (or radius < 1); raise the ratio")
        if points > length // 2:
            fail(f"ratio {p['ratio']} gives more anomalous points than half the series")
        windows = max(1, points // (2 * p["radius"]))
        if windows > length - 2 * p["radius"] + 1 or 4 * windows * p["radius"] > length:
            fail(f"{windows} windows of {2 * p['radius']} points do not fit; lower ratio/radius")
    if "num_variates" in p and min(p["num_variates"]) < 4:
        fail("num_variates must all be at least 4 (a grid with at least one anomalous variate)")
    if "drop_ratio" in p and not all(0 <= r < 0.5 for r in p["drop_ratio"]):
        fail("drop_ratio values must lie in [0, 0.5)")
    for low_high in ("shift", "anomaly_slope", "frequency", "amplitude", "offset", "noise"):
        if isinstance(p.get(low_high), tuple) and p[low_high][0] > p[low_high][1]:
            fail(f"{low_high} must be [low, high] with low <= high")
