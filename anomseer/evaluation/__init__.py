"""Evaluate checkpoints, API models and the classical expert on AnomSeer datasets.

``evaluate(data, split, backend, out, **options)`` runs one evaluation (resumable) and returns
its metrics; ``compare_runs`` puts finished runs side by side. Backends: ``vllm``, ``hf``,
``openai`` and ``expert`` (see ``anomseer.evaluation.backends``).
"""

from anomseer.evaluation.backends import BACKENDS, load_backend
from anomseer.evaluation.report import compare_runs, load_run
from anomseer.evaluation.runner import evaluate

__all__ = ["BACKENDS", "compare_runs", "evaluate", "load_backend", "load_run"]
