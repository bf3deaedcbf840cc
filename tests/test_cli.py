"""The command line as a user meets it: every bad input ends with one line naming the problem
and the fix, exit status 2, and nothing half-written."""

import importlib
import re
import shutil
import subprocess
import sys

import pytest
from helpers.cli_run import anomseer, assert_one_line_error

from anomseer.cli import COMMAND_MODULES, main


def test_help_lists_every_command_without_heavy_imports():
    code = (
        "import sys; from anomseer.cli import build_parser; build_parser();"
        "heavy = {'torch', 'transformers', 'trl', 'matplotlib', 'datasets'} & set(sys.modules);"
        "print(sorted(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    help_text = subprocess.run(
        [sys.executable, "-m", "anomseer.cli", "--help"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    listed = re.findall(r"^    ([a-z-]+)", help_text, flags=re.MULTILINE)
    names = [importlib.import_module(f"anomseer.commands.{m}").NAME for m in COMMAND_MODULES]
    assert listed == names == [m.replace("_", "-") for m in COMMAND_MODULES]


def test_tiny_model_command_builds_a_loadable_folder(tmp_path, capsys):
    assert main(["tiny-model", str(tmp_path / "m")]) == 0
    assert (tmp_path / "m" / "config.json").is_file()
    assert "ready" in capsys.readouterr().out


@pytest.fixture
def workdir(tmp_path):
    """A folder with a PNG image, a broken YAML file and an empty folder."""
    from PIL import Image

    Image.new("RGB", (16, 16), "white").save(tmp_path / "plot.png")
    (tmp_path / "bad.yaml").write_text("name: broken\nsplits: {train: 1\n")
    (tmp_path / "empty").mkdir()
    return tmp_path


BAD_INPUT = {
    "gen-preset-is-an-image": (
        ["gen", "--preset", "plot.png", "--out", "out"],
        ["preset 'plot.png' is not a text file"],
    ),
    "gen-preset-file-missing": (
        ["gen", "--preset", "presets/mine.yaml", "--out", "out"],
        ["preset file 'presets/mine.yaml' does not exist", "tiny"],
    ),
    "gen-preset-name-unknown": (
        ["gen", "--preset", "tinny", "--out", "out"],
        ["unknown preset 'tinny'", "tiny"],
    ),
    "gen-preset-yaml-error-keeps-line-and-column": (
        ["gen", "--preset", "bad.yaml", "--out", "out"],
        ["not valid YAML: line 3, column 1"],
    ),
    "gen-num-per-family-not-an-integer": (
        ["gen", "--preset", "tiny", "--num-per-family", "1e10", "--out", "out"],
        ["--num-per-family: invalid int value: '1e10'"],
    ),
    "gen-num-per-family-beyond-the-disk": (
        ["gen", "--preset", "tiny", "--num-per-family", "10000000000", "--out", "out"],
        ["100000000000 rows need at least", "lower --num-per-family"],
    ),
    "gen-preview-not-png": (
        ["gen", "--preset", "tiny", "--preview", "x.txt"],
        ["--preview writes a PNG image", ".png"],
    ),
    "gen-misspelled-flag": (
        ["gen", "--preset", "tiny", "--num-per-famly", "3", "--out", "out"],
        ["--num-per-famly (did you mean '--num-per-family'?)"],
    ),
    "report-missing-folder": (
        ["report", "missing-run"],
        ["run folder 'missing-run' does not exist"],
    ),
    "sft-config-is-an-image": (
        ["sft", "--config", "plot.png"],
        ["recipe 'plot.png' is not a text file"],
    ),
    "sft-config-yaml-error-keeps-line-and-column": (
        ["sft", "--config", "bad.yaml"],
        ["not valid YAML: line 3, column 1"],
    ),
    "sft-misspelled-flag": (
        ["sft", "--config", "tiny-cpu/sft/config_default.yaml", "--max_stepz", "3"],
        ["'--max_stepz' (did you mean '--max_steps'?)"],
    ),
    "timerpo-invalid-choice": (
        ["timerpo", "--config", "tiny-cpu/timerpo/config_default.yaml", "--grounding", "otx"],
        ["anomseer timerpo: error: argument --grounding: invalid choice: 'otx'"],
    ),
}


@pytest.mark.parametrize("case", BAD_INPUT, ids=str)
def test_bad_input_ends_with_one_line_and_writes_nothing(case, workdir):
    args, fragments = BAD_INPUT[case]
    before = sorted(p.name for p in workdir.iterdir())
    assert_one_line_error(anomseer(*args, cwd=workdir), *fragments)
    assert sorted(p.name for p in workdir.iterdir()) == before


def test_eval_refuses_an_image_as_model(workdir, tiny_eval_data):
    result = anomseer(
        "eval", "--data", tiny_eval_data, "--backend", "hf", "--model", "plot.png", "--out", "run",
        cwd=workdir,
    )  # fmt: skip
    assert_one_line_error(result, "model path 'plot.png' is a file")
    assert not (workdir / "run").exists()


def test_sft_refuses_an_empty_folder_as_model(workdir):
    from helpers.sft_dataset import write_sft_dataset

    data = write_sft_dataset(workdir / "sft-data", count=2)
    result = anomseer(
        "sft", "--config", "tiny-cpu/sft/config_default.yaml", "--model_name_or_path", "empty",
        "--dataset_name", data, "--output_dir", "run",
        cwd=workdir,
    )  # fmt: skip
    assert_one_line_error(result, "model folder", "holds no config.json")
    assert not (workdir / "run").exists()


def test_eval_names_a_truncated_shard(workdir, tiny_eval_data):
    data = shutil.copytree(tiny_eval_data, workdir / "truncated-data")
    shard = data / "data" / "eval-00001-of-00002.parquet"
    shard.write_bytes(shard.read_bytes()[:-100])
    result = anomseer("eval", "--data", data, "--backend", "expert", "--out", "run", cwd=workdir)
    assert_one_line_error(result, f"dataset shard {shard} is damaged", "rebuild it")
    assert not (workdir / "run").exists()


def test_eval_names_a_row_whose_image_is_not_an_image(workdir, tiny_eval_data, tiny_model_dir):
    import pyarrow as pa
    import pyarrow.parquet as pq

    # a folder name of its own: the datasets cache of another test's "data" folder must not
    # answer for it (issue 18)
    data = shutil.copytree(tiny_eval_data, workdir / "undecodable-data")
    shard = data / "data" / "eval-00000-of-00002.parquet"
    table = pq.read_table(shard)
    images = table.column("image").to_pylist()
    images[3] = {"bytes": b"these bytes are no image", "path": None}
    column = table.schema.get_field_index("image")
    table = table.set_column(
        column, table.field(column), pa.array(images, table.field(column).type)
    )
    pq.write_table(table, shard)
    bad_id = table.column("id")[3].as_py()
    result = anomseer(
        "eval", "--data", data, "--backend", "hf", "--model", tiny_model_dir, "--out", "run",
        "--max-new-tokens", "4", "--no-figures",
        cwd=workdir,
    )  # fmt: skip
    assert_one_line_error(result, f"dataset row {bad_id!r} (index 3) cannot be read")
    assert not (workdir / "run").exists()


def test_gen_rebuilds_a_damaged_shard(tmp_path, capsys, expert_ready):
    argv = ["gen", "--preset", "tiny", "--split", "eval", "--num-per-family", "1",
            "--rows-per-shard", "2", "--out", str(tmp_path / "d"), "--no-progress"]  # fmt: skip
    assert main(argv) == 0
    shards = sorted((tmp_path / "d" / "data").glob("*.parquet"))
    whole = {path: path.read_bytes() for path in shards}
    shards[1].write_bytes(whole[shards[1]][: len(whole[shards[1]]) // 2])
    capsys.readouterr()
    assert main(argv) == 0
    assert f"rebuilding damaged shard {shards[1]}" in capsys.readouterr().err
    assert {path: path.read_bytes() for path in shards} == whole
