"""Faithfulness of explanations: the claims a reasoning text makes about its series (statistics,
periods, gradients, positions, the answer it concludes) recomputed with the expert panel's own
analyses and checked within documented tolerances.

>>> report = verify_reasoning(series, completion_text)
>>> report.score, [c.quote for c in report.false_claims]
"""

from anomseer.faithfulness.verify import Claim, FaithfulnessReport, verify_reasoning

__all__ = ["Claim", "FaithfulnessReport", "verify_reasoning"]
