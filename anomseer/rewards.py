"""Rule-based rewards with TRL's reward-function signature (SPEC section 4).

Each function takes ``completions`` (strings, or conversational completions: lists of
message dicts whose content is a string or a list of ``{"type": "text", "text": ...}``
parts) plus the dataset columns as keyword lists (``intervals``, ``anomaly_type``,
``length``, and optionally ``variates`` and ``series``), tolerates any other keyword TRL
passes, and returns one float in [0, 1] per completion. Completions are untrusted text:
no text makes a reward raise.

Each term is its own function so TRL logs it under its own name. Two ways to train on

    r = 0.7 * localization + 0.2 * class + 0.1 * format

- ``reward_funcs=[localization_reward, class_reward, format_reward]`` with GRPOConfig's
  ``reward_weights=[0.7, 0.2, 0.1]``: TRL sums the terms and logs each one;
- ``total_reward`` alone (or ``make_total_reward(weights)``), which logs only the total.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any

from anomseer.columns import OPTIONAL_REWARD_COLUMNS, REWARD_COLUMNS
from anomseer.errors import UserInputError
from anomseer.metrics import SampleScore, score_completion

RewardFunc = Callable[..., list[float]]

DEFAULT_WEIGHTS: Mapping[str, float] = {"localization": 0.7, "class": 0.2, "format": 0.1}
"""SPEC section 4 weights of the total reward."""


def completion_text(completion: Any) -> str:
    """The text of one completion: a string, one message, or a list of messages whose
    content is a string or a list of text parts. Anything else reads as empty text."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, Mapping):
        completion = [completion]
    if not isinstance(completion, Sequence):
        return ""
    texts = []
    for message in completion:
        content = message.get("content") if isinstance(message, Mapping) else None
        if isinstance(content, str):
            texts.append(content)
        elif isinstance(content, Sequence):
            texts.extend(
                part["text"]
                for part in content
                if isinstance(part, Mapping) and isinstance(part.get("text"), str)
            )
    return "".join(texts)


_SCORED_COLUMNS = (*REWARD_COLUMNS, *OPTIONAL_REWARD_COLUMNS)
_last_scored: list[Any] = []
"""The last call's (completions, their texts, the column lists, scores). TRL calls each reward
function of a step with the same list objects, so every completion is parsed once per step."""


def _scores(completions: Sequence, columns: dict[str, Any]) -> list[SampleScore]:
    """Parse and score every completion against its row's columns; the reward terms of one
    TRL step share one scoring (same objects, same texts)."""
    texts = [completion_text(completion) for completion in completions]
    inputs = [columns.get(name) for name in _SCORED_COLUMNS]
    if _last_scored:
        last_completions, last_texts, last_inputs, scores = _last_scored
        same_objects = all(a is b for a, b in zip(last_inputs, inputs, strict=True))
        if last_completions is completions and same_objects and last_texts == texts:
            return scores
    scores = _score_texts(texts, columns)
    _last_scored[:] = [completions, texts, inputs, scores]
    return scores


def _score_texts(texts: list[str], columns: dict[str, Any]) -> list[SampleScore]:
    missing = [name for name in REWARD_COLUMNS if name not in columns]
    if missing:
        raise UserInputError(
            f"the reward functions need the dataset column(s) {', '.join(missing)}; "
            "train on a dataset that has the columns data generation writes"
        )
    n = len(texts)
    variates = columns.get("variates") or [None] * n
    series = columns.get("series") or [None] * n
    return [
        score_completion(
            text,
            intervals=columns["intervals"][i],
            anomaly_type=columns["anomaly_type"][i],
            length=columns["length"][i],
            variates=variates[i],
            series=series[i],
        )[1]
        for i, text in enumerate(texts)
    ]


def format_reward(completions: Sequence, **kwargs: Any) -> list[float]:
    """1 when the completion has ``<think>``, a parseable ``<answer>`` and ``<class>``, else 0."""
    return [float(score.format_valid) for score in _scores(completions, kwargs)]


def class_reward(completions: Sequence, **kwargs: Any) -> list[float]:
    """1 when the ``<class>`` label equals the row's ``anomaly_type``, else 0."""
    return [float(score.class_correct) for score in _scores(completions, kwargs)]


def localization_reward(completions: Sequence, **kwargs: Any) -> list[float]:
    """Mean of point P/R/F1 and affiliation P/R/F1 (variate-id P/R/F1 for multivariate rows);
    1 when truth and answer are both empty, 0 when exactly one is or the answer is invalid."""
    return [score.localization for score in _scores(completions, kwargs)]


def faithfulness_reward(completions: Sequence, **kwargs: Any) -> list[float]:
    """Share of the reasoning's checkable claims that hold on the row's ``series``
    (``anomseer.faithfulness``); 0 when the completion makes no checkable claim (saying nothing
    earns nothing) or the row has no series. Needs the ``series`` column. Optional: off in the
    paper recipes."""
    from anomseer.faithfulness import verify_reasoning

    series = kwargs.get("series")
    if series is None:
        raise UserInputError(
            "faithfulness_reward needs the dataset column series; train on a dataset that has "
            "the columns data generation writes"
        )
    scores = [
        None if values is None else verify_reasoning(values, completion_text(completion)).score
        for completion, values in zip(completions, series, strict=True)
    ]
    return [score or 0.0 for score in scores]


def total_reward(
    completions: Sequence, *, weights: Mapping[str, float] | None = None, **kwargs: Any
) -> list[float]:
    """``w_loc * localization + w_cls * class + w_fmt * format`` (default 0.7 / 0.2 / 0.1).

    ``weights`` maps ``localization``/``class``/``format`` to non-negative numbers summing to 1;
    bind it with ``make_total_reward`` (or ``functools.partial``).
    """
    w = _check_weights(DEFAULT_WEIGHTS if weights is None else weights)
    return [
        w["localization"] * s.localization
        + w["class"] * float(s.class_correct)
        + w["format"] * float(s.format_valid)
        for s in _scores(completions, kwargs)
    ]


def make_total_reward(weights: Mapping[str, float]) -> RewardFunc:
    """``total_reward`` with its weights checked now and bound (logged as ``total_reward``)."""
    return partial(total_reward, weights=dict(_check_weights(weights)))


def _check_weights(weights: Mapping[str, float]) -> Mapping[str, float]:
    if set(weights) != set(DEFAULT_WEIGHTS):
        raise UserInputError(
            f"reward weights need exactly the keys {sorted(DEFAULT_WEIGHTS)}, got {sorted(weights)}"
        )
    values = [float(v) for v in weights.values()]
    if any(not math.isfinite(v) or v < 0 for v in values) or abs(sum(values) - 1.0) > 1e-9:
        raise UserInputError(
            f"reward weights must be non-negative and sum to 1 (got {dict(weights)}); "
            "for other scales use GRPOConfig.reward_weights with the separate terms"
        )
    return weights


REWARD_FUNCS: dict[str, RewardFunc] = {
    "localization": localization_reward,
    "class": class_reward,
    "format": format_reward,
    "total": total_reward,
    "faithfulness": faithfulness_reward,
}
"""Reward functions by the names YAML recipes use."""


REWARD_COLUMNS_NEEDED: dict[str, tuple[str, ...]] = {"faithfulness": ("series",)}
"""Dataset columns a registered reward reads beyond ``REWARD_COLUMNS``."""


def reward_columns(names: Sequence[str]) -> tuple[str, ...]:
    """The extra dataset columns the rewards ``names`` read, in order, without repeats."""
    return tuple(dict.fromkeys(c for name in names for c in REWARD_COLUMNS_NEEDED.get(name, ())))


def get_reward_funcs(names: Sequence[str]) -> list[RewardFunc]:
    """The reward functions registered under ``names``, in order."""
    unknown = [name for name in names if name not in REWARD_FUNCS]
    if unknown:
        raise UserInputError(
            f"unknown reward function(s) {', '.join(map(repr, unknown))}; "
            f"known: {', '.join(REWARD_FUNCS)}"
        )
    return [REWARD_FUNCS[name] for name in names]
