"""A learning rate of its own for the vision tower (encoder and merger): the recipe field
``vision_learning_rate``, applied by a trainer mixin on top of TRL's optimizer."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from anomseer.errors import UserInputError

if TYPE_CHECKING:
    import torch

VISION_PARAMETER = re.compile(r"(^|\.)visual\.")
"""Parameter names inside Qwen2.5-VL's vision tower, LoRA-wrapped or not."""


@dataclass
class VisionLearningRate:
    """The ``vision_learning_rate`` field of every AnomSeer trainer config."""

    vision_learning_rate: float | None = field(
        default=None,
        metadata={
            "help": "Learning rate of the vision tower (encoder and merger); the language model "
            "keeps `learning_rate`, and the schedule scales both alike. None: `learning_rate` "
            "for every weight. A lower rate keeps a tower trained from random weights from "
            "collapsing to one output for every plot (see BENCHMARKS.md, the demo)."
        },
    )

    def __post_init__(self) -> None:
        if self.vision_learning_rate is not None and self.vision_learning_rate < 0:
            raise UserInputError(
                f"vision_learning_rate must be zero or positive, got {self.vision_learning_rate}"
            )
        super().__post_init__()


class VisionLearningRateMixin:
    """Trainer mixin: the parent builds its optimizer as usual, then the vision tower's
    parameters move to parameter groups of their own at ``args.vision_learning_rate`` (the
    learning-rate schedule scales every group alike). Unset, nothing changes."""

    def create_optimizer(self, model=None) -> torch.optim.Optimizer:
        optimizer = super().create_optimizer(model)
        rate = self.args.vision_learning_rate
        if rate is not None:
            move_vision_parameters(optimizer, self.model if model is None else model, rate)
        return optimizer


def move_vision_parameters(
    optimizer: torch.optim.Optimizer, model: torch.nn.Module, rate: float
) -> int:
    """Move the vision tower's parameters of every group of ``optimizer`` (before its first
    step) to a copy of that group with learning rate ``rate``; returns how many moved."""
    vision = {id(p) for name, p in model.named_parameters() if VISION_PARAMETER.search(name)}
    moved_total = 0
    for group in list(optimizer.param_groups):
        moved = [p for p in group["params"] if id(p) in vision]
        if not moved:
            continue
        group["params"] = [p for p in group["params"] if id(p) not in vision]
        settings = {key: value for key, value in group.items() if key != "params"}
        optimizer.add_param_group({**settings, "params": moved, "lr": rate})
        moved_total += len(moved)
    optimizer.param_groups[:] = [group for group in optimizer.param_groups if group["params"]]
    return moved_total
