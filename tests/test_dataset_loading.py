"""The dataset loader training and evaluation share: parquet folders and save_to_disk folders,
one-line errors that name the fix."""

import datasets
import pytest

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
