"""``verify_reasoning``: every checkable claim of a reasoning text, recomputed from the series
and judged within its tolerance; the score is the verified share."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from anomseer.faithfulness.checks import CHECKS
from anomseer.faithfulness.claims import extract_claims
from anomseer.faithfulness.series_facts import series_facts
from anomseer.protocol import Answer, parse_answer


@dataclass(frozen=True)
class Claim:
    """One checked claim: the ``quote`` it was read from, its ``kind``, the ``stated`` and
    ``recomputed`` values, whether it is ``verified``, and the ``tolerance`` (absolute, in the
    stated value's units; positions in points; 0 = exact)."""

    quote: str
    kind: str
    stated: object
    recomputed: object
    verified: bool
    tolerance: float

    def as_dict(self) -> dict:
        """JSON-ready: tuples become lists, infinite numbers None."""
        return {k: _json_value(v) for k, v in asdict(self).items()}


@dataclass(frozen=True)
class FaithfulnessReport:
    """The checked claims of one text; ``score`` is their verified share (None: no claim)."""

    claims: list[Claim]

    @property
    def score(self) -> float | None:
        if not self.claims:
            return None
        return sum(claim.verified for claim in self.claims) / len(self.claims)

    @property
    def false_claims(self) -> list[Claim]:
        return [claim for claim in self.claims if not claim.verified]


def _json_value(value: object) -> object:
    if isinstance(value, tuple | list):
        return [_json_value(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def verify_reasoning(values: object, text: str, answer: Answer | None = None) -> FaithfulnessReport:
    """Check the claims of ``text`` against the series ``values`` (1-D, or ``(variates,
    length)``; NaN = missing).

    ``text`` is a whole completion (its ``<think>`` block is the reasoning and its
    ``<answer>``/``<class>`` blocks the answer the reasoning must agree with) or bare reasoning;
    pass ``answer`` to check bare reasoning against an answer parsed elsewhere. Claims about
    the answer are left out when there is no parseable answer.
    """
    shape = np.shape(values)
    text = text if isinstance(text, str) else ""
    if answer is None and "<answer>" in text:
        answer = parse_answer(text, shape[-1] if shape else None, multivariate=len(shape) == 2)
    reasoning = text if answer is None or answer.think is None else answer.think
    stated_claims = extract_claims(reasoning)
    if not stated_claims:  # nothing to check: the series is not analysed
        return FaithfulnessReport([])
    facts = series_facts(values)
    claims = []
    for stated in stated_claims:
        result = CHECKS[stated.kind](stated, facts, answer)
        if result is not None:
            recomputed, tolerance, verified = result
            claim = Claim(
                stated.quote,
                stated.kind,
                stated.value,
                recomputed,
                bool(verified),
                float(tolerance),
            )
            claims.append(claim)
    return FaithfulnessReport(claims)
