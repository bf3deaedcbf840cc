"""GPU check: one bf16 SFT step and one TimerPO step of a random-initialised, full-size
Qwen2.5-VL-3B, with step time and peak memory.

The model has Qwen2.5-VL-3B-Instruct's shapes (36 layers, hidden 2048, vision tower of 32
blocks, 151,936-token vocabulary) and random weights; the tokenizer and processor are the
offline tiny model's (its ids fit the vocabulary), so nothing is downloaded. The plot is a
real line plot of the prompt's size. Each step runs twice and the second is reported (the first
pays CUDA's warm-up):

- SFT: prompt + ExpCoT answer, loss on the answer tokens, backward, AdamW step; gradient
  checkpointing as the recipes.
- TimerPO: transformers sampling of ``--group`` completions of ``--completion-tokens`` tokens,
  the rewards, the grounding of SPEC section 5 as the trainer runs it (policy hidden states in
  eval mode, ExpCoT read alone, batched transport solve, grounded advantage, projection), the
  reference model's log-probabilities, then the on-policy clipped-objective gradient (ratio 1:
  -A * log-prob per token) with the k3 KL term, backward and AdamW step.

    python scripts/gpu_check.py                      # one CUDA GPU: under 8 minutes on an H200
    python scripts/gpu_check.py --tiny --device cpu  # the tiny model, what the test runs

Needs torch, transformers, numpy and POT (the transport solve); not trl, peft, accelerate,
datasets or vllm.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch

QWEN2_5_VL_3B = {
    "text_config": {
        "hidden_size": 2048,
        "intermediate_size": 11008,
        "num_hidden_layers": 36,
        "num_attention_heads": 16,
        "num_key_value_heads": 2,
        "max_position_embeddings": 128000,
        "rms_norm_eps": 1e-6,
        "vocab_size": 151936,
        "rope_parameters": {
            "rope_type": "default",
            "rope_theta": 1000000.0,
            "mrope_section": [16, 24, 24],
        },
    },
    "vision_config": {
        "depth": 32,
        "hidden_size": 1280,
        "intermediate_size": 3420,
        "num_heads": 16,
        "out_hidden_size": 2048,
        "window_size": 112,
        "fullatt_block_indexes": [7, 15, 23, 31],
    },
    "tie_word_embeddings": True,
}
"""Qwen2.5-VL-3B-Instruct's published shapes."""
SERIES_LENGTH = 1000
EXPCOT = (
    "<think>The series is a regular sine with small noise until index 500, where a single "
    "point jumps far above the envelope and returns at once; nothing else departs from the "
    "period.</think><answer>[[500, 501]]</answer><class>global point</class>"
)


def build_model(tiny_dir: Path, full_size: bool, device: torch.device, dtype: torch.dtype):
    """A random-initialised Qwen2.5-VL on ``device``: the tiny one, or 3B-size with the tiny
    model's special-token ids."""
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

    config = Qwen2_5_VLConfig.from_pretrained(tiny_dir)
    if full_size:
        ids = {
            key: getattr(config, key)
            for key in (
                "image_token_id",
                "video_token_id",
                "vision_start_token_id",
                "vision_end_token_id",
            )
        }
        text = config.text_config
        text_config = {
            **QWEN2_5_VL_3B["text_config"],
            "bos_token_id": text.bos_token_id,
            "eos_token_id": text.eos_token_id,
            "pad_token_id": text.pad_token_id,
        }
        config = Qwen2_5_VLConfig(
            text_config=text_config,
            vision_config=QWEN2_5_VL_3B["vision_config"],
            tie_word_embeddings=QWEN2_5_VL_3B["tie_word_embeddings"],
            **ids,
        )
    torch.manual_seed(0)
    with device:
        model = Qwen2_5_VLForConditionalGeneration._from_config(config, dtype=dtype)
    return model


def plot_image():
    """A 1000-point sine with one spike as a 1000 x 150 px line plot, the size of the data's
    plots (drawn with Pillow: no matplotlib needed)."""
    import math

    from PIL import Image, ImageDraw

    image = Image.new("RGB", (1000, 150), "white")
    values = [0.6 * math.sin(i / 20.0) for i in range(SERIES_LENGTH)]
    values[500] = 0.95
    points = [(i, 75 - 70 * v) for i, v in enumerate(values)]
    ImageDraw.Draw(image).line(points, fill=(70, 130, 180), width=1)
    return image


def timed(step: Callable[[], dict], device: torch.device) -> dict:
    """Run ``step`` twice; the second run's wall time and peak memory (CUDA only)."""
    step()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
    start = time.perf_counter()
    info = step()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        info["peak GiB"] = torch.cuda.max_memory_allocated(device) / 2**30
    info["seconds"] = time.perf_counter() - start
    return info


def completion_log_probs(model, sequences, attention_mask, width, **image) -> torch.Tensor:
    """Log-probability of each of the last ``width`` tokens of ``sequences``."""
    logits = model(
        input_ids=sequences, attention_mask=attention_mask, logits_to_keep=width + 1, **image
    ).logits[:, :-1]
    return (
        torch.log_softmax(logits.float(), dim=-1)
        .gather(-1, sequences[:, -width:, None])
        .squeeze(-1)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="the tiny model instead of 3B")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--group", type=int, default=5, help="completions per prompt (G)")
    parser.add_argument("--completion-tokens", type=int, default=256)
    args = parser.parse_args()

    from transformers import AutoProcessor

    from anomseer.grounding import grounded_advantage, grounded_similarity
    from anomseer.modeling import build_tiny_model
    from anomseer.projection import combine_advantages, orthogonalize_advantages
    from anomseer.protocol import build_messages
    from anomseer.rewards import get_reward_funcs
    from anomseer.trainers.hidden_states import (
        TextTokens,
        completion_hidden_states,
        eval_mode,
        text_hidden_states,
    )

    device = torch.device(args.device)
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    tiny_dir = build_tiny_model(Path(tempfile.mkdtemp(prefix="gpu-check-")) / "tiny")
    processor = AutoProcessor.from_pretrained(tiny_dir)
    tokenizer = processor.tokenizer
    start = time.perf_counter()
    policy = build_model(tiny_dir, not args.tiny, device, dtype)
    reference = build_model(tiny_dir, not args.tiny, device, dtype).eval().requires_grad_(False)
    parameters = sum(p.numel() for p in policy.parameters())
    print(
        f"{'tiny' if args.tiny else 'Qwen2.5-VL-3B-size'} model, {parameters / 1e6:,.1f} M "
        f"parameters, {dtype}, {device}; built in {time.perf_counter() - start:.1f} s"
    )
    optimizer = torch.optim.AdamW(policy.parameters(), lr=1e-6, weight_decay=0.01)
    prompt = processor.apply_chat_template(
        build_messages(SERIES_LENGTH), add_generation_prompt=True
    )
    image = plot_image()

    def encode(texts: list[str]) -> dict:
        encoded = processor(
            text=texts, images=[image] * len(texts), return_tensors="pt", padding=True
        )
        return {key: value.to(device) for key, value in encoded.items()}

    def sft_step() -> dict:
        policy.train()
        policy.gradient_checkpointing_enable({"use_reentrant": False})
        batch = encode([prompt + EXPCOT + "<|im_end|>"])
        prompt_tokens = encode([prompt])["input_ids"].size(1)
        labels = batch["input_ids"].clone()
        labels[:, :prompt_tokens] = -100
        loss = policy(**batch, labels=labels).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        policy.gradient_checkpointing_disable()
        return {"loss": loss.item(), "tokens": batch["input_ids"].numel()}

    tokenizer.padding_side = "left"
    config = policy.config
    vision_tokens = [
        config.image_token_id,
        config.video_token_id,
        config.vision_start_token_id,
        config.vision_end_token_id,
    ]
    rewards = get_reward_funcs(["localization", "class", "format"])
    weights = torch.tensor([0.7, 0.2, 0.1], device=device)

    def timerpo_step() -> dict:
        began = time.perf_counter()
        group, width = args.group, args.completion_tokens
        prompts = encode([prompt] * group)
        policy.eval()
        with torch.no_grad():
            sequences = policy.generate(
                **prompts,
                do_sample=True,
                temperature=1.0,
                max_new_tokens=width,
                min_new_tokens=width,  # every completion as long as the limit: a worst case
                suppress_tokens=vision_tokens,  # random weights would sample image tokens
            )
        generated = time.perf_counter()
        prompt_width = prompts["input_ids"].size(1)
        completion_ids = sequences[:, prompt_width:]
        width = completion_ids.size(1)
        texts = tokenizer.batch_decode(completion_ids, skip_special_tokens=True)
        columns = {"intervals": [[[500, 501]]] * group, "anomaly_type": ["global point"] * group}
        columns["length"] = [SERIES_LENGTH] * group
        per_term = torch.tensor([f(texts, **columns) for f in rewards], device=device)
        reward = (weights[:, None] * per_term).sum(dim=0).double()
        a_main = reward - reward.mean()
        image_inputs = {k: prompts[k] for k in ("pixel_values", "image_grid_thw")}
        batch = {
            "prompt_ids": prompts["input_ids"],
            "prompt_mask": prompts["attention_mask"],
            "completion_ids": completion_ids,
            "completion_mask": torch.ones_like(completion_ids),
            "num_images": [1] * group,
            **image_inputs,
        }
        autocast = torch.autocast(device.type, dtype=dtype, enabled=device.type == "cuda")
        with torch.no_grad(), eval_mode(policy), autocast:
            expcot, expcot_mask = text_hidden_states(
                policy, TextTokens(tokenizer, 512)([EXPCOT]), group, device
            )
            states, mask = next(completion_hidden_states(policy, batch, group))
        similarity = grounded_similarity(
            states, mask, expcot.expand(group, -1, -1), expcot_mask.expand(group, -1)
        ).similarity
        a_ts = orthogonalize_advantages(grounded_advantage(similarity, group), a_main, group)
        advantages = combine_advantages(a_main, a_ts, 0.3).float()
        attention = torch.cat([prompts["attention_mask"], batch["completion_mask"]], dim=1)
        with torch.no_grad():
            reference_logps = completion_log_probs(
                reference, sequences, attention, width, **image_inputs
            )
        policy.train()
        policy.gradient_checkpointing_enable({"use_reentrant": False})
        logps = completion_log_probs(policy, sequences, attention, width, **image_inputs)
        ratio = torch.exp(logps - logps.detach())  # on-policy: 1, with the policy's gradient
        delta = reference_logps - logps
        kl = torch.exp(delta) - delta - 1
        loss = (-ratio * advantages[:, None] + 0.001 * kl).mean()
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        policy.gradient_checkpointing_disable()
        return {
            "completions": group,
            "completion tokens": width,
            "generation s": generated - began,
            "mean s": similarity.mean().item(),
        }

    for name, step in (("SFT step", sft_step), ("TimerPO step", timerpo_step)):
        info = timed(step, device)
        shown = ", ".join(
            f"{key} {value:.3g}" if isinstance(value, float) else f"{key} {value}"
            for key, value in info.items()
        )
        print(f"{name}: {shown}")


if __name__ == "__main__":
    main()
