"""SFT on the offline tiny Qwen2.5-VL: labels, overfitting, LoRA and full fine-tuning, export,
resume, two processes, recipes and bad input."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from helpers.sft_dataset import write_sft_dataset
from helpers.training_cli import launch_command, recipe_args
from safetensors.torch import load_file

from anomseer.cli import main as cli_main
from anomseer.errors import UserInputError
from anomseer.protocol import parse_answer

ROOT = Path(__file__).resolve().parents[1]
TINY_RECIPE = ROOT / "recipes" / "tiny-cpu" / "sft" / "config_default.yaml"


@pytest.fixture(scope="module")
def sft_data(tmp_path_factory):
    """Eight rows with the ``anomseer gen`` contract, saved as parquet."""
    return write_sft_dataset(tmp_path_factory.mktemp("sft-data"), count=8)


def sft_args(model_dir, data_dir, out_dir, *flags):
    """The tiny recipe with its paths pointed at the test's model, data and output."""
    return recipe_args(TINY_RECIPE, model_dir, data_dir, out_dir, *flags)


def train(*args):
    from anomseer.trainers.sft import main

    return main(sft_args(*args))


def losses(trainer):
    return [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]


# ---------------------------------------------------------------------------- collator


def test_labels_are_exactly_the_completion_and_its_end_token(tiny_model_dir, sft_data, tmp_path):
    from datasets import load_dataset

    from anomseer.modeling import load_processor
    from anomseer.trainers.sft import AnomSeerSFTConfig, build_collator
    from anomseer.trainers.training_data import sequence_lengths

    dataset = load_dataset(str(sft_data), split="train")
    # after the parquet round trip the image part carries every struct key
    assert dataset[0]["prompt"][0]["content"][0] == {"type": "image", "text": None}
    processor = load_processor(tiny_model_dir)
    config = AnomSeerSFTConfig(output_dir=str(tmp_path), use_cpu=True, bf16=False, max_length=None)
    rows = [dict(dataset[0]), dict(dataset[1])]  # different completion lengths: padding
    batch = build_collator(processor, config)(rows)
    tokenizer = processor.tokenizer
    end_id = tokenizer.convert_tokens_to_ids("<|im_end|>")
    vision_ids = {
        tokenizer.convert_tokens_to_ids(t)
        for t in ("<|image_pad|>", "<|vision_start|>", "<|vision_end|>")
    }
    lengths = sequence_lengths(dataset.select([0, 1]), processor)
    for i in range(len(rows)):
        text = dataset[i]["completion"][0]["content"][0]["text"]
        expected = tokenizer(text, add_special_tokens=False)["input_ids"] + [end_id]
        labels = batch["labels"][i]
        labelled = (labels != -100).nonzero().flatten()
        assert labels[labelled].tolist() == expected
        # one contiguous run right after the prompt: no prompt token, no image token
        first, last = int(labelled[0]), int(labelled[-1])
        assert labelled.tolist() == list(range(first, last + 1))
        assert first == lengths.prompt[i]
        ids = batch["input_ids"][i]
        assert int((ids[:first] == tokenizer.convert_tokens_to_ids("<|image_pad|>")).sum()) == 28
        assert not vision_ids & set(labels[labelled].tolist())
        assert tokenizer.decode(ids[first : last + 1]) == text + "<|im_end|>"
        # the template's newline after the end token is input, not target
        assert int(batch["attention_mask"][i].sum()) == lengths.prompt[i] + lengths.completion[i]
        assert lengths.completion[i] == len(expected) + 1


def test_max_length_that_cuts_image_tokens_is_refused(tiny_model_dir, sft_data):
    from datasets import load_dataset

    from anomseer.modeling import load_processor
    from anomseer.trainers.training_data import check_max_length

    dataset = load_dataset(str(sft_data), split="train")
    processor = load_processor(tiny_model_dir)
    lengths = check_max_length(dataset, processor, 4096, "fixture")
    prompt, _ = lengths.longest_prompt()
    with pytest.raises(UserInputError, match=f"is {prompt} tokens"):
        check_max_length(dataset, processor, prompt, "fixture")
    assert check_max_length(dataset, processor, prompt + 1, "fixture") is not None
    assert check_max_length(dataset, processor, None, "fixture") is None


@pytest.mark.parametrize("freeze", [False, True])
def test_lora_skips_a_frozen_vision_tower(tiny_model_dir, freeze):
    from peft import get_peft_model

    from anomseer.modeling import load_model_and_processor
    from anomseer.trainers.configs import AnomSeerModelConfig
    from anomseer.trainers.model_setup import freeze_vision_tower, peft_config

    model, _ = load_model_and_processor(tiny_model_dir, dtype="float32")
    args = AnomSeerModelConfig(use_peft=True, lora_r=4, freeze_vision_tower=freeze)
    if freeze:
        frozen = freeze_vision_tower(model)
        vision = sum(p.numel() for p in model.model.visual.parameters())
        merger = sum(p.numel() for p in model.model.visual.merger.parameters())
        assert frozen == vision - merger > 0
    adapted = {
        name.removesuffix(".lora_A")
        for name, _ in get_peft_model(model, peft_config(args)).named_modules()
        if name.endswith(".lora_A")
    }
    assert sum(".language_model." in name for name in adapted) == 2 * 7  # 2 layers x 7 linears
    assert any(".visual." in name for name in adapted) is not freeze


# ---------------------------------------------------------------------------- training


@pytest.mark.slow
def test_tiny_model_overfits_one_row_and_reproduces_it(tiny_model_dir, tmp_path):
    from datasets import load_dataset

    from anomseer.evaluation.backends.hf import generate_completions
    from anomseer.modeling import load_model_and_processor

    data = write_sft_dataset(tmp_path / "data", count=1)
    out = tmp_path / "out"
    flags = ["--max_steps", "60", "--learning_rate", "5e-3", "--lr_scheduler_type", "constant"]
    trainer = train(
        tiny_model_dir, data, out, *flags, "--logging_steps", "1", "--warmup_steps", "0"
    )
    history = losses(trainer)
    assert len(history) == 60
    assert history[-1] < history[0] / 10
    row = load_dataset(str(data), split="train")[0]
    model, processor = load_model_and_processor(out, dtype="float32")
    [text] = generate_completions(
        model, processor, [row["prompt"]], [row["image"]], max_new_tokens=120
    )
    # greedy decoding stops at the learned end token, right after the class block
    assert text == row["completion"][0]["content"][0]["text"]
    answer = parse_answer(text, row["length"])
    assert answer.format_valid and answer.intervals == [tuple(row["intervals"][0])]


@pytest.mark.slow
def test_full_fine_tuning_with_frozen_vision_tower_exports(tiny_model_dir, sft_data, tmp_path):
    from anomseer.evaluation.backends.hf import generate_completions
    from anomseer.modeling import load_model_and_processor

    out, exported = tmp_path / "out", tmp_path / "exported"
    before = load_file(tiny_model_dir / "model.safetensors")
    flags = ["--max_steps", "3", "--learning_rate", "1e-2", "--freeze_vision_tower", "true"]
    flags += ["--dataset_test_split", "train", "--eval_strategy", "steps", "--eval_steps", "3"]
    trainer = train(tiny_model_dir, sft_data, out, *flags, "--max_pixels", "12544")
    assert [e["step"] for e in trainer.state.log_history if "eval_loss" in e] == [3]
    after = load_file(out / "model.safetensors")
    assert set(after) == set(before)
    for name in before:
        changed = not torch.equal(before[name], after[name])
        if name.startswith("visual.") and not name.startswith("visual.merger."):
            assert not changed, name
    assert not torch.equal(
        before["visual.merger.mlp.0.weight"], after["visual.merger.mlp.0.weight"]
    )
    assert not torch.equal(before["lm_head.weight"], after["lm_head.weight"])

    assert cli_main(["export", str(out), str(exported)]) == 0
    model, processor = load_model_and_processor(exported, dtype="float32")
    assert processor.image_processor.size["longest_edge"] == 12544
    assert (exported / "chat_template.jinja").is_file()
    state = trainer.model.state_dict()
    assert all(torch.equal(state[k], v) for k, v in model.state_dict().items())
    [text] = generate_completions(model, processor, [_prompt()], [_image()], max_new_tokens=8)
    assert isinstance(text, str)


@pytest.mark.slow
def test_lora_trains_adapters_and_merged_export_matches(tiny_model_dir, sft_data, tmp_path, capsys):
    from peft import PeftModel

    from anomseer.evaluation.backends.hf import generate_completions
    from anomseer.modeling import load_model_and_processor

    out, exported = tmp_path / "out", tmp_path / "exported"
    flags = ["--max_steps", "3", "--learning_rate", "1e-2", "--use_peft", "true", "--lora_r", "4"]
    trainer = train(tiny_model_dir, sft_data, out, *flags)
    assert isinstance(trainer.model, PeftModel)
    assert (out / "adapter_model.safetensors").is_file() and not (
        out / "model.safetensors"
    ).exists()
    adapters = load_file(out / "adapter_model.safetensors")
    assert any("lora_B" in k and v.abs().sum() > 0 for k, v in adapters.items())

    assert cli_main(["export", str(out), str(tmp_path / "plain")]) == 2
    assert "pass --merge-lora" in capsys.readouterr().err
    assert cli_main(["export", str(out), str(exported), "--merge-lora"]) == 0
    merged, processor = load_model_and_processor(exported, dtype="float32")
    assert not any("lora" in name for name in merged.state_dict())
    inputs = processor(
        text=[processor.apply_chat_template(_prompt(), add_generation_prompt=True, tokenize=False)],
        images=[_image()],
        return_tensors="pt",
    )
    trainer.model.eval()
    with torch.no_grad():
        expected = trainer.model(**inputs).logits
        actual = merged(**inputs).logits
    torch.testing.assert_close(actual, expected, atol=1e-4, rtol=1e-4)
    [text] = generate_completions(merged, processor, [_prompt()], [_image()], max_new_tokens=8)
    assert isinstance(text, str)


@pytest.mark.slow
@pytest.mark.parametrize("lora", [False, True], ids=["full", "lora"])
def test_stopped_run_resumes_from_its_checkpoint(lora, tiny_model_dir, sft_data, tmp_path):
    out = tmp_path / "out"
    flags = ["--max_steps", "4", "--save_steps", "2", "--save_total_limit", "3"]
    flags += ["--logging_steps", "1", "--use_peft", str(lora).lower()]
    weights = "adapter_model.safetensors" if lora else "model.safetensors"
    first = train(tiny_model_dir, sft_data, out, *flags)
    uninterrupted = load_file(out / "checkpoint-4" / weights)
    if not lora:  # load_best_model_at_end goes through the same weight loading
        first.state.best_model_checkpoint = str(out / "checkpoint-2")
        first._load_best_model()
        expected = type(first.model).from_pretrained(out / "checkpoint-2").state_dict()
        assert all(torch.equal(v, expected[k]) for k, v in first.model.state_dict().items())
    # the job "died" right after checkpoint-2
    for path in (out / "checkpoint-4").iterdir():
        path.unlink()
    (out / "checkpoint-4").rmdir()
    (out / weights).unlink()

    resumed = train(tiny_model_dir, sft_data, out, *flags, "--resume_from_checkpoint", "last")
    assert resumed.state.global_step == 4
    assert [e["step"] for e in resumed.state.log_history if "loss" in e] == [1, 2, 3, 4]
    assert losses(resumed) == pytest.approx(losses(first))
    final = load_file(out / weights)
    assert set(final) == set(uninterrupted)
    assert all(torch.equal(final[k], v) for k, v in uninterrupted.items())


@pytest.mark.slow
def test_two_processes_end_with_identical_weights(tiny_model_dir, sft_data, tmp_path):
    from helpers.distributed_sft import weights_digest

    from anomseer.modeling import load_model_and_processor

    command = launch_command(
        2,
        Path(__file__).parent / "helpers" / "distributed_sft.py",
        str(tmp_path),
        *sft_args(tiny_model_dir, sft_data, tmp_path / "out", "--max_steps", "2"),
        "--per_device_train_batch_size",
        "2",
        "--save_strategy",
        "no",
        "--ddp_timeout",  # a collective that never completes fails within the test's time
        "240",
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=400)
    assert result.returncode == 0, result.stderr[-3000:]
    reports = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert [r["world_size"] for r in reports] == [2, 2]
    assert [r["step"] for r in reports] == [2, 2]
    assert reports[0]["digest"] == reports[1]["digest"]
    initial, _ = load_model_and_processor(tiny_model_dir, dtype="float32")
    assert reports[0]["digest"] != weights_digest(initial)


# ---------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("no-completion", "no 'completion' column"),
        ("unknown-key", "unknown key(s) 'lerning_rate' (did you mean 'learning_rate'?)"),
        ("no-model", "nowhere' does not exist; pass a local checkpoint folder"),
        ("short-max-length", "max_length=40 would truncate image tokens"),
        ("unknown-flag", "unknown argument(s) '--bogus'; fix the spelling"),
        ("no-checkpoint", "holds no checkpoint-N folder"),
    ],
)
def test_bad_input_is_one_line(case, message, tiny_model_dir, sft_data, tmp_path, capsys):
    data, model, recipe, extra = sft_data, tiny_model_dir, TINY_RECIPE, []
    if case == "no-completion":
        data = write_sft_dataset(tmp_path / "data", count=2, drop=("completion",))
    elif case == "unknown-key":
        recipe = tmp_path / "recipe.yaml"
        recipe.write_text(TINY_RECIPE.read_text() + "lerning_rate: 1.0e-3\n")
    elif case == "no-model":
        model = tmp_path / "nowhere"
    elif case == "short-max-length":
        extra = ["--max_length", "40"]
    elif case == "unknown-flag":
        extra = ["--bogus", "1"]
    elif case == "no-checkpoint":
        extra = ["--resume_from_checkpoint", "last"]
    args = sft_args(model, data, tmp_path / "out", *extra)
    args[args.index("--config") + 1] = str(recipe)
    assert cli_main(["sft", *args]) == 2
    last_line = capsys.readouterr().err.strip().splitlines()[-1]  # after any progress bars
    assert last_line.startswith("anomseer sft: error: ")
    assert message in last_line


@pytest.mark.slow
def test_module_entry_point_reports_bad_input_in_one_line(tmp_path):
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(TINY_RECIPE.read_text() + "max_pixel: 100\n")
    result = subprocess.run(
        [sys.executable, "-m", "anomseer.trainers.sft", "--config", str(recipe)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line.startswith("anomseer sft: error: recipe ")
    assert "'max_pixel' (did you mean 'max_pixels'?)" in last_line


def test_export_refuses_what_it_cannot_export(tiny_model_dir, tmp_path, capsys):
    assert cli_main(["export", str(tmp_path / "nowhere"), str(tmp_path / "a")]) == 2
    assert "does not exist" in capsys.readouterr().err
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "file").write_text("x")
    assert cli_main(["export", str(tiny_model_dir), str(tmp_path / "taken")]) == 2
    assert "already exists" in capsys.readouterr().err


# ---------------------------------------------------------------------------- recipes


@pytest.mark.parametrize("recipe", sorted((ROOT / "recipes").glob("*/sft/config_*.yaml")), ids=str)
def test_sft_recipes_parse(recipe, tmp_path):
    from anomseer.trainers.configs import parse_config
    from anomseer.trainers.sft import AnomSeerSFTConfig

    overrides = [] if torch.cuda.is_available() else ["--bf16", "false", "--use_cpu", "true"]
    script_args, config, model_args = parse_config(
        AnomSeerSFTConfig, ["--config", str(recipe), "--output_dir", str(tmp_path), *overrides]
    )
    assert model_args.model_name_or_path and script_args.dataset_name
    assert model_args.min_pixels and model_args.max_pixels and config.max_length
    if config.gradient_checkpointing:  # the demo recipe trains a 1 M model without it
        assert config.gradient_checkpointing_kwargs == {"use_reentrant": False}


def test_override_recipe_takes_its_base_and_flags_take_over(tmp_path):
    from anomseer.trainers.configs import parse_config
    from anomseer.trainers.sft import AnomSeerSFTConfig

    override = tmp_path / "config_fast.yaml"
    override.write_text(f"base: {TINY_RECIPE}\nlearning_rate: 0.5\nlora_r: 3\n")
    argv = ["--config", str(override), "--lora_r", "5", "--output_dir", str(tmp_path)]
    script_args, config, model_args = parse_config(AnomSeerSFTConfig, argv)
    base = yaml.safe_load(TINY_RECIPE.read_text())
    assert config.learning_rate == 0.5 and model_args.lora_r == 5
    assert config.max_length == base["max_length"] and model_args.max_pixels == base["max_pixels"]
    assert script_args.dataset_name == base["dataset_name"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("base: config_fast.yaml\n", "is its own base through 'config_fast.yaml'"),
        ("base: missing.yaml\n", "base 'missing.yaml' does not exist"),
        ("base: {}\nlora_rr: 3\n", "unknown key(s) 'lora_rr' (did you mean 'lora_r'?)"),
        ("env: [A]\n", "env must be a mapping of NAME: value"),
    ],
)
def test_bad_override_recipe_is_one_line(text, message, tmp_path):
    from anomseer.trainers.configs import parse_config
    from anomseer.trainers.sft import AnomSeerSFTConfig

    override = tmp_path / "config_fast.yaml"
    override.write_text(text.format(TINY_RECIPE))
    with pytest.raises(UserInputError, match=re.escape(message)):
        parse_config(AnomSeerSFTConfig, ["--config", str(override)])


@pytest.mark.parametrize("name", ["ddp", "zero2", "zero3", "fsdp"])
def test_accelerate_configs_load(name):
    from accelerate.commands.config.config_args import load_config_from_file

    config = load_config_from_file(str(ROOT / "recipes" / "accelerate" / f"{name}.yaml"))
    expected = {"ddp": "MULTI_GPU", "zero2": "DEEPSPEED", "zero3": "DEEPSPEED", "fsdp": "FSDP"}
    assert config.distributed_type == expected[name]
    assert config.num_processes == 8 and config.mixed_precision == "bf16"


# ---------------------------------------------------------------------------- helpers


def _prompt():
    from anomseer.protocol import build_messages

    return build_messages(1000)


def _image():
    import numpy as np

    from data_gen.render import PlotRenderer

    return PlotRenderer().render(np.sin(np.arange(1000) / 20))
