"""Load Qwen2.5-VL checkpoints and their processors, and build the offline tiny Qwen2.5-VL.

The tiny model has random weights and a byte-level BPE tokenizer trained here, so tests and
the demo run every stage for real without a model hub.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from anomseer.atomic_files import atomic_folder
from anomseer.errors import UserInputError
from anomseer.protocol import ANOMALY_LABELS, LABELS, build_prompt, format_answer

if TYPE_CHECKING:
    from transformers import PreTrainedModel, ProcessorMixin

TINY_MIN_PIXELS = 3136
"""Pixel bounds of the tiny model: a 1000 x 150 plot becomes 32 image tokens."""
TINY_MAX_PIXELS = 224 * 112
DEFAULT_MIN_PIXELS = 3136
DEFAULT_MAX_PIXELS = 1000 * 28 * 28

QWEN_SPECIAL_TOKENS = (
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|object_ref_start|>",
    "<|object_ref_end|>",
    "<|box_start|>",
    "<|box_end|>",
    "<|quad_start|>",
    "<|quad_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|vision_pad|>",
    "<|image_pad|>",
    "<|video_pad|>",
)

# The Qwen2.5-VL chat template (system turn added when missing, one vision block per image).
QWEN2_5_VL_CHAT_TEMPLATE = (
    "{% set image_count = namespace(value=0) %}{% set video_count = namespace(value=0) %}"
    "{% for message in messages %}{% if loop.first and message['role'] != 'system' %}"
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %}"
    "<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}<|im_end|>\n"
    "{% else %}{% for content in message['content'] %}"
    "{% if content['type'] == 'image' or 'image' in content or 'image_url' in content %}"
    "{% set image_count.value = image_count.value + 1 %}"
    "{% if add_vision_id %}Picture {{ image_count.value }}: {% endif %}"
    "<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif content['type'] == 'video' or 'video' in content %}"
    "{% set video_count.value = video_count.value + 1 %}"
    "{% if add_vision_id %}Video {{ video_count.value }}: {% endif %}"
    "<|vision_start|><|video_pad|><|vision_end|>"
    "{% elif 'text' in content %}{{ content['text'] }}{% endif %}{% endfor %}<|im_end|>\n"
    "{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

TINY_TEXT_CONFIG = {
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "num_key_value_heads": 1,
    "max_position_embeddings": 4096,
    "rope_parameters": {"rope_type": "default", "rope_theta": 10000.0, "mrope_section": [4, 6, 6]},
}
"""Text head_dim 32 (64 / 2 heads): the smallest head size vLLM's CPU attention accepts."""
TINY_VISION_CONFIG = {
    "depth": 2,
    "hidden_size": 32,
    "intermediate_size": 64,
    "num_heads": 2,
    "out_hidden_size": 64,
    "window_size": 112,
    "fullatt_block_indexes": [1],
}
TINY_SIZES = {
    "test": ({}, {}),
    "demo": (
        {"hidden_size": 128, "intermediate_size": 256, "num_hidden_layers": 4,
         "num_attention_heads": 4},
        {"hidden_size": 64, "intermediate_size": 128, "num_heads": 2, "out_hidden_size": 128},
    ),
}  # fmt: skip
"""Size name -> (text, vision) overrides of the tiny configs. ``test`` (0.4 M parameters) is
what the test suite uses; ``demo`` (hidden 128, 4 layers, vision hidden 64, about 1.2 M) is
sized to learn the task in the demo. Both keep text head_dim 32 for vLLM's CPU attention."""
TINY_VOCAB_TARGET = 1024
_HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")


def _tokenizer_corpus() -> list[str]:
    """Text the tiny tokenizer is trained on: prompts, answers and reasoning words."""
    lines = [build_prompt(length) for length in (150, 200, 400, 1000)]
    lines += [build_prompt(200, variates) for variates in (4, 9, 16)]
    lines += [
        format_answer([(i, i + 7), (3 * i, 3 * i + 11)], label)
        for i, label in enumerate(LABELS[:-1], start=5)
    ]
    lines += [format_answer([], "normal"), " ".join(ANOMALY_LABELS)]
    lines += [
        "The global mean is 0.01 and the standard deviation is 0.35; the largest |z| is 4.2 "
        "at index 512. The rolling z-score peaks at 5.1 near 300. The dominant period is 33 "
        "points; the sliding-window period departs from it between 420 and 470. The smoothed "
        "gradient leaves its 3 sigma band from 610 to 690. The matrix-profile discord starts "
        "at 128 with z-score 3.7. Therefore the anomaly lies in this interval.",
        " ".join(str(i) for i in range(0, 1001)),
    ]
    return lines


def _train_tokenizer() -> Any:
    """A Qwen2Tokenizer whose byte-level BPE was trained here on the task's own text."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import Qwen2Tokenizer
    from transformers.models.qwen2.tokenization_qwen2 import PRETOKENIZE_REGEX

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(PRETOKENIZE_REGEX), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=TINY_VOCAB_TARGET,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        special_tokens=["<|endoftext|>"],
        show_progress=False,
    )
    bpe.train_from_iterator(_tokenizer_corpus(), trainer=trainer)
    model_state = json.loads(bpe.to_str())["model"]
    tokenizer = Qwen2Tokenizer(
        vocab=model_state["vocab"],
        merges=[
            tuple(m) if isinstance(m, list) else tuple(m.split()) for m in model_state["merges"]
        ],
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
    )
    tokenizer.add_special_tokens({"additional_special_tokens": list(QWEN_SPECIAL_TOKENS[1:])})
    tokenizer.chat_template = QWEN2_5_VL_CHAT_TEMPLATE
    return tokenizer


def _build_processor(tokenizer: Any, min_pixels: int, max_pixels: int) -> ProcessorMixin:
    from transformers import Qwen2_5_VLProcessor, Qwen2VLImageProcessor, Qwen2VLVideoProcessor

    size = {"shortest_edge": min_pixels, "longest_edge": max_pixels}
    return Qwen2_5_VLProcessor(
        image_processor=Qwen2VLImageProcessor(size=dict(size)),
        tokenizer=tokenizer,
        video_processor=Qwen2VLVideoProcessor(size=dict(size)),
        chat_template=QWEN2_5_VL_CHAT_TEMPLATE,
    )


def build_tiny_model(path: str | os.PathLike, seed: int = 0, size: str = "test") -> Path:
    """Build the offline tiny Qwen2.5-VL (random weights) of ``size`` (a ``TINY_SIZES`` name)
    into ``path`` and return it.

    The folder loads with ``AutoProcessor`` and ``AutoModelForImageTextToText``. It is
    written to a temporary sibling first and renamed, so a folder that exists is complete.
    """
    import torch
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

    if size not in TINY_SIZES:
        known = ", ".join(TINY_SIZES)
        raise UserInputError(f"unknown tiny-model size {size!r}; use one of {known}")
    target = Path(path)
    if (target / "config.json").is_file():
        return target
    text_overrides, vision_overrides = TINY_SIZES[size]
    tokenizer = _train_tokenizer()
    processor = _build_processor(tokenizer, TINY_MIN_PIXELS, TINY_MAX_PIXELS)
    ids = {token: tokenizer.convert_tokens_to_ids(token) for token in QWEN_SPECIAL_TOKENS}
    text_config = dict(
        TINY_TEXT_CONFIG,
        **text_overrides,
        vocab_size=len(tokenizer),
        bos_token_id=ids["<|endoftext|>"],
        eos_token_id=ids["<|im_end|>"],
        pad_token_id=ids["<|endoftext|>"],
    )
    config = Qwen2_5_VLConfig(
        text_config=text_config,
        vision_config=dict(TINY_VISION_CONFIG, **vision_overrides),
        image_token_id=ids["<|image_pad|>"],
        video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"],
        vision_end_token_id=ids["<|vision_end|>"],
        tie_word_embeddings=False,
    )
    torch.manual_seed(seed)
    model = Qwen2_5_VLForConditionalGeneration(config)
    model.generation_config.eos_token_id = [ids["<|im_end|>"], ids["<|endoftext|>"]]
    model.generation_config.pad_token_id = ids["<|endoftext|>"]
    with atomic_folder(target) as folder:
        model.save_pretrained(folder)
        processor.save_pretrained(folder)
    return target


def load_processor(
    name_or_path: str | os.PathLike,
    min_pixels: int | None = None,
    max_pixels: int | None = None,
    trust_remote_code: bool = False,
) -> ProcessorMixin:
    """The checkpoint's processor, with pixel bounds overridden when given."""
    from transformers import AutoProcessor

    _check_local_path(name_or_path)
    kwargs: dict[str, Any] = {}
    if min_pixels is not None or max_pixels is not None:
        processor = AutoProcessor.from_pretrained(name_or_path, trust_remote_code=trust_remote_code)
        size = dict(processor.image_processor.size)
        if min_pixels is not None:
            size["shortest_edge"] = min_pixels
        if max_pixels is not None:
            size["longest_edge"] = max_pixels
        kwargs["size"] = size
    return AutoProcessor.from_pretrained(
        name_or_path, trust_remote_code=trust_remote_code, **kwargs
    )


def load_model_and_processor(
    name_or_path: str | os.PathLike,
    dtype: str = "auto",
    attn_implementation: str | None = None,
    min_pixels: int | None = None,
    max_pixels: int | None = None,
    device_map: str | dict | None = None,
    trust_remote_code: bool = False,
) -> tuple[PreTrainedModel, ProcessorMixin]:
    """A Qwen2.5-VL model (hub id or folder, safetensors only) and its processor."""
    from transformers import AutoModelForImageTextToText

    processor = load_processor(name_or_path, min_pixels, max_pixels, trust_remote_code)
    model = AutoModelForImageTextToText.from_pretrained(
        name_or_path,
        dtype=dtype,
        attn_implementation=attn_implementation,
        device_map=device_map,
        use_safetensors=True,
        trust_remote_code=trust_remote_code,
    )
    return model, processor


def is_hub_id(text: str) -> bool:
    """Whether ``text`` has the shape of a hub repository id (``owner/name``)."""
    return _HUB_ID.fullmatch(text) is not None


CHECKPOINT_MARKERS = ("config.json", "adapter_config.json", "processor_config.json")
"""Files one of which a model, adapter or processor folder holds."""


def _check_local_path(name_or_path: str | os.PathLike) -> None:
    """Fail with one clear line for a path that is neither a checkpoint folder here nor a hub
    id."""
    text = str(name_or_path)
    path = Path(text).expanduser()
    if path.is_file():
        raise UserInputError(
            f"model path {text!r} is a file; pass the checkpoint folder (the one holding "
            "config.json) or a hub id"
        )
    if path.is_dir():
        if not any((path / name).is_file() for name in CHECKPOINT_MARKERS):
            raise UserInputError(
                f"model folder {text!r} holds no config.json, so it is not a model checkpoint; "
                "pass the folder a training run or 'anomseer tiny-model' wrote"
            )
        return
    if is_hub_id(text):
        return
    raise UserInputError(
        f"model path {text!r} does not exist; pass a local checkpoint folder or a hub id "
        "like 'Qwen/Qwen2.5-VL-3B-Instruct' (build the offline one with "
        "'anomseer tiny-model DIR')"
    )
