"""TimerPO on the offline tiny Qwen2.5-VL: config and bad input, grounded advantages against plain
GRPO, every grounding and projection mode end to end, two processes, learning, resume, recipes."""

import itertools
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from helpers.dataset_files import save_rows
from helpers.training_cli import launch_command, recipe_args, wait_for_launch

from anomseer.cli import main as cli_main
from anomseer.errors import UserInputError

ROOT = Path(__file__).resolve().parents[1]
TINY_RECIPE = ROOT / "recipes" / "tiny-cpu" / "timerpo" / "config_default.yaml"
GROUNDING_METRICS = (
    "grounding/similarity",
    "grounding/advantage_abs",
    "grounding/cosine_main_ts",
    "grounding/tie_fraction",
    "grounding/time",
)
REWARD_METRICS = tuple(
    f"rewards/{name}_reward/mean" for name in ("localization", "class", "format", "text_length")
)


def prompt_rows(data_dir, count: int):
    """The first ``count`` rows of the generated split."""
    from datasets import load_dataset

    return load_dataset(str(data_dir), split="train").select(range(count))


def without_expcot(data_dir, out_dir):
    """The generated split without its ``expcot`` column, saved the way ``anomseer gen`` does."""
    return save_rows(out_dir, prompt_rows(data_dir, 2).to_list(), "train", drop=("expcot",))


def text_length_reward(completions, **kwargs):
    """A reward the random tiny model varies on: the completion's length in characters / 100."""
    from anomseer.rewards import completion_text

    return [len(completion_text(c)) / 100 for c in completions]


def tiny_config(out_dir, **overrides):
    from anomseer.trainers.timerpo import TimerPOConfig

    settings = dict(
        output_dir=str(out_dir),
        num_generations=4,
        per_device_train_batch_size=8,
        max_completion_length=12,
        max_steps=2,
        learning_rate=1e-3,
        reward_weights=None,
        use_cpu=True,
        bf16=False,
        gradient_checkpointing=False,
        report_to="none",
        save_strategy="no",
        logging_steps=1,
        disable_tqdm=True,
        seed=0,
    )
    return TimerPOConfig(**{**settings, **overrides})


def recording(trainer_cls):
    """``trainer_cls`` keeping, per generation batch, the advantages it trains on and, for
    TimerPO, the primary advantages and similarities behind them."""

    class Recording(trainer_cls):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.records = []

        def _generate_and_score_completions(self, inputs):
            self.current = {}
            batch = super()._generate_and_score_completions(inputs)
            kept = ("advantages", "grounded_advantages")
            self.current.update({k: batch[k].clone() for k in kept if k in batch})
            self.records.append(self.current)
            return batch

        def _ground_advantages(self, batch, local, group_size, mode):  # TimerPO only
            self.current.update(main=batch["advantages"].clone(), similarity=local.similarity)
            super()._ground_advantages(batch, local, group_size, mode)

    return Recording


def train_tiny(trainer_cls, config, model, processor, data_dir, reward_funcs, rows=4, **extra):
    """``trainer_cls`` trained on the first ``rows`` rows of ``data_dir``; ``extra`` goes to
    the trainer (e.g. ``peft_config``)."""
    processor.tokenizer.padding_side = "left"  # as GRPO needs (TimerPO sets it itself)
    trainer = trainer_cls(
        model=model,
        reward_funcs=reward_funcs,
        args=config,
        train_dataset=prompt_rows(data_dir, rows),
        processing_class=processor,
        **extra,
    )
    trainer.train()
    return trainer


def train_recorded(trainer_cls, config, model_dir, data_dir, reward_funcs):
    from anomseer.modeling import load_model_and_processor

    model, processor = load_model_and_processor(model_dir, dtype="float32")
    return train_tiny(recording(trainer_cls), config, model, processor, data_dir, reward_funcs)


def logged_steps(trainer):
    return [entry for entry in trainer.state.log_history if "loss" in entry]


# ---------------------------------------------------------------------------- config


def test_defaults_reproduce_the_reference_run(tmp_path):
    from anomseer.trainers.timerpo import TimerPOConfig

    default = TimerPOConfig(output_dir=str(tmp_path), use_cpu=True)
    assert (default.grounding, default.projection, default.alpha) == ("ot", "advantage", 0.3)
    assert (default.ot_epsilon, default.ot_iterations, default.ot_temperature) == (0.08, 50, 0.5)
    assert (default.ot_marginals, default.ot_dtype, default.expcot_max_tokens) == (
        "norm_softmax",
        "float64",
        512,
    )
    assert default.reward_names == ["localization", "class", "format"]
    assert default.reward_weights == [0.7, 0.2, 0.1]
    assert default.scale_rewards == "none" and default.loss_type == "dapo"
    assert (default.beta, default.epsilon, default.num_generations) == (0.001, 0.2, 5)
    assert (default.temperature, default.learning_rate, default.lr_scheduler_type) == (
        1.0,
        1e-6,
        "constant",
    )
    assert (default.weight_decay, default.max_grad_norm, default.entropy_coef) == (0.01, 1.0, 0.001)
    assert (default.num_iterations, default.max_completion_length) == (1, 1024)
    assert default.generation_batch_size % default.num_generations == 0


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"alpha": -0.1}, "alpha must be a finite number >= 0"),
        ({"grounding": "wasserstein"}, "grounding must be one of ot, cosine, none"),
        ({"projection": "both"}, "projection must be one of advantage, gradient, none"),
        ({"ot_epsilon": 0.0}, "ot_epsilon must be a positive number"),
        ({"ot_marginals": "equal"}, "ot_marginals must be one of norm_softmax, uniform"),
        ({"ot_dtype": "float16"}, "ot_dtype must be one of float64, float32"),
        ({"expcot_max_tokens": 0}, "expcot_max_tokens must be at least 1"),
        ({"reward_names": ["localisation"]}, "unknown reward function(s) 'localisation'"),
        ({"reward_weights": [1.0]}, "reward_weights has 1 values but reward_names has 3"),
        ({"num_generations": 3}, "num_generations=3 does not divide the generation batch of 8"),
        ({"model_init_kwargs": {"dtype": "bfloat16"}}, "model_init_kwargs is not used"),
    ],
)
def test_bad_settings_are_refused_with_one_line(overrides, message, tmp_path):
    with pytest.raises(UserInputError) as error:
        tiny_config(tmp_path, **overrides)
    assert message in str(error.value) and "\n" not in str(error.value)


def test_gradient_projection_is_refused_where_it_cannot_work(tmp_path, monkeypatch):
    monkeypatch.setenv("ACCELERATE_USE_DEEPSPEED", "true")
    with pytest.raises(UserInputError, match="DeepSpeed does not give"):
        tiny_config(tmp_path, projection="gradient")
    monkeypatch.delenv("ACCELERATE_USE_DEEPSPEED")
    monkeypatch.setenv("ACCELERATE_USE_FSDP", "true")
    monkeypatch.setenv("FSDP_VERSION", "1")
    with pytest.raises(UserInputError, match="FSDP version 2 only"):
        tiny_config(tmp_path, projection="gradient")


def test_fsdp_set_in_training_arguments_is_refused_or_synchronised(tmp_path, monkeypatch):
    from anomseer.trainers.timerpo import fsdp_version

    monkeypatch.delenv("ACCELERATE_USE_FSDP", raising=False)
    fsdp = {"fsdp": "full_shard", "projection": "gradient"}
    with pytest.raises(UserInputError, match="FSDP version 2 only"):
        tiny_config(tmp_path, **fsdp, fsdp_config={"version": 1})
    config = tiny_config(
        tmp_path, **fsdp, fsdp_config={"version": 2}, gradient_accumulation_steps=2
    )
    assert fsdp_version(config) == 2
    assert config.accelerator_config.gradient_accumulation_kwargs == {"sync_each_batch": True}
    # the same through accelerate launch's environment, and nothing without FSDP
    monkeypatch.setenv("ACCELERATE_USE_FSDP", "true")
    monkeypatch.setenv("FSDP_VERSION", "2")
    launched = tiny_config(tmp_path, projection="gradient", gradient_accumulation_steps=2)
    assert launched.accelerator_config.gradient_accumulation_kwargs == {"sync_each_batch": True}
    monkeypatch.delenv("ACCELERATE_USE_FSDP")
    plain = tiny_config(tmp_path, projection="gradient", gradient_accumulation_steps=2)
    assert fsdp_version(plain) is None
    assert not (plain.accelerator_config.gradient_accumulation_kwargs or {}).get("sync_each_batch")


def test_every_process_makes_the_same_grounding_forwards(tiny_model_dir):
    """Over a grid of processes x per-device batch x steps per generation x group size, with
    TRL's layout (a group's completions consecutive, each process a consecutive slice) and some
    empty ExpCoT texts, the counts agreed as the trainer agrees them make every process read
    the same number of times, where the local counts alone often differ."""
    from anomseer.modeling import load_model_and_processor
    from anomseer.trainers.hidden_states import (
        TextTokens,
        completion_forward_count,
        completion_hidden_states,
        text_forward_count,
        text_hidden_states,
    )

    model, processor = load_model_and_processor(tiny_model_dir, dtype="float32")
    forwards = []
    model.register_forward_pre_hook(lambda module, args: forwards.append(1))

    def grounding_forwards(texts, batch, rows, agreed_texts, agreed_completions):
        forwards.clear()
        unique = list(dict.fromkeys(texts))
        tokens = TextTokens(processor.tokenizer, 16)(unique)
        text_hidden_states(model, tokens, rows, "cpu", agreed_texts)
        for _ in completion_hidden_states(model, batch, rows, agreed_completions):
            pass
        return len(forwards)

    out_of_step, cases = [], 0
    grid = itertools.product((1, 2, 3), (1, 2, 4), (1, 2, 3), (2, 3, 5))
    for processes, rows, steps, group in grid:
        total = processes * rows * steps
        if total % group:
            continue
        cases += 1
        # every third prompt has an empty ExpCoT; prompt k's completions are k * group ...
        prompts = [i // group for i in range(total)]
        texts = ["" if k % 3 == 2 else f"signal {k} rises" for k in prompts]
        local = rows * steps
        layouts = [texts[p * local : (p + 1) * local] for p in range(processes)]
        batches = [
            {
                "prompt_ids": torch.full((local, 3), 5),
                "prompt_mask": torch.ones(local, 3, dtype=torch.long),
                "completion_ids": torch.full((local, 2), 7),
                "completion_mask": torch.ones(local, 2, dtype=torch.long),
            }
            for _ in layouts
        ]
        counts = [
            (text_forward_count(len(set(part)), rows), completion_forward_count(batch, rows))
            for part, batch in zip(layouts, batches, strict=True)
        ]
        agreed = [max(column) for column in zip(*counts, strict=True)]
        pairs = zip(layouts, batches, strict=True)
        made = {grounding_forwards(part, batch, rows, *agreed) for part, batch in pairs}
        assert len(made) == 1, (processes, rows, steps, group, counts)
        if len({sum(count) for count in counts}) > 1:
            out_of_step.append((processes, rows, steps, group))
    assert cases > 30
    assert (3, 1, 2, 3) in out_of_step  # the layout that hung: ExpCoT reads 1, 2, 1


@pytest.mark.slow
def test_lora_grounding_is_the_same_when_read_twice(tiny_model_dir, tiny_train_data, tmp_path):
    from peft import LoraConfig

    from anomseer.modeling import load_model_and_processor
    from anomseer.trainers.hidden_states import completion_hidden_states
    from anomseer.trainers.timerpo import TimerPOTrainer

    class Capturing(TimerPOTrainer):
        def _local_similarity(self, inputs, batch, mode):
            self.captured = (inputs, batch, mode)
            return super()._local_similarity(inputs, batch, mode)

    model, processor = load_model_and_processor(tiny_model_dir, dtype="float32")
    lora = LoraConfig(r=4, lora_alpha=8, lora_dropout=0.5, target_modules=["q_proj", "v_proj"])
    trainer = Capturing(
        model=model,
        args=tiny_config(tmp_path, max_steps=1),
        train_dataset=prompt_rows(tiny_train_data, 2),
        processing_class=processor,
        peft_config=lora,
    )
    trainer.train()
    trainer.model.train()
    inputs, batch, mode = trainer.captured
    first = trainer._local_similarity(inputs, batch, mode)
    second = trainer._local_similarity(inputs, batch, mode)
    assert torch.equal(first.similarity, second.similarity)
    assert torch.equal(first.transport_cost, second.transport_cost)
    assert trainer.model.training  # the training mode is back
    # in training mode the LoRA dropout draws anew: the same reading would differ
    with torch.no_grad():
        draws = [next(completion_hidden_states(trainer.model, batch, 8))[0] for _ in range(2)]
    assert not torch.equal(*draws)


@pytest.mark.slow
def test_the_old_logprob_pass_gives_the_completion_states(
    tiny_model_dir, tiny_train_data, tmp_path
):
    """Generation out of step with the optimiser makes TRL read old log-probabilities; the
    grounding reuses that pass's last hidden states (only the ExpCoT reads are left) and gets
    the s it would read itself. Under LoRA the kept pass is the adapter's, not TRL's reference
    pass (adapter disabled)."""
    from peft import LoraConfig

    from anomseer.modeling import load_model_and_processor
    from anomseer.trainers.timerpo import TimerPOTrainer

    forwards, checks = [], []

    class Checking(TimerPOTrainer):
        def _local_similarity(self, inputs, batch, mode):
            assert self._captured_states is not None
            forwards.clear()
            kept = super()._local_similarity(inputs, batch, mode)
            reused_reads = len(forwards)
            own = super()._local_similarity(inputs, batch, mode)  # nothing kept: reads itself
            with self.model.disable_adapter():
                base = super()._local_similarity(inputs, batch, mode)
            checks.append((kept, own, base, reused_reads, len(forwards) - reused_reads))
            return kept

    model, processor = load_model_and_processor(tiny_model_dir, dtype="float32")
    model.register_forward_pre_hook(lambda module, args: forwards.append(1))
    lora = LoraConfig(r=4, lora_alpha=8, lora_dropout=0.1, target_modules=["q_proj", "v_proj"])
    config = tiny_config(
        tmp_path, per_device_train_batch_size=4, steps_per_generation=2, max_steps=4
    )
    rewards = [text_length_reward]
    train_tiny(Checking, config, model, processor, tiny_train_data, rewards, peft_config=lora)
    assert len(checks) == 2
    for kept, own, _, reused_reads, own_reads in checks:
        assert torch.allclose(kept.similarity, own.similarity, atol=1e-6)
        # the own and the base readings each also read the 2 completion pieces; the kept one not
        assert own_reads - 2 * reused_reads == 4
    kept, _, base, _, _ = checks[-1]  # after two optimiser steps the adapter is not zero
    assert not torch.allclose(kept.similarity, base.similarity, atol=1e-6)


@pytest.mark.slow
@pytest.mark.parametrize("lora_dropout", [None, 0.0, 0.1])
def test_generation_gives_the_completion_states(
    lora_dropout, tiny_model_dir, tiny_train_data, tmp_path
):
    """With one generation per optimiser step (TRL makes no old-log-prob pass) the completion
    states are kept while ``generate`` makes them: the grounding reads only the ExpCoT and gets
    the s it would read itself. A policy with dropout (LoRA's here) reads them itself."""
    from peft import LoraConfig

    from anomseer.modeling import load_model_and_processor
    from anomseer.trainers.timerpo import TimerPOTrainer

    forwards, checks = [], []

    class Checking(TimerPOTrainer):
        def _local_similarity(self, inputs, batch, mode):
            kept_states = self._captured_states is not None
            forwards.clear()
            kept = super()._local_similarity(inputs, batch, mode)
            reads = len(forwards)
            own = super()._local_similarity(inputs, batch, mode)  # nothing kept: reads itself
            checks.append((kept_states, kept, own, len(forwards) - 2 * reads))
            return kept

    model, processor = load_model_and_processor(tiny_model_dir, dtype="float32")
    model.register_forward_pre_hook(lambda module, args: forwards.append(1))
    extra = {}
    if lora_dropout is not None:
        targets = ["q_proj", "v_proj"]
        extra["peft_config"] = LoraConfig(
            r=4, lora_alpha=8, lora_dropout=lora_dropout, target_modules=targets
        )
    config = tiny_config(tmp_path, max_steps=2 if lora_dropout is None else 1)
    rewards = [text_length_reward]
    train_tiny(Checking, config, model, processor, tiny_train_data, rewards, **extra)
    assert checks
    kept_from_generation = lora_dropout is None or lora_dropout == 0
    for kept_states, kept, own, completion_reads in checks:
        assert kept_states == kept_from_generation
        # the own reading reads the completions (8 rows, one piece); the kept one does not
        assert completion_reads == (1 if kept_from_generation else 0)
        if kept_from_generation:
            assert torch.allclose(kept.similarity, own.similarity, atol=1e-6)


# ---------------------------------------------------------------------------- advantages


@pytest.mark.slow
def test_alpha_zero_and_no_grounding_train_exactly_like_grpo(
    tiny_model_dir, tiny_train_data, tmp_path
):
    from trl import GRPOConfig, GRPOTrainer

    from anomseer.trainers.timerpo import TimerPOTrainer

    reference = tiny_config(tmp_path / "grpo")
    same = {
        name: getattr(reference, name)
        for name in (
            "num_generations",
            "per_device_train_batch_size",
            "max_completion_length",
            "max_steps",
            "learning_rate",
            "scale_rewards",
            "beta",
            "entropy_coef",
            "lr_scheduler_type",
            "weight_decay",
            "use_cpu",
            "bf16",
            "gradient_checkpointing",
            "report_to",
            "save_strategy",
            "logging_steps",
            "disable_tqdm",
            "seed",
        )
    }
    grpo_config = GRPOConfig(output_dir=str(tmp_path / "grpo"), **same)
    rewards = [text_length_reward]
    grpo = train_recorded(GRPOTrainer, grpo_config, tiny_model_dir, tiny_train_data, rewards)
    runs = {
        "alpha 0": tiny_config(tmp_path / "alpha0", alpha=0.0),
        "grounding none": tiny_config(tmp_path / "none", grounding="none"),
    }
    for name, config in runs.items():
        timerpo = train_recorded(TimerPOTrainer, config, tiny_model_dir, tiny_train_data, rewards)
        assert len(timerpo.records) == len(grpo.records) == 2, name
        for ours, theirs in zip(timerpo.records, grpo.records, strict=True):
            assert torch.equal(ours["advantages"], theirs["advantages"]), name
        assert any(record["advantages"].abs().sum() > 0 for record in grpo.records)
        weights = dict(grpo.model.named_parameters())
        for key, value in timerpo.model.named_parameters():
            assert torch.equal(value, weights[key]), (name, key)
        logged = logged_steps(timerpo)[0]
        assert ("grounding/similarity" in logged) == (name == "alpha 0")


@pytest.mark.slow
@pytest.mark.parametrize(
    ("grounding", "projection"),
    [("ot", "advantage"), ("ot", "none"), ("ot", "gradient"), ("cosine", "advantage")],
)
def test_each_mode_trains_and_logs_every_metric(
    grounding, projection, tiny_model_dir, tiny_train_data, tmp_path
):
    from anomseer.modeling import load_model_and_processor
    from anomseer.projection import PROJECTION_EPS
    from anomseer.rewards import get_reward_funcs
    from anomseer.trainers.timerpo import TimerPOTrainer

    alpha, size = 0.3, 4
    config = tiny_config(tmp_path, grounding=grounding, projection=projection, alpha=alpha)
    rewards = [*get_reward_funcs(["localization", "class", "format"]), text_length_reward]
    trainer = train_recorded(TimerPOTrainer, config, tiny_model_dir, tiny_train_data, rewards)

    expected = {*REWARD_METRICS, *GROUNDING_METRICS}
    if grounding == "ot":
        expected.add("grounding/transport_cost")
    if projection == "gradient":
        expected |= {"grounding/gradient_coefficient", "grounding/aux_loss"}
    steps = logged_steps(trainer)
    assert len(steps) == 2
    for entry in steps:
        assert expected <= set(entry), expected - set(entry)
        assert 0.0 <= entry["grounding/similarity"] <= 1.0
        assert entry["grounding/time"] > 0

    for record in trainer.records:
        main, advantages = record["main"].double(), record["advantages"].double()
        similarity = record["similarity"].view(-1, size)
        a_ts = (similarity - similarity.mean(dim=1, keepdim=True)).reshape(-1)
        assert 0 < a_ts.abs().max() < 1
        if projection == "gradient":
            assert torch.equal(record["advantages"], record["main"])
            assert torch.allclose(record["grounded_advantages"].double(), a_ts, atol=1e-6)
            continue
        change = (advantages - main).view(-1, size)
        if projection == "none":
            assert torch.allclose(change.reshape(-1), alpha * a_ts, atol=1e-6)
        else:  # each group's grounded term is orthogonal to its primary advantage
            main_groups = main.view(-1, size)
            not_tied = main_groups.square().sum(dim=1) > PROJECTION_EPS
            assert not_tied.any()
            dots = (change * main_groups).sum(dim=1)[not_tied]
            assert dots.abs().max() < 1e-6
            assert change.abs().max() > 0
        assert change.sum(dim=1).abs().max() < 1e-6  # still centred per group

    initial, _ = load_model_and_processor(tiny_model_dir, dtype="float32")
    weights = dict(initial.named_parameters())
    assert any(not torch.equal(p, weights[k]) for k, p in trainer.model.named_parameters())


LAYOUTS = ("1:2", "2:1")
"""Per-device batch : accumulation (= steps per generation) on three processes, groups of 3,
2 prompts: each process holds 2 of the 6 completions, so the middle process holds the end of
the first group and the start of the second. "1:2" is the layout that hung: its ExpCoT reads
were 1, 2 and 1 per process."""


@pytest.mark.slow
def test_three_processes_with_a_collective_in_every_forward_match_one(
    tiny_model_dir, tiny_train_data, tmp_path, monkeypatch
):
    from helpers.distributed_timerpo import run_step

    world, group, prompts = 3, 3, 2
    total = group * prompts
    command = launch_command(
        world,
        Path(__file__).parent / "helpers" / "distributed_timerpo.py",
        str(tiny_model_dir),
        str(tiny_train_data),
        str(tmp_path),
        str(group),
        str(prompts),
        *LAYOUTS,
    )
    monkeypatch.setenv("TRL_EXPERIMENTAL_SILENCE", "1")  # rollout_func is marked experimental
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    launched = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env
    )
    # meanwhile, the same step in this process with the whole batch
    args = (str(tiny_model_dir), str(tiny_train_data))
    single = {
        projection: run_step(
            *args, str(tmp_path / projection), total, projection, 1, group, prompts
        )
        for projection in ("advantage", "gradient")
    }
    wait_for_launch(launched, timeout=500)

    for layout in LAYOUTS:
        per_device, accumulation = map(int, layout.split(":"))
        assert per_device * accumulation % group  # a group straddles two processes
        for projection, one in single.items():
            name = f"{per_device}x{accumulation}-{projection}"
            ranks = [torch.load(tmp_path / f"{name}-rank{r}.pt") for r in range(world)]
            assert len({rank["grounding_forwards"] for rank in ranks}) == 1, name
            if projection == "gradient":  # DDP: one shared forward unless it synchronises
                assert {rank["forwards"] - rank["grounding_forwards"] for rank in ranks} == {
                    accumulation + 1
                }, name
            for key in ("main", "similarity", "advantages", "grounded"):
                if key in one:
                    joined = torch.cat([rank[key] for rank in ranks])
                    assert torch.allclose(joined.double(), one[key].double(), atol=1e-6), name
            if projection == "advantage":
                assert not torch.allclose(one["advantages"], one["main"])
            for rank in ranks:  # DDP leaves the same projected gradient on every rank
                assert torch.allclose(rank["grad"], one["grad"], rtol=1e-4, atol=1e-7), name


@pytest.mark.slow
def test_gradient_projection_over_accumulated_micro_batches_matches_one_batch(
    tiny_model_dir, tiny_train_data, tmp_path, monkeypatch
):
    from helpers.distributed_timerpo import GROUP_SIZE, PROMPTS, run_step

    monkeypatch.setenv("TRL_EXPERIMENTAL_SILENCE", "1")
    total = GROUP_SIZE * PROMPTS
    args = (str(tiny_model_dir), str(tiny_train_data))
    whole = run_step(*args, str(tmp_path / "whole"), total, "gradient")
    halves = run_step(*args, str(tmp_path / "halves"), total // 2, "gradient", accumulation=2)
    # the primary and the grounded gradients are accumulated apart, then projected once
    assert torch.allclose(halves["grad"], whole["grad"], rtol=1e-4, atol=1e-7)
    # one forward per micro-batch serves both losses (two backwards)
    assert halves["forwards"] - halves["grounding_forwards"] == 2
    assert torch.equal(halves["grounded"], whole["grounded"])


@pytest.mark.slow
def test_fsdp2_gradient_projection_matches_one_process(
    tiny_model_dir, tiny_train_data, tmp_path, monkeypatch
):
    """FSDP2 through recipes/accelerate/fsdp.yaml on two CPU processes, one group of 4 split
    across them, in one micro-batch of two completions or two accumulated ones of one each:
    every parameter sharded, and the projected gradient equals the one-process step on the
    whole batch (issue 25: the grounded backward crashed on FSDP's unsharded parameter
    copies with accumulation, and left their grounded gradients out without; and TRL's fused
    LM head, after a backward, left lm_head's gradient unreduced: anomseer/trainers/fsdp2.py)."""
    from helpers.distributed_timerpo import run_step

    group, prompts = 4, 1
    monkeypatch.setenv("TRL_EXPERIMENTAL_SILENCE", "1")
    command = launch_command(
        2,
        Path(__file__).parent / "helpers" / "distributed_timerpo.py",
        *(str(tiny_model_dir), str(tiny_train_data), str(tmp_path), str(group), str(prompts)),
        "2:1:gradient",
        "1:2:gradient",
        config_file=ROOT / "recipes" / "accelerate" / "fsdp.yaml",
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    launched = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env
    )
    args = (str(tiny_model_dir), str(tiny_train_data), str(tmp_path / "one"))
    one = run_step(*args, group * prompts, "gradient", 1, group, prompts)
    wait_for_launch(launched, timeout=500)

    for layout in ("2x1", "1x2"):
        ranks = [torch.load(tmp_path / f"{layout}-gradient-rank{r}.pt") for r in range(2)]
        joined = torch.cat([rank["grounded"] for rank in ranks])
        assert torch.allclose(joined.double(), one["grounded"].double(), atol=1e-6)
        for rank in ranks:
            assert all(rank["sharded"]) and len(rank["sharded"]) > 50, layout  # FSDP2
            assert rank["forwards"] == ranks[0]["forwards"], layout
            assert rank["grad_names"] == one["grad_names"]
            assert torch.allclose(rank["grad"], one["grad"], rtol=1e-4, atol=1e-7), layout


@pytest.mark.slow
def test_policy_learns_a_reward_it_can_reach(tiny_model_dir, tiny_train_data, tmp_path):
    from anomseer.modeling import load_model_and_processor
    from anomseer.trainers.timerpo import TimerPOTrainer

    model, processor = load_model_and_processor(tiny_model_dir, dtype="float32")
    half = len(processor.tokenizer) // 2

    def low_token_share(completions, completion_ids, **kwargs):
        """Share of completion tokens from the lower half of the vocabulary."""
        return [sum(token < half for token in ids) / max(len(ids), 1) for ids in completion_ids]

    config = tiny_config(tmp_path, max_steps=16, max_completion_length=8, learning_rate=3e-2)
    rewards = [low_token_share]
    trainer = train_tiny(TimerPOTrainer, config, model, processor, tiny_train_data, rewards, 2)
    rewards = [entry["reward"] for entry in logged_steps(trainer)]
    assert len(rewards) == 16
    first, last = sum(rewards[:4]) / 4, sum(rewards[-4:]) / 4
    assert last > first + 0.25, rewards  # about 0.5 -> 1.0 here


@pytest.mark.slow
def test_faithfulness_reward_gets_the_series_in_grpo(tiny_model_dir, tiny_train_data, tmp_path):
    """TRL passes the series column to the registered faithfulness reward as a keyword."""
    from anomseer.modeling import load_model_and_processor
    from anomseer.rewards import faithfulness_reward, get_reward_funcs
    from anomseer.trainers.timerpo import TimerPOTrainer

    seen = []

    def faithfulness(completions, series, **kwargs):
        seen.extend(len(s) for s in series)
        return faithfulness_reward(completions, series=series, **kwargs)

    assert get_reward_funcs(["faithfulness"]) == [faithfulness_reward]
    model, processor = load_model_and_processor(tiny_model_dir, dtype="float32")
    config = tiny_config(tmp_path, max_steps=1, alpha=0.0)
    trainer = train_tiny(TimerPOTrainer, config, model, processor, tiny_train_data, [faithfulness])
    assert seen and set(seen) == {1000}
    assert "rewards/faithfulness/mean" in logged_steps(trainer)[0]


# ---------------------------------------------------------------------------- entry points


def timerpo_args(model_dir, data_dir, out_dir, *flags):
    """The tiny recipe with its paths pointed at the test's model, data and output."""
    return recipe_args(
        TINY_RECIPE, model_dir, data_dir, out_dir, "--max_completion_length", "12", *flags
    )


@pytest.mark.slow
def test_resumed_run_continues_at_its_step_and_ends_where_an_uninterrupted_one_does(
    tiny_model_dir, tiny_train_data, tmp_path
):
    from anomseer.trainers.timerpo import main

    flags = ["--max_steps", "3", "--save_steps", "1"]
    straight = main(timerpo_args(tiny_model_dir, tiny_train_data, tmp_path / "a", *flags))
    checkpoint = tmp_path / "a" / "checkpoint-2"
    assert checkpoint.is_dir()
    flags += ["--resume_from_checkpoint", str(checkpoint)]
    resumed = main(timerpo_args(tiny_model_dir, tiny_train_data, tmp_path / "b", *flags))
    assert resumed.state.global_step == 3
    assert [entry["step"] for entry in logged_steps(resumed)] == [1, 2, 3]
    weights = dict(straight.model.named_parameters())
    for key, value in resumed.model.named_parameters():
        assert torch.equal(value, weights[key]), key


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("no-expcot", "no 'expcot' column"),
        ("negative-alpha", "alpha must be a finite number >= 0"),
        ("indivisible", "num_generations=3 does not divide the generation batch of 8"),
        ("deepspeed-gradient", "projection=gradient needs the two gradients apart"),
        ("unknown-reward", "unknown reward function(s) 'localisation'"),
        ("no-grounding-needs-no-expcot", "nowhere' does not exist"),
    ],
)
def test_bad_input_is_one_line_before_any_model_loads(
    case, message, tiny_train_data, tmp_path, capsys, monkeypatch
):
    data, extra = tiny_train_data, []
    if case in ("no-expcot", "no-grounding-needs-no-expcot"):
        data = without_expcot(tiny_train_data, tmp_path / "data")
    if case == "no-grounding-needs-no-expcot":
        extra = ["--grounding", "none"]  # gets past the checks, then finds no model
    elif case == "negative-alpha":
        extra = ["--alpha", "-1"]
    elif case == "indivisible":
        extra = ["--num_generations", "3"]
    elif case == "deepspeed-gradient":
        monkeypatch.setenv("ACCELERATE_USE_DEEPSPEED", "true")
        extra = ["--projection", "gradient"]
    elif case == "unknown-reward":
        extra = ["--reward_names", "localisation", "class", "format"]
    # the model path does not exist: any check that ran after loading would report that instead
    args = timerpo_args(tmp_path / "nowhere", data, tmp_path / "out", *extra)
    assert cli_main(["timerpo", *args]) == 2
    last_line = capsys.readouterr().err.strip().splitlines()[-1]
    assert last_line.startswith("anomseer timerpo: error: ")
    assert message in last_line


@pytest.mark.slow
def test_gpu_check_runs_its_steps_on_the_tiny_model():
    """``scripts/gpu_check.py`` (3B-size on a GPU) on its ``--tiny`` CPU path."""
    script = ROOT / "scripts" / "gpu_check.py"
    flags = ["--tiny", "--device", "cpu", "--completion-tokens", "8", "--group", "2"]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run(
        [sys.executable, str(script), *flags], capture_output=True, text=True, env=env
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    for step in ("SFT step", "TimerPO step"):
        line = next(line for line in lines if line.startswith(f"{step}:"))
        assert float(line.rsplit("seconds ", 1)[1]) > 0, line


# ---------------------------------------------------------------------------- recipes

RECIPES = sorted((ROOT / "recipes").glob("*/timerpo/config_*.yaml"))
ABLATIONS = {
    "config_faithfulness.yaml": {
        "reward_names": ["localization", "class", "format", "faithfulness"],
        "reward_weights": [0.7, 0.2, 0.1, 0.2],
    },
    "config_alpha0.yaml": {"alpha": 0.0},
    "config_no-projection.yaml": {"projection": "none"},
    "config_cosine.yaml": {"grounding": "cosine"},
}


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda p: str(p.relative_to(ROOT)))
def test_timerpo_recipes_parse(recipe, tmp_path):
    from anomseer.trainers.configs import parse_config
    from anomseer.trainers.timerpo import TimerPOConfig

    overrides = ["--output_dir", str(tmp_path)]
    if not torch.cuda.is_available():
        overrides += ["--bf16", "false", "--use_cpu", "true", "--use_vllm", "false"]
    script_args, config, model_args = parse_config(
        TimerPOConfig, ["--config", str(recipe), *overrides]
    )
    assert model_args.model_name_or_path and script_args.dataset_name
    if recipe.name != "config_faithfulness.yaml":  # the optional reward term's ablation
        assert config.reward_names == ["localization", "class", "format"]
        assert config.reward_weights == [0.7, 0.2, 0.1]
    assert config.generation_batch_size % config.num_generations == 0


def test_ablation_recipes_change_only_their_setting(tmp_path):
    """Each ablation is an override file: its base recipe plus its one change (and output_dir)."""
    from anomseer.trainers.configs import parse_config
    from anomseer.trainers.timerpo import TimerPOConfig

    folder = ROOT / "recipes" / "qwen2.5-vl-3b" / "timerpo"
    same = ["--output_dir", str(tmp_path), "--bf16", "false", "--use_cpu", "true"]

    def fields(name):
        argv = ["--config", str(folder / name), *same, "--use_vllm", "false"]
        script_args, config, model_args = parse_config(TimerPOConfig, argv)
        return {**vars(script_args), **vars(model_args), **config.to_dict()}

    base = fields("config_default.yaml")
    for name, change in ABLATIONS.items():
        assert set(yaml.safe_load((folder / name).read_text())) == {"base", *change, "output_dir"}
        ablation = fields(name)
        assert {k for k in base if base[k] != ablation[k]} == set(change), name
        assert all(ablation[k] == v for k, v in change.items()), name
