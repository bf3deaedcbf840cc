"""The vllm backend on a real engine (the CPU build here, the CUDA one on a GPU machine): one
engine per module, started on the tiny model."""

import json

import pytest
from helpers.eval_fixtures import univariate_rows

from anomseer.evaluation import evaluate
from anomseer.evaluation.backends import load_backend
from anomseer.evaluation.backends.base import Sampling
from anomseer.evaluation.backends.hf import generate_completions
from anomseer.evaluation.backends.vllm import (
    VLLMOptions,
    engine_kwargs,
    processor_pixels,
    sampling_kwargs,
)
from anomseer.modeling import (
    TINY_MAX_PIXELS,
    TINY_MIN_PIXELS,
    load_model_and_processor,
    load_processor,
)

MAX_NEW_TOKENS = 12


@pytest.fixture(scope="module")
def engine(tiny_model_dir):
    """The vllm backend on the tiny model, greedy, started once for the module."""
    backend = load_backend(
        "vllm",
        str(tiny_model_dir),
        kv_cache_gib=1,
        max_model_len=2048,
        max_new_tokens=MAX_NEW_TOKENS,
    )
    yield backend
    del backend.engine


def test_vllm_engine_and_sampling_arguments_follow_the_processor(tiny_model_dir):
    processor = load_processor(tiny_model_dir)
    pixels = processor_pixels(processor)
    assert pixels == {"min_pixels": TINY_MIN_PIXELS, "max_pixels": TINY_MAX_PIXELS}
    options = VLLMOptions(tensor_parallel_size=4, max_model_len=4096)
    kwargs = engine_kwargs("ckpt", pixels, options, "float32", cpu=False)
    assert kwargs["limit_mm_per_prompt"] == {"image": 1}
    assert (kwargs["dtype"], kwargs["gpu_memory_utilization"]) == ("float32", 0.9)
    assert kwargs["mm_processor_kwargs"] == pixels
    assert (kwargs["model"], kwargs["tensor_parallel_size"], kwargs["max_model_len"]) == (
        "ckpt",
        4,
        4096,
    )
    assert kwargs["enforce_eager"] is False and kwargs["seed"] == 0
    cpu = engine_kwargs("ckpt", pixels, VLLMOptions(seed=3), "float32", cpu=True)
    assert "max_model_len" not in cpu and "gpu_memory_utilization" not in cpu
    assert cpu["enforce_eager"] is True and cpu["seed"] == 3
    greedy = sampling_kwargs(Sampling(max_new_tokens=256))
    assert greedy == {"n": 1, "temperature": 0.0, "max_tokens": 256, "seed": None}
    sampled = sampling_kwargs(Sampling(temperature=0.4, n=5, seed=7))
    assert (sampled["n"], sampled["temperature"], sampled["seed"]) == (5, 0.4, 7)


@pytest.mark.slow
def test_vllm_backend_scores_every_row_with_the_hf_backends_greedy_answers(
    engine, eval_data, tiny_model_dir, tmp_path
):
    assert engine.settings()["dtype"] == "float32"  # the checkpoint's, as the hf backend loads it
    metrics = evaluate(eval_data, "eval", engine, tmp_path / "run", batch_size=4)
    assert metrics["overall"]["count"] == 7 and metrics["overall"]["failures"] == 0
    assert metrics["run"]["settings"]["max_pixels"] == TINY_MAX_PIXELS
    records = [json.loads(line) for line in (tmp_path / "run" / "predictions.jsonl").open()]
    rows = univariate_rows()
    assert [r["id"] for r in records] == [row["id"] for row in rows]
    assert all(r["error"] is None and r["scores"] is not None for r in records)

    model, processor = load_model_and_processor(tiny_model_dir, dtype="float32")
    expected = generate_completions(
        model,
        processor,
        [row["prompt"] for row in rows],
        [row["image"] for row in rows],
        max_new_tokens=MAX_NEW_TOKENS,
    )
    got = [r["output"] for r in records]
    assert got == expected
