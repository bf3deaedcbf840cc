"""The vision tower's own learning rate (``vision_learning_rate``): the parameter groups it
makes, and a real SFT run in which a rate of 0 leaves the tower's weights as they were."""

from pathlib import Path

import pytest
import torch
from helpers.sft_dataset import write_sft_dataset
from helpers.training_cli import recipe_args
from safetensors.torch import load_file

from anomseer.errors import UserInputError
from anomseer.trainers.tower_learning_rates import move_vision_parameters

TINY_RECIPE = Path(__file__).resolve().parents[1] / "recipes/tiny-cpu/sft/config_default.yaml"


def test_vision_parameters_move_to_their_own_groups():
    model = torch.nn.ModuleDict(
        {
            "visual": torch.nn.ModuleDict({"merger": torch.nn.Linear(2, 2)}),
            "language": torch.nn.Linear(2, 2),
        }
    )
    visual, language = model["visual"]["merger"], model["language"]
    optimizer = torch.optim.AdamW(
        [
            {"params": [visual.weight, language.weight], "weight_decay": 0.1},
            {"params": [visual.bias, language.bias], "weight_decay": 0.0},
        ],
        lr=2e-3,
    )
    assert move_vision_parameters(optimizer, model, 1e-4) == 2
    groups = [
        (g["lr"], g["weight_decay"], [id(p) for p in g["params"]]) for g in optimizer.param_groups
    ]
    assert groups == [
        (2e-3, 0.1, [id(language.weight)]),
        (2e-3, 0.0, [id(language.bias)]),
        (1e-4, 0.1, [id(visual.weight)]),
        (1e-4, 0.0, [id(visual.bias)]),
    ]


def test_sft_with_vision_rate_zero_keeps_the_tower(tiny_model_dir, tmp_path):
    from anomseer.trainers.sft import main

    data = write_sft_dataset(tmp_path / "data", count=4)
    flags = ["--max_steps", "2", "--learning_rate", "1e-2", "--vision_learning_rate", "0"]
    trainer = main(recipe_args(TINY_RECIPE, tiny_model_dir, data, tmp_path / "out", *flags))
    assert sorted(set(trainer.lr_scheduler.base_lrs)) == [0.0, 1e-2]
    before = load_file(tiny_model_dir / "model.safetensors")
    after = load_file(tmp_path / "out" / "model.safetensors")
    changed = {name for name in before if not torch.equal(before[name], after[name])}
    assert changed and all(not name.startswith("visual.") for name in changed)
    assert "lm_head.weight" in changed


def test_negative_vision_rate_is_refused(tiny_model_dir, tmp_path):
    from anomseer.trainers.sft import main

    flags = ["--vision_learning_rate", "-1"]
    with pytest.raises(UserInputError, match="vision_learning_rate must be zero or positive"):
        main(recipe_args(TINY_RECIPE, tiny_model_dir, tmp_path, tmp_path / "out", *flags))
