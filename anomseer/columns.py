"""The dataset column contract between stages (DESIGN.md): the names, their ``datasets``
Features, and the columns each stage reads. Change a column here only.

One sample is one row all the way through: ``anomseer gen`` and ``anomseer convert`` write
:data:`COLUMNS` (convert adds :data:`SOURCE_COLUMNS`), the evaluator reads
:data:`SCORING_COLUMNS` (a model backend also :data:`MODEL_COLUMNS`), SFT :data:`SFT_COLUMNS`,
TimerPO :func:`timerpo_columns`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from datasets import Features

COLUMNS: tuple[str, ...] = (
    "id",
    "family",
    "anomaly_type",
    "length",
    "series",
    "intervals",
    "variates",
    "image",
    "prompt",
    "completion",
    "expcot",
)
"""Every column a generated or converted row has, in order."""
SOURCE_COLUMNS: tuple[str, ...] = (
    "source_file",
    "source_index",
    "offset",
    "type_source",
    "expert_thresholds",
    "time_gaps",
)
"""Columns after :data:`COLUMNS` that map a converted row back to its source file."""

SCORING_COLUMNS: tuple[str, ...] = ("id", "family", "anomaly_type", "length", "intervals", "series")
"""Columns every evaluation reads."""
MODEL_COLUMNS: tuple[str, ...] = ("prompt", "image")
"""Columns a model backend of the evaluator reads on top of :data:`SCORING_COLUMNS`."""
OPTIONAL_SCORING_COLUMNS: tuple[str, ...] = ("variates", "expert_thresholds", "type_source")
"""Columns an evaluation reads when present. ``type_source`` = ``expert`` marks a converted row
whose anomaly type is the expert panel's reading (data_gen.benchmarks.expert_label)."""
SFT_COLUMNS: tuple[str, ...] = ("image", "prompt", "completion")
"""Columns SFT reads: the label-free plot, the conversational prompt and the target answer."""
REWARD_COLUMNS: tuple[str, ...] = ("intervals", "anomaly_type", "length")
"""Columns every reward function reads."""
OPTIONAL_REWARD_COLUMNS: tuple[str, ...] = ("variates", "series")
"""Columns the rewards read when present (multivariate truth; missing points)."""
EXPCOT_COLUMN = "expcot"
"""The ExpCoT reference text of TimerPO's grounded advantage."""


def timerpo_columns(grounded: bool) -> tuple[str, ...]:
    """Columns TimerPO reads: the plot, the prompt, what the rewards read, and the ExpCoT
    when the grounded advantage is on."""
    return ("image", "prompt", *REWARD_COLUMNS, *((EXPCOT_COLUMN,) if grounded else ()))


def row_features(multivariate: bool = False) -> Features:
    """The ``datasets.Features`` of :data:`COLUMNS` (``multivariate`` selects the ``series``
    type: one dataset holds one kind)."""
    from datasets import Features, Image, List, Value

    message = List(
        {
            "role": Value("string"),
            "content": List({"type": Value("string"), "text": Value("string")}),
        }
    )
    series = List(List(Value("float64"))) if multivariate else List(Value("float64"))
    return Features(
        {
            "id": Value("string"),
            "family": Value("string"),
            "anomaly_type": Value("string"),
            "length": Value("int32"),
            "series": series,
            "intervals": List(List(Value("int32"))),
            "variates": List(Value("int32")),
            "image": Image(),
            "prompt": message,
            "completion": message,
            "expcot": Value("string"),
        }
    )


def converted_features(multivariate: bool, threshold_names: Sequence[str]) -> Features:
    """:func:`row_features` plus :data:`SOURCE_COLUMNS`; ``expert_thresholds`` holds one float
    per name in ``threshold_names``."""
    from datasets import List, Value

    features = row_features(multivariate)
    features["source_file"] = Value("string")
    features["source_index"] = Value("int32")
    features["offset"] = Value("int64")
    features["type_source"] = Value("string")
    features["expert_thresholds"] = {name: Value("float64") for name in threshold_names}
    features["time_gaps"] = List({"index": Value("int32"), "steps": Value("float64")})
    return features
