import json

import numpy as np
import pytest

from anomseer.errors import UserInputError
from anomseer.evaluation.backends.hf import generate_completions
from anomseer.modeling import build_tiny_model, load_model_and_processor
from anomseer.protocol import build_messages, parse_answer
from data_gen.render import PlotRenderer


def test_tiny_model_reloads_and_answers_a_rendered_plot(tiny_model_dir):
    config = json.loads((tiny_model_dir / "config.json").read_text())
    assert config["model_type"] == "qwen2_5_vl"
    assert (tiny_model_dir / "model.safetensors").is_file()
    model, processor = load_model_and_processor(tiny_model_dir, dtype="float32")
    assert model.config.text_config.vocab_size == len(processor.tokenizer)
    image = PlotRenderer().render(np.sin(np.arange(1000) / 10))
    text = processor.apply_chat_template(
        build_messages(1000), add_generation_prompt=True, tokenize=False
    )
    inputs = processor(text=[text], images=[image], return_tensors="pt")
    image_tokens = int((inputs["input_ids"] == model.config.image_token_id).sum())
    assert image_tokens == 28  # a 1000 x 150 plot under the tiny pixel bounds
    completions = generate_completions(
        model, processor, [build_messages(1000)] * 2, [image, image], max_new_tokens=8
    )
    assert len(completions) == 2 and completions[0] == completions[1]
    assert all(isinstance(c, str) and c for c in completions)
    parse_answer(completions[0], 1000)


def test_build_is_idempotent(tiny_model_dir):
    before = (tiny_model_dir / "model.safetensors").stat().st_mtime_ns
    assert build_tiny_model(tiny_model_dir) == tiny_model_dir
    assert (tiny_model_dir / "model.safetensors").stat().st_mtime_ns == before


def test_demo_size_keeps_head_dim_32(tmp_path):
    config = json.loads(
        (build_tiny_model(tmp_path / "demo", size="demo") / "config.json").read_text()
    )
    text, vision = config["text_config"], config["vision_config"]
    assert text["hidden_size"] // text["num_attention_heads"] == 32  # vLLM's CPU attention
    assert (text["hidden_size"], text["num_hidden_layers"], vision["hidden_size"]) == (128, 4, 64)
    assert vision["out_hidden_size"] == text["hidden_size"]
    with pytest.raises(UserInputError, match="unknown tiny-model size 'huge'"):
        build_tiny_model(tmp_path / "huge", size="huge")


def test_missing_model_path_is_a_clear_error(tmp_path):
    with pytest.raises(UserInputError, match="does not exist"):
        load_model_and_processor(tmp_path / "nowhere")
