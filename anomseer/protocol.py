"""The task's single source of truth: labels, prompts, the answer format and its parser.

A model answers with ``<think>...</think><answer>[[s, e], ...]</answer><class>label</class>``
(SPEC section 1). Model output is untrusted text: the parser only ever calls ``json.loads``
on a bounded slice of it, never raises, and runs in time linear in the input.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

ANOMALY_LABELS: tuple[str, ...] = (
    "global point",
    "contextual point",
    "seasonal",
    "trend",
    "shapelet",
)
NORMAL_LABEL = "normal"
LABELS: tuple[str, ...] = (*ANOMALY_LABELS, NORMAL_LABEL)

_LABEL_ALIASES = {
    "global": "global point",
    "contextual": "contextual point",
    "global point anomaly": "global point",
    "contextual point anomaly": "contextual point",
}

FAMILY_LABELS: dict[str, str] = {
    # AnomLLM-style families (SPEC 2.1). The noisy and flat variants map to their base
    # family's label: the reference code left them unmapped (SPEC section 9).
    "range": "global point",
    "point": "contextual point",
    "freq": "seasonal",
    "trend": "trend",
    "flat-trend": "trend",
    "noisy-point": "contextual point",
    "noisy-freq": "seasonal",
    "noisy-trend": "trend",
    # VisualTimeAnomaly-style univariate types (SPEC 2.2).
    "vta-global": "global point",
    "vta-contextual": "contextual point",
    "vta-seasonal": "seasonal",
    "vta-trend": "trend",
    "vta-shapelet": "shapelet",
    # VisualTimeAnomaly-style multivariate types: whole variates replaced by another shape.
    "vta-triangle": "shapelet",
    "vta-square": "shapelet",
    "vta-sawtooth": "shapelet",
    "vta-random-walk": "shapelet",
}
IRREGULAR_PREFIX = "irregular-"

MAX_ANSWER_CHARS = 100_000
"""Longest ``<answer>`` body that is parsed; a longer body is clipped to this many characters."""
MAX_ITEMS = 4_096
"""Most intervals or variate ids kept from one answer; the rest are dropped."""
MAX_CLASS_CHARS = 200


def normalize_label(text: str | None) -> str | None:
    """One of ``LABELS`` for a free-text class name (case and spacing ignored), else None."""
    if not isinstance(text, str):
        return None
    key = " ".join(text[:MAX_CLASS_CHARS].lower().replace("_", " ").replace("-", " ").split())
    key = _LABEL_ALIASES.get(key, key)
    return key if key in LABELS else None


def label_for_family(family: str) -> str:
    """The anomaly label of a generator family (``irregular-`` variants share their base's)."""
    base = family.removeprefix(IRREGULAR_PREFIX)
    if base not in FAMILY_LABELS:
        known = ", ".join(sorted(FAMILY_LABELS))
        raise KeyError(f"unknown family {family!r}; known families: {known}")
    return FAMILY_LABELS[base]


# ----------------------------------------------------------------------------- prompts


def build_prompt(length: int, num_variates: int | None = None) -> str:
    """The task instruction for one plot of ``length`` points (``num_variates`` for a grid)."""
    if length <= 0:
        raise ValueError(f"series length must be positive, got {length}")
    classes = ", ".join(ANOMALY_LABELS)
    if num_variates is None:
        target = (
            f"The image is a line plot of a time series of length {length}; the x-axis is the "
            f"time index from 0 to {length}. Find the anomalous intervals along the x-axis and "
            f"the most plausible anomaly type among: {classes}."
        )
        answer = (
            "<answer>[[start, end], ...]</answer> with half-open index intervals "
            f"(0 <= start < end <= {length})"
        )
    else:
        target = (
            f"The image shows {num_variates} variates of a multivariate time series of length "
            f"{length}, one subplot per variate, numbered 0 to {num_variates - 1} row by row "
            "from the top left. Find the anomalous variates and the most plausible anomaly "
            f"type among: {classes}."
        )
        answer = "<answer>[id, ...]</answer> with the ids of the anomalous variates"
    return (
        "You are a time-series analysis expert. "
        f"{target} Reason step by step inside <think></think>, then give {answer}, then the "
        "type inside <class></class>. If there is no anomaly, answer <answer>[]</answer> "
        f"and <class>{NORMAL_LABEL}</class>."
    )


def build_messages(length: int, num_variates: int | None = None) -> list[dict]:
    """The conversational prompt: one user turn with an image part and the instruction."""
    return [
        {
            "role": "user",
            "content": [
                {"type": "image"},
                {"type": "text", "text": build_prompt(length, num_variates)},
            ],
        }
    ]


# ----------------------------------------------------------------------------- answers


@dataclass(frozen=True)
class Answer:
    """A parsed answer. ``answer_valid`` is False when the ``<answer>`` block is missing or
    unparseable (such an answer scores 0); ``format_valid`` also needs think and class blocks."""

    intervals: list[tuple[int, int]] = field(default_factory=list)
    variates: list[int] = field(default_factory=list)
    label: str | None = None
    format_valid: bool = False
    answer_valid: bool = False
    think: str | None = None


def format_answer(
    intervals: Iterable[Sequence[int]] = (),
    label: str = NORMAL_LABEL,
    think: str = "",
    variates: Iterable[int] | None = None,
) -> str:
    """Render an answer in the protocol; ``variates`` switches to the multivariate form."""
    canonical = normalize_label(label)
    if canonical is None:
        raise ValueError(f"unknown label {label!r}; expected one of {', '.join(LABELS)}")
    pairs = [[int(s), int(e)] for s, e in intervals]
    if variates is None:
        body = json.dumps(pairs)
    elif pairs:
        body = json.dumps({"variates": [int(v) for v in variates], "intervals": pairs})
    else:
        body = json.dumps([int(v) for v in variates])
    return f"<think>{think}</think>\n<answer>{body}</answer>\n<class>{canonical}</class>"


def parse_answer(text: str, length: int | None = None, multivariate: bool = False) -> Answer:
    """Parse untrusted model output; never raises.

    Uses the last ``<answer>`` block and the first ``<class>`` block. Intervals are kept when
    they are integer pairs with ``0 <= start < end`` (``end`` clipped to ``length``), sorted
    and merged; bare integers ``p`` mean ``[p, p+1)``. With ``multivariate`` a list of
    integers is a list of variate ids.
    """
    if not isinstance(text, str):
        return Answer()
    think = _block(text, "think", last=False)
    body = _block(text, "answer", last=True)
    class_text = _block(text, "class", last=False)
    parsed = _parse_answer_body(body, length, multivariate) if body is not None else None
    label = normalize_label(class_text) if class_text is not None else None
    if parsed is None:
        return Answer(label=label, think=think)
    intervals, variates = parsed
    return Answer(
        intervals=intervals,
        variates=variates,
        label=label,
        format_valid=think is not None and class_text is not None,
        answer_valid=True,
        think=think,
    )


def _block(text: str, tag: str, last: bool) -> str | None:
    """Body of the first (or last) complete ``<tag>...</tag>`` block, found with str.find."""
    opening, closing = f"<{tag}>", f"</{tag}>"
    if last:
        end = text.rfind(closing)
        if end < 0:
            return None
        start = text.rfind(opening, 0, end)
    else:
        start = text.find(opening)
        if start < 0:
            return None
        end = text.find(closing, start + len(opening))
    if start < 0 or end < 0:
        return None
    return text[start + len(opening) : end]


def _parse_answer_body(
    body: str, length: int | None, multivariate: bool
) -> tuple[list[tuple[int, int]], list[int]] | None:
    """Intervals and variate ids from an answer body, or None when it is not usable JSON."""
    body = body[:MAX_ANSWER_CHARS].strip()
    if body.startswith("```"):
        body = body.strip("`").removeprefix("json").strip()
    try:
        value = json.loads(body)
    except (ValueError, RecursionError):
        return None
    if multivariate:
        return _parse_multivariate(value, length)
    if not isinstance(value, list):
        return None
    return _clean_intervals(value, length), []


def _parse_multivariate(value: object, length: int | None) -> tuple | None:
    if isinstance(value, dict):
        ids = value.get("variates", [])
        spans = value.get("intervals", [])
        if not isinstance(ids, list) or not isinstance(spans, list):
            return None
        return _clean_intervals(spans, length), _clean_ids(ids)
    if isinstance(value, list):
        return [], _clean_ids(value)
    return None


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _clean_ids(items: list) -> list[int]:
    return sorted({v for v in items[:MAX_ITEMS] if _is_int(v) and v >= 0})


def _clean_intervals(items: list, length: int | None) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    for item in items[:MAX_ITEMS]:
        span = _as_span(item)
        if span is None:
            continue
        start, end = span
        if length is not None:
            end = min(end, length)
        if 0 <= start < end:
            spans.append((start, end))
    return merge_intervals(spans)


def _as_span(item: object) -> tuple[int, int] | None:
    if _is_int(item):
        return item, item + 1
    if isinstance(item, list) and len(item) == 2:
        start, end = item
    elif isinstance(item, dict) and "start" in item and "end" in item:
        start, end = item["start"], item["end"]
    else:
        return None
    if _is_int(start) and _is_int(end):
        return start, end
    return None


def merge_intervals(spans: Iterable[Sequence[int]]) -> list[tuple[int, int]]:
    """Sort half-open intervals and merge the ones that overlap or touch."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted((int(s), int(e)) for s, e in spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged

