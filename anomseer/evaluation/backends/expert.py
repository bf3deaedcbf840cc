"""Expert backend: the label-free classical detector ``data_gen.expert.detector.expert_detect`` as a
baseline. No model and no plot: it reads the series (and, on converted real data, the row's
``expert_thresholds``, calibrated on its series by the converter), and its answer is written in
the answer protocol so the same parser and scores judge it. Deterministic, CPU only."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from anomseer.errors import OptionError
from anomseer.evaluation.backends.base import EvalRequest, Generation
from anomseer.interrupts import reraise_interrupt
from anomseer.protocol import NORMAL_LABEL, format_answer


@dataclass(frozen=True)
class ExpertOptions:
    """The expert backend has no options: it is deterministic and reads no checkpoint."""


class ExpertBackend:
    """Completions written from ``expert_detect``'s answer (one per row; it is deterministic).

    A row the detector raises on becomes a failed sample with the error recorded.
    """

    name: ClassVar[str] = "expert"
    columns: ClassVar[tuple[str, ...]] = ()
    options: ClassVar[type[ExpertOptions]] = ExpertOptions
    default_batch_size: ClassVar[int] = 64
    n = 1

    def __init__(self) -> None:
        from data_gen.expert.detector import expert_detect
        from data_gen.expert.panel import Thresholds, warm_up

        warm_up()
        self._detect = expert_detect
        self._thresholds = Thresholds

    @classmethod
    def load(cls, model: str | None = None, options: ExpertOptions | None = None) -> ExpertBackend:
        """The detector; a model is refused: it has none."""
        if model:
            raise OptionError("the expert backend uses no model; drop $o", o="model")
        return cls()

    def settings(self) -> dict[str, Any]:
        return {"detector": "data_gen.expert.detector.expert_detect"}

    def generate(self, requests: Sequence[EvalRequest]) -> list[Generation]:
        return [self._answer(request) for request in requests]

    def _answer(self, request: EvalRequest) -> Generation:
        series = np.asarray(request.series, dtype=float)
        try:
            calibrated = request.expert_thresholds
            if calibrated:
                answer = self._detect(series, self._thresholds(**calibrated))
            else:
                answer = self._detect(series)
        except Exception as error:  # a detector bug on one row must not end the run
            reraise_interrupt(error)  # Ctrl-C inside STUMPY's compiled code
            return Generation(error=f"expert_detect raised {type(error).__name__}: {error}")
        text = format_answer(
            answer.intervals,
            answer.label or NORMAL_LABEL,
            think=answer.think or "",
            variates=answer.variates if series.ndim == 2 else None,
        )
        return Generation((text,))
