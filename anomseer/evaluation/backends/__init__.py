"""Evaluation backends by name. Each module imports its heavy packages (torch, vllm) only
when a backend is loaded, so looking one up is cheap."""

from __future__ import annotations

import dataclasses
import importlib
from typing import Any

from anomseer.errors import OptionError, UserInputError
from anomseer.evaluation.backends.base import Backend, EvalRequest, Generation, Sampling

BACKEND_CLASSES = {
    "vllm": ("anomseer.evaluation.backends.vllm", "VLLMBackend"),
    "hf": ("anomseer.evaluation.backends.hf", "HFBackend"),
    "openai": ("anomseer.evaluation.backends.openai", "OpenAIBackend"),
    "expert": ("anomseer.evaluation.backends.expert", "ExpertBackend"),
}
"""Backend name -> (module, class)."""

BACKENDS = tuple(BACKEND_CLASSES)

__all__ = ["BACKENDS", "Backend", "EvalRequest", "Generation", "Sampling", "backend_class"]


def backend_class(name: str) -> type:
    """The class of the backend called ``name``."""
    if name not in BACKEND_CLASSES:
        raise UserInputError(f"unknown backend {name!r}; choose one of {', '.join(BACKENDS)}")
    module, cls = BACKEND_CLASSES[name]
    return getattr(importlib.import_module(module), cls)


def load_backend(name: str, model: str | None = None, **options: Any) -> Backend:
    """Load the backend ``name`` on ``model`` with ``options``, the fields of its ``options``
    dataclass (others are refused)."""
    cls = backend_class(name)
    known = sorted(field.name for field in dataclasses.fields(cls.options))
    unknown = sorted(set(options) - set(known))
    if unknown:
        takes = "its options: $known" if known else "it takes none"
        raise OptionError(
            f"the {name} backend has no option(s) $unknown; {takes}", unknown=unknown, known=known
        )
    load = getattr(cls, "load", cls)
    return load(model, cls.options(**options))
