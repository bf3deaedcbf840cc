"""Benchmark: the offline tiny Qwen2.5-VL on a real vLLM engine (CPU build) against transformers.

1. Engine start: seconds from ``load_backend("vllm", ...)`` to a ready engine (the vllm backend's
   CPU defaults: checkpoint dtype, eager, engine core in a child process).
2. Generation: completion tokens per second of the vllm and hf backends on the same ``--rows``
   plot prompts, greedy, ``--max-new-tokens`` each (tokens counted by the tokenizer on both).
3. TimerPO: median logged ``step_time`` of ``--steps`` steps after one warm-up step, generating
   with transformers (``recipes/tiny-cpu/timerpo/config_default.yaml``) and with vLLM colocated
   (``recipes/tiny-cpu/timerpo/config_vllm.yaml``), 48 completion tokens, same data and seed.

    .venv/bin/python scripts/bench_vllm.py [--rows 16] [--max-new-tokens 64] [--steps 4]
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import machine_line, parse_flags  # scripts/ is on sys.path when run as a script

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")

ROOT = Path(__file__).resolve().parents[1]


def requests_from(data: Path, rows: int) -> list:
    from datasets import load_dataset

    from anomseer.evaluation.backends import EvalRequest

    dataset = load_dataset(str(data), split="train")
    return [
        EvalRequest(row["id"], row["length"], row["series"], row["prompt"], row["image"])
        for row in (dataset[i % len(dataset)] for i in range(rows))
    ]


def tokens_per_second(backend, requests: list) -> float:
    tokenizer = backend.processor.tokenizer
    start = time.perf_counter()
    generations = backend.generate(requests)
    seconds = time.perf_counter() - start
    tokens = sum(len(tokenizer(g.texts[0])["input_ids"]) for g in generations)
    return tokens / seconds


def step_seconds(recipe: str, model: Path, data: Path, out: Path, steps: int) -> float:
    from anomseer.trainers.timerpo import main

    argv = ["--config", str(ROOT / "recipes" / "tiny-cpu" / recipe)]
    argv += ["--model_name_or_path", str(model), "--dataset_name", str(data)]
    argv += ["--output_dir", str(out), "--max_steps", str(steps + 1), "--save_strategy", "no"]
    trainer = main([*argv, "--disable_tqdm", "true"])
    logged = [entry["step_time"] for entry in trainer.state.log_history if "step_time" in entry]
    return statistics.median(logged[1:])


def main() -> None:
    args = parse_flags(__doc__, rows=16, max_new_tokens=64, steps=4)

    from anomseer.evaluation.backends import load_backend
    from anomseer.modeling import build_tiny_model

    work = Path(tempfile.mkdtemp(prefix="bench-vllm-"))
    model = build_tiny_model(work / "tiny")
    data = work / "data"
    # in a child process: the colocated engine below cannot start where numba has been loaded
    gen = [str(Path(sys.executable).with_name("anomseer")), "gen", "--preset", "tiny"]
    gen += ["--split", "train", "--out", str(data), "--num-per-family", "2"]
    subprocess.run(gen, check=True, capture_output=True)
    requests = requests_from(data, args.rows)

    hf = load_backend("hf", str(model), max_new_tokens=args.max_new_tokens)
    hf_rate = tokens_per_second(hf, requests)
    del hf
    start = time.perf_counter()
    vllm = load_backend("vllm", str(model), max_new_tokens=args.max_new_tokens, max_model_len=2048)
    engine_start = time.perf_counter() - start
    vllm_rate = tokens_per_second(vllm, requests)
    del vllm

    plain = step_seconds("timerpo/config_default.yaml", model, data, work / "hf", args.steps)
    colocated = step_seconds("timerpo/config_vllm.yaml", model, data, work / "vllm", args.steps)

    print(machine_line())
    print(f"engine start: {engine_start:.1f} s")
    print("| backend | completion tokens/s | vs hf |\n|---|---|---|")
    print(f"| hf | {hf_rate:.0f} | 1.00x |")
    print(f"| vllm | {vllm_rate:.0f} | {vllm_rate / hf_rate:.2f}x |")
    print("| TimerPO generation | step s | vs transformers |\n|---|---|---|")
    print(f"| transformers | {plain:.3f} | 1.00x |")
    print(f"| vLLM colocate | {colocated:.3f} | {colocated / plain:.2f}x |")


if __name__ == "__main__":
    main()
