"""The completions' last hidden states kept while ``generate`` makes them equal a plain forward
over prompt and completion (tiny Qwen2.5-VL, images, left-padded prompts of different lengths,
rows ending at different EOS positions)."""

import pytest
import torch
from helpers.sft_dataset import sft_rows


@pytest.fixture(scope="module")
def tiny_policy(tiny_model_dir):
    from anomseer.modeling import load_model_and_processor

    model, processor = load_model_and_processor(tiny_model_dir, dtype="float32")
    processor.tokenizer.padding_side = "left"
    return model, processor


def prompt_inputs(processor, count: int) -> dict:
    """``count`` plot prompts as the processor encodes them, left-padded (each row one word
    longer than the one before)."""
    rows = sft_rows(count)
    texts = [
        processor.apply_chat_template(row["prompt"], add_generation_prompt=True, tokenize=False)
        + " more" * index
        for index, row in enumerate(rows)
    ]
    images = [[row["image"]] for row in rows]
    return dict(processor(text=texts, images=images, padding=True, return_tensors="pt"))


def generate_with_states(model, inputs, new_tokens: int, eos: int, pad: int, **extra):
    """Greedy completions cut after their first ``eos`` (as TRL cuts them) and the states
    kept while generating them; ``extra`` goes to ``generate``."""
    from anomseer.trainers.hidden_states import generated_hidden_states

    with torch.no_grad(), generated_hidden_states(model) as reading:
        output = model.generate(
            **inputs,
            max_new_tokens=new_tokens,
            do_sample=False,
            eos_token_id=eos,
            pad_token_id=pad,
            **extra,
        )
        completions = []
        for row in output[:, inputs["input_ids"].size(1) :].tolist():
            completions.append(row[: row.index(eos) + 1] if eos in row else row)
        states = reading.finish(completions, pad)
    return completions, states


def forward_states(model, inputs, completions, pad: int):
    """The completion states of one plain forward over prompt and completion, and the mask."""
    from anomseer.trainers.hidden_states import completion_hidden_states

    width = max(len(ids) for ids in completions)
    ids = torch.tensor([row + [pad] * (width - len(row)) for row in completions])
    mask = torch.tensor([[1] * len(row) + [0] * (width - len(row)) for row in completions])
    batch = {
        "prompt_ids": inputs["input_ids"],
        "prompt_mask": inputs["attention_mask"],
        "completion_ids": ids,
        "completion_mask": mask,
        "pixel_values": inputs["pixel_values"],
        "image_grid_thw": inputs["image_grid_thw"],
        "num_images": [1] * len(completions),
    }
    if "mm_token_type_ids" in inputs:
        types = inputs["mm_token_type_ids"]
        batch["mm_token_type_ids"] = torch.cat([types, torch.zeros_like(ids)], dim=1)
    rows = len(completions)
    states, valid = next(completion_hidden_states(model, batch, rows))
    return states, valid


@pytest.mark.parametrize("new_tokens", [1, 9])
def test_states_kept_during_generation_match_a_forward(tiny_policy, new_tokens):
    model, processor = tiny_policy
    pad = processor.tokenizer.pad_token_id
    inputs = prompt_inputs(processor, 3)
    assert (inputs["attention_mask"] == 0).any()  # left padding is in play
    free, _ = generate_with_states(model, inputs, new_tokens, pad, pad, min_new_tokens=new_tokens)
    # an EOS that row 0 generates third: rows end at different lengths
    eos = free[0][min(2, new_tokens - 1)]
    completions, states = generate_with_states(model, inputs, new_tokens, eos, pad)
    if new_tokens > 1:
        assert len({len(row) for row in completions}) > 1
    reference, valid = forward_states(model, inputs, completions, pad)
    assert states.shape == reference.shape
    torch.testing.assert_close(states[valid], reference[valid], atol=1e-5, rtol=1e-4)


def test_one_more_forward_than_generate_makes(tiny_policy):
    """The states cost one forward after ``generate``, however many tokens it made."""
    from anomseer.trainers.hidden_states import generated_hidden_states

    model, processor = tiny_policy
    pad = processor.tokenizer.pad_token_id
    inputs = prompt_inputs(processor, 2)
    forwards = []
    handle = model.register_forward_pre_hook(lambda module, args: forwards.append(1))
    try:
        with torch.no_grad(), generated_hidden_states(model) as reading:
            model.generate(**inputs, max_new_tokens=5, min_new_tokens=5, do_sample=False)
            made = len(forwards)
            reading.finish([[pad] * 5, [pad] * 5], pad)
    finally:
        handle.remove()
    assert made == 5
    assert len(forwards) == made + 1


def test_dropout_free():
    from peft import LoraConfig, get_peft_model
    from transformers import Qwen2Config, Qwen2ForCausalLM

    from anomseer.trainers.hidden_states import dropout_free

    settings = dict(
        vocab_size=32,
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=1,
    )
    assert dropout_free(Qwen2ForCausalLM(Qwen2Config(**settings)))
    assert not dropout_free(Qwen2ForCausalLM(Qwen2Config(**settings, attention_dropout=0.1)))
    targets = ["q_proj", "v_proj"]
    for rate, expected in ((0.0, True), (0.1, False)):
        model = Qwen2ForCausalLM(Qwen2Config(**settings))
        lora = LoraConfig(r=2, lora_alpha=4, lora_dropout=rate, target_modules=targets)
        assert dropout_free(get_peft_model(model, lora)) is expected


def test_text_tokens_are_kept_by_text_and_bounded(tiny_policy):
    from anomseer.trainers.hidden_states import TextTokens

    _, processor = tiny_policy
    tokenizer = processor.tokenizer
    calls = []

    def counting(texts, **kwargs):
        calls.append(list(texts))
        return tokenizer(texts, **kwargs)

    tokens = TextTokens(counting, max_tokens=4, size=2)
    texts = ["the level rises sharply", "flat", "the level rises sharply"]
    expected = tokenizer(texts, add_special_tokens=False, truncation=True, max_length=4)
    assert tokens(texts) == expected["input_ids"]
    assert calls == [["the level rises sharply", "flat"]]  # each text once
    tokens(["flat"])
    assert len(calls) == 1  # kept
    tokens(["a third text"])  # the oldest, "the level rises sharply", is dropped
    tokens(["flat", "the level rises sharply"])
    assert calls[-1] == ["the level rises sharply"]
