"""Export a training checkpoint as a standalone model folder: safetensors weights, the processor
with its pixel bounds, and the chat template. The evaluator's hf backend loads it with
`load_model_and_processor(OUT)` and its vLLM backend with `vllm.LLM(model=OUT)`. A LoRA
checkpoint needs --merge-lora: the adapter is merged into its base model."""

from __future__ import annotations

import argparse

NAME = "export"
HELP = "export a training checkpoint as a standalone model folder (hf, vLLM)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", help="training output folder or one of its checkpoint-N")
    parser.add_argument("out", help="new folder to write")
    parser.add_argument(
        "--merge-lora", action="store_true", help="merge a LoRA adapter into its base model"
    )
    parser.add_argument(
        "--base-model",
        default=None,
        help="base model of a LoRA adapter (default: the one recorded in adapter_config.json)",
    )
    parser.add_argument(
        "--dtype",
        default="auto",
        choices=["auto", "bfloat16", "float16", "float32"],
        help="dtype of the exported weights (auto: the checkpoint's)",
    )


def run(args: argparse.Namespace) -> int:
    from anomseer.trainers.checkpoints import export_checkpoint

    out = export_checkpoint(
        args.checkpoint, args.out, args.merge_lora, base_model=args.base_model, dtype=args.dtype
    )
    print(f"standalone model in {out}")
    return 0
