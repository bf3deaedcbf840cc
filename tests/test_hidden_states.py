"""The completions' last hidden states kept while ``generate`` makes them equal a plain forward
over prompt and completion (tiny Qwen2.5-VL, images, left-padded prompts of different lengths,
rows ending at different EOS positions), also in two processes that finish at different steps
under ``synced_gpus``."""

import os
import subprocess
from pathlib import Path

import pytest
import torch
from helpers.synced_generation import (
    ROWS,
    forward_states,
    generate_with_states,
    load_policy,
    prompt_inputs,
)
from helpers.training_cli import launch_command, wait_for_launch

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def tiny_policy(tiny_model_dir):
    return load_policy(tiny_model_dir)


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


@pytest.mark.slow
def test_two_processes_finishing_at_different_steps_stay_in_step(
    tiny_policy, tiny_model_dir, tmp_path
):
    """Under ``synced_gpus`` with a collective in every forward, rank 0 ends near step 3 and
    rank 1 near step 8: the one done first keeps making forwards, both make the same number
    (no hang), and each rank's states still equal a plain forward over its completions."""
    command = launch_command(
        2,
        Path(__file__).parent / "helpers" / "synced_generation.py",
        str(tiny_model_dir),
        str(tmp_path),
        "3",
        "8",
    )
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), str(ROOT / "tests")]))
    launched = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env
    )
    wait_for_launch(launched, timeout=300)

    ranks = [torch.load(tmp_path / f"rank{rank}.pt") for rank in range(2)]
    widths = [max(len(row) for row in rank["completions"]) for rank in ranks]
    assert widths[0] < widths[1]  # rank 0 is done first and goes on making forwards
    # the prefill and a decode step per later token of the longest rank, then finish's one
    assert [rank["forwards"] for rank in ranks] == [widths[1] + 1] * 2
    model, processor = tiny_policy
    pad = processor.tokenizer.pad_token_id
    for index, rank in enumerate(ranks):
        inputs = prompt_inputs(processor, ROWS, seed=index)
        reference, valid = forward_states(model, inputs, rank["completions"], pad)
        states = rank["states"]
        assert states is not None and states.shape == reference.shape, index
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
