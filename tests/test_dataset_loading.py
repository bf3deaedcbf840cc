"""The dataset loader training and evaluation share: parquet folders and save_to_disk folders,
one-line errors that name the fix."""

from pathlib import Path

import datasets
import pytest
from helpers.dataset_files import generate_tiny
from helpers.training_cli import recipe_args

from anomseer.dataset_loading import check_columns, load_split
from anomseer.errors import UserInputError

ROWS = [{"id": "a", "value": 1}, {"id": "b", "value": 2}]


def test_parquet_and_save_to_disk_folders_give_the_same_split(tmp_path):
    parquet = tmp_path / "parquet"
    (parquet / "data").mkdir(parents=True)
    datasets.Dataset.from_list(ROWS).to_parquet(
        str(parquet / "data" / "eval-00000-of-00001.parquet")
    )
    on_disk = tmp_path / "disk"
    datasets.DatasetDict({"eval": datasets.Dataset.from_list(ROWS)}).save_to_disk(str(on_disk))
    for folder in (parquet, on_disk):
        assert load_split(folder, "eval").to_list() == ROWS


def test_a_missing_split_names_the_setting_that_picks_it(tmp_path):
    folder = tmp_path / "disk"
    datasets.DatasetDict({"eval": datasets.Dataset.from_list(ROWS)}).save_to_disk(str(folder))
    with pytest.raises(UserInputError, match=r"no split 'train'.*eval.*dataset_train_split$"):
        load_split(folder, "train", split_option="dataset_train_split")


def test_a_missing_folder_points_at_anomseer_gen(tmp_path):
    with pytest.raises(
        UserInputError, match="does not exist; pass a folder written by 'anomseer gen'"
    ):
        load_split(tmp_path / "nope", "eval")


def test_missing_columns_are_named_once_each_way():
    dataset = datasets.Dataset.from_list(ROWS)
    with pytest.raises(UserInputError) as error:
        check_columns(dataset, ("id", "image", "prompt"), "'data'", "SFT")
    message = str(error.value)
    assert "lacks the column(s) image, prompt that SFT needs" in message
    assert "no 'image', 'prompt' column(s) among: id, value" in message
    assert "\n" not in message
    check_columns(dataset, ("id", "value"), "'data'", "SFT")  # nothing missing: no error


# ------------------------------------------- stale rows: the datasets cache keyed to the files


def _rows_on_disk(folder, split="eval"):
    """The ids and series that the folder's parquet shards hold, read with pyarrow."""
    import pyarrow.parquet as pq

    table = pq.read_table(sorted((folder / "data").glob(f"{split}-*.parquet")))
    return table.column("id").to_pylist(), table.column("series").to_pylist()


def _rows_loaded(dataset):
    return list(dataset["id"]), list(dataset["series"])


@pytest.fixture(scope="module")
def same_name_folders(tmp_path_factory, expert_ready):
    """Two folders named ``mydata`` with different rows (5 and 10), the smaller one read first."""
    root = tmp_path_factory.mktemp("same-name")
    small = generate_tiny(root / "a" / "mydata", "eval", num_per_family=1, seed=1)
    large = generate_tiny(root / "b" / "mydata", "eval", num_per_family=2, seed=2)
    return small, large


def test_folders_with_the_same_name_each_load_their_own_rows(same_name_folders):
    for folder in same_name_folders:  # the card's instruction, then anomseer's loader
        expected = _rows_on_disk(folder)
        assert _rows_loaded(datasets.load_dataset(str(folder), split="eval")) == expected
        assert _rows_loaded(load_split(folder, "eval")) == expected
    assert [len(_rows_on_disk(folder)[0]) for folder in same_name_folders] == [5, 10]


def test_a_folder_rebuilt_in_place_loads_its_new_rows(tmp_path, expert_ready):
    import shutil

    folder = tmp_path / "data"
    generate_tiny(folder, "eval", num_per_family=2, seed=3)
    before = _rows_on_disk(folder)
    assert _rows_loaded(load_split(folder, "eval")) == before
    assert _rows_loaded(datasets.load_dataset(str(folder), split="eval")) == before
    shutil.rmtree(folder)
    generate_tiny(folder, "eval", num_per_family=1, seed=4)
    after = _rows_on_disk(folder)
    assert len(after[0]) == 5 and after[1] != before[1][:5]
    assert _rows_loaded(load_split(folder, "eval")) == after
    assert _rows_loaded(datasets.load_dataset(str(folder), split="eval")) == after


def test_a_shard_replaced_behind_the_card_still_loads_the_new_rows(tmp_path, expert_ready):
    """The loader keys the cache to the files themselves, not to the card: a shard copied in
    by hand (the card unchanged) is read anew."""
    old = generate_tiny(tmp_path / "old", "eval", num_per_family=1, seed=5)
    new = generate_tiny(tmp_path / "new", "eval", num_per_family=1, seed=6)
    assert _rows_loaded(load_split(old, "eval")) == _rows_on_disk(old)
    [shard] = (old / "data").glob("eval-*.parquet")
    shard.write_bytes(next((new / "data").glob("eval-*.parquet")).read_bytes())
    assert _rows_loaded(load_split(old, "eval")) == _rows_on_disk(new)


def test_evaluation_scores_the_rows_of_the_folder_it_is_given(same_name_folders, tmp_path):
    import json

    from anomseer.evaluation.runner import evaluate

    for index, folder in enumerate(same_name_folders):
        out = tmp_path / f"eval-{index}"
        evaluate(folder, "eval", "expert", out, figures=False, progress=False)
        records = (out / "predictions.jsonl").read_text().splitlines()
        scored = sorted({json.loads(line)["id"] for line in records})
        assert scored == sorted(_rows_on_disk(folder)[0])


@pytest.mark.slow
def test_sft_trains_on_the_rows_of_the_folder_it_is_given(tiny_model_dir, tmp_path, expert_ready):
    from anomseer.trainers.sft import main as sft_main

    root = tmp_path / "same-name"
    recipe = Path(__file__).resolve().parents[1] / "recipes" / "tiny-cpu" / "sft"
    recipe = recipe / "config_default.yaml"
    for index, count in enumerate((1, 2)):
        folder = generate_tiny(root / str(index) / "mydata", "train", count, seed=index)
        args = recipe_args(recipe, tiny_model_dir, folder, tmp_path / f"out-{index}")
        trainer = sft_main([*args, "--max_steps", "1", "--save_strategy", "no"])
        assert len(trainer.train_dataset) == 5 * count
