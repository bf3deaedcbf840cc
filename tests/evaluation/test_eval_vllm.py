import importlib.util
import json
from types import SimpleNamespace

import pytest
from eval_fixtures import row_id

from anomseer.errors import UserInputError
from anomseer.evaluation import evaluate
from anomseer.evaluation.backends.base import Sampling
from anomseer.evaluation.backends.vllm import (
    VLLMBackend,
    engine_kwargs,
    processor_pixels,
    sampling_kwargs,
)
from anomseer.modeling import TINY_MAX_PIXELS, TINY_MIN_PIXELS, load_processor
from anomseer.protocol import format_answer

HAS_VLLM = importlib.util.find_spec("vllm") is not None


class StandInEngine:
    """Records what ``vllm.LLM.generate`` would receive; answers each prompt with the truth of
    the global-point row (so scores are not all zero) and then an unparseable text."""

    def __init__(self):
        self.calls = []

    def generate(self, prompts, sampling_params, use_tqdm=True):
        self.calls.append((prompts, sampling_params, use_tqdm))
        texts = (format_answer([[60, 61]], "global point", think="spike"), "no answer")
        return [
            SimpleNamespace(outputs=[SimpleNamespace(text=text) for text in texts]) for _ in prompts
        ]


def test_vllm_engine_and_sampling_arguments_follow_the_processor(tiny_model_dir):
    processor = load_processor(tiny_model_dir)
    pixels = processor_pixels(processor)
    assert pixels == {"min_pixels": TINY_MIN_PIXELS, "max_pixels": TINY_MAX_PIXELS}
    kwargs = engine_kwargs("ckpt", pixels, tensor_parallel_size=4, max_model_len=4096)
    assert kwargs["limit_mm_per_prompt"] == {"image": 1}
    assert kwargs["mm_processor_kwargs"] == pixels
    assert (kwargs["model"], kwargs["tensor_parallel_size"], kwargs["max_model_len"]) == (
        "ckpt",
        4,
        4096,
    )
    assert "max_model_len" not in engine_kwargs("ckpt", pixels)
    greedy = sampling_kwargs(Sampling(max_new_tokens=256))
    assert greedy == {"n": 1, "temperature": 0.0, "max_tokens": 256, "seed": None}
    sampled = sampling_kwargs(Sampling(temperature=0.4, n=5, seed=7))
    assert (sampled["n"], sampled["temperature"], sampled["seed"]) == (5, 0.4, 7)


def test_vllm_backend_builds_requests_for_a_stand_in_engine(eval_data, tiny_model_dir, tmp_path):
    processor = load_processor(tiny_model_dir)
    sampling = Sampling(max_new_tokens=64, temperature=0.4, n=2, seed=1)
    engine = StandInEngine()
    params = sampling_kwargs(sampling)  # vllm.SamplingParams(**params) on a GPU machine
    settings = {"model": "tiny", **processor_pixels(processor), **sampling.as_dict()}
    backend = VLLMBackend(engine, processor, sampling, params, settings)
    metrics = evaluate(eval_data, "eval", backend, tmp_path / "run", batch_size=5)

    assert [len(prompts) for prompts, _, _ in engine.calls] == [5, 2]
    prompts, sent_params, use_tqdm = engine.calls[0]
    assert sent_params is params and use_tqdm is False
    first = prompts[0]
    assert set(first) == {"prompt", "multi_modal_data"}
    assert first["prompt"].count("<|vision_start|><|image_pad|><|vision_end|>") == 1
    assert first["prompt"].endswith("<|im_start|>assistant\n")
    assert "length 200" in first["prompt"]
    assert first["multi_modal_data"]["image"].size == (1000, 150)

    assert metrics["completions_per_sample"] == 2 and metrics["overall"]["count"] == 14
    assert metrics["overall"]["invalid_answers"] == 7
    assert metrics["by_family"]["range"]["count"] == 4
    records = [json.loads(line) for line in (tmp_path / "run" / "predictions.jsonl").open()]
    spike = [r for r in records if r["id"] == row_id("range", 0)]
    assert [r["sample"] for r in spike] == [0, 1]
    assert spike[0]["scores"]["aff_f1"] == 1.0 and spike[1]["scores"]["aff_f1"] == 0.0


@pytest.mark.skipif(HAS_VLLM, reason="vllm is installed here")
def test_missing_vllm_names_the_extra(tiny_model_dir):
    with pytest.raises(UserInputError, match=r"uv sync --extra vllm.*anomseer\[vllm\]"):
        VLLMBackend.load(str(tiny_model_dir))


def _has_gpu() -> bool:
    import torch

    return torch.cuda.is_available()


@pytest.mark.gpu
@pytest.mark.slow
@pytest.mark.skipif(not HAS_VLLM, reason="needs the vllm extra")
def test_real_vllm_engine_on_the_tiny_model(eval_data, tiny_model_dir, tmp_path):
    if not _has_gpu():
        pytest.skip("needs a CUDA GPU")
    metrics = evaluate(
        eval_data,
        "eval",
        "vllm",
        tmp_path / "run",
        model=str(tiny_model_dir),
        max_new_tokens=8,
        gpu_memory_utilization=0.2,
        max_model_len=2048,
    )
    assert metrics["overall"]["count"] == 7 and metrics["overall"]["failures"] == 0
    records = [json.loads(line) for line in (tmp_path / "run" / "predictions.jsonl").open()]
    assert all(isinstance(r["output"], str) for r in records)
    assert metrics["run"]["settings"]["max_pixels"] == TINY_MAX_PIXELS
