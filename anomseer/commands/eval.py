"""Evaluate a checkpoint (vLLM or transformers), a model behind an OpenAI-compatible server, or
the classical expert on one split of an AnomSeer dataset. Writes OUT/predictions.jsonl (one
line per completion, appended per batch), OUT/metrics.json (overall, per anomaly type, per
family), OUT/report.md, OUT/report.html (every row, filterable) and OUT/figures/. Rerunning
the same command resumes: rows already in predictions.jsonl are skipped. Options left unset
take the backend's defaults."""

from __future__ import annotations

import argparse
from typing import Any

from anomseer.commands import flag

NAME = "eval"
HELP = "evaluate a backend (vllm, hf, openai, expert) on a dataset split"

BACKEND_CHOICES = ("vllm", "hf", "openai", "expert")
BACKEND_OPTIONS: dict[str, tuple[tuple[str, Any, str], ...]] = {
    "sampling (vllm, hf, openai)": (
        ("max_new_tokens", int, "tokens per completion (default: 1024)"),
        ("temperature", float, "0 is greedy (default: 0)"),
        ("n", int, "completions per row, each scored (default: 1; more needs --temperature > 0)"),
        ("seed", int, "sampling seed (default: 0 for vllm and hf, none sent by openai)"),
    ),
    "checkpoints (vllm, hf)": (
        ("dtype", str, "weights dtype, e.g. bfloat16 (default: auto, the checkpoint's)"),
        ("min_pixels", int, "image min pixels (default: the checkpoint processor's)"),
        ("max_pixels", int, "image max pixels (default: the checkpoint processor's)"),
        ("trust_remote_code", "store_true", "run code shipped with a hub checkpoint"),
        ("attn_implementation", str, "hf only, e.g. flash_attention_2 or sdpa"),
        ("tensor_parallel_size", int, "vllm only: GPUs (default: 1)"),
        ("gpu_memory_utilization", float, "vllm on GPUs: share of GPU memory (default: 0.9)"),
        (
            "kv_cache_gib",
            int,
            "vllm on CPU: KV cache in GiB (default: $VLLM_CPU_KVCACHE_SPACE, else 4)",
        ),
        (
            "enforce_eager",
            argparse.BooleanOptionalAction,
            "vllm only: no torch.compile or CUDA graphs (default: on for CPU, off on GPUs)",
        ),
        ("max_model_len", int, "vllm only: context length (default: the model's)"),
    ),
    "OpenAI-compatible server (openai)": (
        ("base_url", str, "API root (default: http://127.0.0.1:8000/v1)"),
        ("api_key_env", str, "environment variable holding the key (default: OPENAI_API_KEY)"),
        ("concurrency", int, "requests in flight (default: 8)"),
        ("timeout", float, "seconds per request (default: 120)"),
        ("max_retries", int, "retries of a failed request (default: 4)"),
        ("backoff", float, "first retry delay in seconds, doubling (default: 1)"),
    ),
}
"""Backend options by help group: (option, type or argparse action, help). Each is the flag
``--option-name`` and is forwarded to ``evaluate`` only when given on the command line."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.argument_default = argparse.SUPPRESS  # unset options take the backend's defaults
    parser.add_argument("--data", required=True, help="dataset folder or hub id")
    parser.add_argument("--split", default="eval", help="dataset split")
    parser.add_argument("--backend", required=True, choices=BACKEND_CHOICES)
    parser.add_argument(
        "--model",
        help="checkpoint folder or hub id (vllm, hf); served model name (openai); none (expert)",
    )
    parser.add_argument("--out", required=True, help="run folder (resumed when it exists)")
    parser.add_argument("--limit", type=int, help="evaluate the first N rows only")
    parser.add_argument(
        "--batch-size",
        type=int,
        help="rows per batch, the unit of resuming (default: hf 8, vllm 256, openai 64, expert 64)",
    )
    parser.add_argument(
        "--retry-failed", action="store_true", help="ask again for rows whose request failed"
    )
    parser.add_argument("--no-figures", action="store_true", help="skip the figures")
    add_backend_arguments(parser)


def add_backend_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``BACKEND_OPTIONS`` flags, one argument group each."""
    for title, options in BACKEND_OPTIONS.items():
        group = parser.add_argument_group(title)
        for option, kind, text in options:
            how = {"type": kind} if kind in (int, float, str) else {"action": kind}
            group.add_argument(flag(option), help=text, **how)


def given_backend_options(args: argparse.Namespace) -> dict[str, Any]:
    """The backend options given on the command line."""
    given = [option for options in BACKEND_OPTIONS.values() for option, _, _ in options]
    return {option: getattr(args, option) for option in given if hasattr(args, option)}


def run(args: argparse.Namespace) -> int:
    from anomseer.evaluation import evaluate
    from anomseer.evaluation.report import format_value

    options = given_backend_options(args)
    metrics = evaluate(
        args.data,
        args.split,
        args.backend,
        args.out,
        model=getattr(args, "model", None),
        limit=getattr(args, "limit", None),
        batch_size=getattr(args, "batch_size", None),
        retry_failed=getattr(args, "retry_failed", False),
        figures=not getattr(args, "no_figures", False),
        **options,
    )
    overall = metrics["overall"]
    print(
        f"{overall['count']} completions: affiliation F1 {format_value(overall['aff_f1'])}, "
        f"F1 {format_value(overall['f1'])}, "
        f"class accuracy {format_value(overall['class_accuracy'])}, "
        f"invalid {overall['invalid_answers']}, failed {overall['failures']}"
    )
    print(f"report: {args.out}/report.md and report.html, metrics: {args.out}/metrics.json")
    return 0
