"""Evaluation backends by name. Each module imports its heavy packages (torch, vllm) only
when a backend is loaded, so looking one up is cheap."""

from __future__ import annotations

import importlib
import inspect
from typing import Any

from anomseer.errors import UserInputError
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
    """Load the backend ``name`` on ``model`` with its options (unknown ones are refused)."""
    cls = backend_class(name)
    load = getattr(cls, "load", cls)
    parameters = inspect.signature(load).parameters
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
    if not takes_any:
        unknown = sorted(set(options) - set(parameters))
        if unknown:
            known = sorted(set(parameters) - {"model"})
            raise UserInputError(
                f"the {name} backend has no option(s) {_flags(unknown)}; "
                f"its options: {_flags(known)}"
            )
    return load(model, **options)


def _flags(names: list[str]) -> str:
    return ", ".join(f"--{name.replace('_', '-')}" for name in names)
