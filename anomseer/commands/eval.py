"""Evaluate a checkpoint (vLLM or transformers), a model behind an OpenAI-compatible server, or
the classical expert on one split of an AnomSeer dataset. Writes OUT/predictions.jsonl (one
line per completion, appended per batch), OUT/metrics.json (overall, per anomaly type, per
family), OUT/report.md and OUT/figures/. Rerunning the same command resumes: rows already in
predictions.jsonl are skipped. Options left unset take the backend's defaults."""

from __future__ import annotations

import argparse

NAME = "eval"
HELP = "evaluate a backend (vllm, hf, openai, expert) on a dataset split"

BACKEND_CHOICES = ("vllm", "hf", "openai", "expert")
OPTION_DESTS = (
    "max_new_tokens",
    "temperature",
    "n",
    "seed",
    "dtype",
    "min_pixels",
    "max_pixels",
    "trust_remote_code",
    "attn_implementation",
    "tensor_parallel_size",
    "gpu_memory_utilization",
    "kv_cache_gib",
    "enforce_eager",
    "max_model_len",
    "base_url",
    "api_key_env",
    "concurrency",
    "timeout",
    "max_retries",
    "backoff",
)
"""Backend options, forwarded to ``evaluate`` only when given on the command line."""


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

    sampling = parser.add_argument_group("sampling (vllm, hf, openai)")
    sampling.add_argument(
        "--max-new-tokens", type=int, help="tokens per completion (default: 1024)"
    )
    sampling.add_argument("--temperature", type=float, help="0 is greedy (default: 0)")
    sampling.add_argument(
        "--n",
        type=int,
        help="completions per row, each scored (default: 1; more needs --temperature > 0)",
    )
    sampling.add_argument(
        "--seed", type=int, help="sampling seed (default: 0 for vllm and hf, none sent by openai)"
    )

    model = parser.add_argument_group("checkpoints (vllm, hf)")
    model.add_argument(
        "--dtype", help="weights dtype, e.g. bfloat16 (default: auto, the checkpoint's)"
    )
    model.add_argument(
        "--min-pixels", type=int, help="image min pixels (default: the checkpoint processor's)"
    )
    model.add_argument(
        "--max-pixels", type=int, help="image max pixels (default: the checkpoint processor's)"
    )
    model.add_argument(
        "--trust-remote-code", action="store_true", help="run code shipped with a hub checkpoint"
    )
    model.add_argument("--attn-implementation", help="hf only, e.g. flash_attention_2 or sdpa")
    model.add_argument("--tensor-parallel-size", type=int, help="vllm only: GPUs (default: 1)")
    model.add_argument(
        "--gpu-memory-utilization",
        type=float,
        help="vllm on GPUs: share of GPU memory (default: 0.9)",
    )
    model.add_argument(
        "--kv-cache-gib",
        type=int,
        help="vllm on CPU: KV cache in GiB (default: $VLLM_CPU_KVCACHE_SPACE, else 4)",
    )
    model.add_argument(
        "--enforce-eager",
        action=argparse.BooleanOptionalAction,
        help="vllm only: no torch.compile or CUDA graphs (default: on for CPU, off on GPUs)",
    )
    model.add_argument(
        "--max-model-len", type=int, help="vllm only: context length (default: the model's)"
    )

    server = parser.add_argument_group("OpenAI-compatible server (openai)")
    server.add_argument("--base-url", help="API root (default: http://127.0.0.1:8000/v1)")
    server.add_argument(
        "--api-key-env", help="environment variable holding the key (default: OPENAI_API_KEY)"
    )
    server.add_argument("--concurrency", type=int, help="requests in flight (default: 8)")
    server.add_argument("--timeout", type=float, help="seconds per request (default: 120)")
    server.add_argument("--max-retries", type=int, help="retries of a failed request (default: 4)")
    server.add_argument(
        "--backoff", type=float, help="first retry delay in seconds, doubling (default: 1)"
    )


def run(args: argparse.Namespace) -> int:
    from anomseer.evaluation import evaluate
    from anomseer.evaluation.report import format_value

    options = {dest: getattr(args, dest) for dest in OPTION_DESTS if hasattr(args, dest)}
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
    print(f"report: {args.out}/report.md, metrics: {args.out}/metrics.json")
    return 0
