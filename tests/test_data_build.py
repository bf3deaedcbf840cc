"""Rows, presets, the resumable shard writer, and `anomseer gen`."""

import hashlib
import json

import numpy as np
import pytest

from anomseer.cli import main
from anomseer.columns import COLUMNS
from anomseer.errors import UserInputError
from anomseer.protocol import parse_answer
from data_gen import build
from data_gen.build import build_split, schedule
from data_gen.presets import load_preset, parse_preset
from data_gen.render import PlotRenderer
from data_gen.rows import build_row

pytestmark = pytest.mark.usefixtures("expert_ready")


def _tiny(**changes):
    raw = {
        "name": "unit",
        "style": "paper",
        "rows_per_shard": 3,
        "splits": {
            "train": {"seed": 1, "num_per_family": 3},
            "eval": {"seed": 2, "num_per_family": 1},
        },
        "families": {"range": {}, "freq": {}, "irregular-point": {"drop_ratio": [0.1]}},
    }
    raw.update(changes)
    return parse_preset(raw, source="unit.yaml")


def _digests(folder):
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted((folder / "data").glob("*.parquet"))
    }


def test_build_row_columns_and_label_free_image():
    t = np.arange(1000)
    series = 0.5 * np.sin(2 * np.pi * 0.03 * t)
    series[400] = 0.95
    renderer = PlotRenderer()
    anomalous = build_row(
        id="x/range/train/0",
        family="range",
        series=series,
        intervals=[(400, 401)],
        anomaly_type="global",
        renderer=renderer,
    )
    normal = build_row(
        id="x/range/train/1",
        family="range",
        series=series,
        intervals=[],
        anomaly_type="normal",
        renderer=renderer,
    )
    assert tuple(anomalous) == COLUMNS
    assert anomalous["image"]["bytes"] == normal["image"]["bytes"]  # the label never shows
    assert anomalous["anomaly_type"] == "global point" and anomalous["length"] == 1000
    assert anomalous["intervals"] == [[400, 401]] and anomalous["variates"] == []
    text = anomalous["completion"][0]["content"][0]["text"]
    answer = parse_answer(text, 1000)
    assert answer.format_valid and answer.intervals == [(400, 401)]
    assert answer.label == "global point" and answer.think == anomalous["expcot"]
    brief = build_row(
        id="x/range/train/2", family="range", series=series, intervals=[(400, 401)],
        anomaly_type="global", renderer=renderer, expcot_style="brief",
    )  # fmt: skip
    assert parse_answer(brief["completion"][0]["content"][0]["text"], 1000).format_valid
    assert brief["expcot"].startswith(
        "At first sight: global point. 1 anomalous interval. In [400, 401) the value reaches"
    )
    assert anomalous["prompt"][0]["content"][0] == {"type": "image"}
    assert "length 1000" in anomalous["prompt"][0]["content"][1]["text"]
    for bad, message in [
        ({"intervals": [(990, 1001)]}, "intervals"),
        ({"anomaly_type": "weird"}, "unknown anomaly type"),
        ({"intervals": [], "anomaly_type": "trend"}, "does not match"),
        ({"variates": [1]}, "no variate ids"),
        ({"expcot_style": "short"}, "expcot_style"),
    ]:
        arguments = {
            "id": "x",
            "family": "range",
            "series": series,
            "intervals": [(1, 2)],
            "anomaly_type": "global point",
            "renderer": renderer,
            **bad,
        }
        with pytest.raises(ValueError, match=message):
            build_row(**arguments)


def test_schedule_interleaves_families():
    assert schedule({"a": 2, "b": 1, "c": 2}) == [("a", 0), ("b", 0), ("c", 0), ("a", 1), ("c", 1)]


def test_build_load_and_card(tmp_path):
    import datasets

    preset = _tiny()
    summary = build_split(preset, "train", tmp_path, progress=False)
    build_split(preset, "eval", tmp_path, progress=False)
    assert summary.num_rows == 9 and summary.num_shards == 3
    assert summary.families == {"freq": 3, "irregular-point": 3, "range": 3}
    assert sorted(_digests(tmp_path)) == [
        "eval-00000-of-00001.parquet",
        "train-00000-of-00003.parquet",
        "train-00001-of-00003.parquet",
        "train-00002-of-00003.parquet",
    ]
    train = datasets.load_dataset(str(tmp_path), split="train")
    evaluation = datasets.load_dataset(str(tmp_path), split="eval")
    assert len(train) == 9 and len(evaluation) == 3
    assert list(train.features) == list(COLUMNS)
    assert isinstance(train.features["image"], datasets.Image)
    row = train[2]
    assert row["id"] == "unit/irregular-point/train/0" and row["image"].size == (1000, 150)
    assert np.isnan(np.asarray(row["series"], dtype=float)).sum() == 100
    assert {r["id"] for r in train} == {
        f"unit/{f}/train/{i}" for f in ("range", "freq", "irregular-point") for i in range(3)
    }
    card = (tmp_path / "README.md").read_text()
    assert "split: train" in card and "split: eval" in card and '"seed": 1' not in card
    assert "| irregular-point | 3 |" in card and "- seed: `1`" in card
    manifest = json.loads((tmp_path / "anomseer-dataset.json").read_text())
    assert manifest["splits"]["train"]["complete"] is True


def test_interrupted_run_resumes_to_identical_bytes(tmp_path, monkeypatch):
    preset = _tiny()
    build_split(preset, "train", tmp_path / "clean", progress=False)

    calls = []
    original = build.build_rows

    def interrupted(*args):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt  # killed while building the second shard
        return original(*args)

    monkeypatch.setattr(build, "build_rows", interrupted)
    with pytest.raises(KeyboardInterrupt):
        build_split(preset, "train", tmp_path / "resumed", progress=False)
    monkeypatch.setattr(build, "build_rows", original)
    data = tmp_path / "resumed" / "data"
    assert [p.name for p in data.iterdir()] == ["train-00000-of-00003.parquet"]
    (data / ".train-00001-of-00003.parquet.abc.tmp").write_bytes(b"half a shard")
    first = (data / "train-00000-of-00003.parquet").stat().st_mtime_ns
    build_split(preset, "train", tmp_path / "resumed", progress=False)
    assert (data / "train-00000-of-00003.parquet").stat().st_mtime_ns == first  # skipped
    assert _digests(tmp_path / "resumed") == _digests(tmp_path / "clean")
    assert not list(data.glob(".*"))


@pytest.mark.slow
def test_two_workers_write_the_same_bytes(tmp_path):
    preset = _tiny()
    build_split(preset, "train", tmp_path / "one", progress=False)
    build_split(preset, "train", tmp_path / "two", workers=2, progress=False)
    assert _digests(tmp_path / "two") == _digests(tmp_path / "one")


def test_multivariate_preset(tmp_path):
    import datasets

    preset = parse_preset(
        {
            "name": "grid",
            "style": {"ylim": None},
            "splits": {"test": {"seed": 0, "num_per_family": 2}},
            "families": {
                "vta-square": {"num_variates": [4]},
                "vta-random-walk": {"num_variates": [9]},
            },
        },
        source="grid.yaml",
    )
    assert preset.multivariate
    build_split(preset, "test", tmp_path, progress=False)
    rows = datasets.load_dataset(str(tmp_path), split="test")
    row = rows[0]
    assert np.asarray(row["series"]).shape == (4, 200) and row["variates"]
    assert row["intervals"] == [] and row["anomaly_type"] == "shapelet"
    assert "4 variates" in row["prompt"][0]["content"][1]["text"]
    answer = parse_answer(row["completion"][0]["content"][0]["text"], 200, multivariate=True)
    assert answer.variates == row["variates"] and answer.label == "shapelet"
    assert row["image"].size == (1000, 200)


def test_presets_in_recipes_load():
    for name in ("anomllm", "visualtimeanomaly", "visualtimeanomaly-multivariate", "tiny", "demo"):
        preset = load_preset(name)
        assert preset.name == name and set(preset.splits) >= {"train", "eval"}
    assert load_preset("demo").expcot == "brief" and load_preset("tiny").expcot == "full"
    anomllm = load_preset("anomllm")
    assert anomllm.counts("train") == {f.name: 400 for f in anomllm.families}
    assert anomllm.splits["train"].seed == 3407 and anomllm.splits["eval"].seed == 42
    assert anomllm.style.ylim == (-1.0, 1.0)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"families": {"nope": {}}}, "unknown family 'nope'"),
        ({"families": {"range": {"length": 0}}}, "length must be"),
        ({"families": {"trend": {"length": 300}}}, "does not fit"),
        ({"families": {"range": {}, "vta-square": {}}}, "mixes univariate and multivariate"),
        ({"splits": {"train": {"seed": -1, "num_per_family": 2}}}, "seed must be"),
        ({"splits": {"train": {"seed": 1, "num_per_family": 0}}}, "num_per_family must be"),
        ({"style": "fancy"}, "unknown style"),
        ({"style": {"ylim": [1, -1]}}, "ylim"),
        ({"style": {"x_ramp": "Greyz"}}, "x_ramp 'Greyz' is not a matplotlib colormap"),
        ({"rows_per_shard": 0}, "rows_per_shard"),
        ({"expcot": "short"}, "unknown expcot style 'short'"),
        ({"colour": "red"}, "unknown field 'colour'"),
    ],
)
def test_bad_presets_are_one_line_errors(change, message):
    with pytest.raises(UserInputError, match=message) as error:
        _tiny(**change)
    assert "\n" not in str(error.value)


def test_cli_generates_and_previews(tmp_path, capsys):
    out, preview = tmp_path / "ds", tmp_path / "preview.png"
    code = main(
        [
            "gen",
            "--preset",
            "tiny",
            "--split",
            "eval",
            "--out",
            str(out),
            "--num-per-family",
            "1",
            "--preview",
            str(preview),
            "--preview-per-family",
            "1",
            "--no-progress",
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "eval: 5 rows in 1 shards" in printed
    assert preview.stat().st_size > 1000 and (out / "data" / "eval-00000-of-00001.parquet").exists()


def test_cli_refuses_bad_input_without_writing(tmp_path, capsys):
    out = tmp_path / "ds"
    cases = [
        (["--preset", "nope", "--out", str(out)], "unknown preset 'nope'"),
        (["--preset", "tiny", "--out", str(out), "--num-per-family", "0"], "must be positive"),
        (["--preset", "tiny", "--out", str(out), "--split", "test"], "has no split 'test'"),
        (["--preset", "tiny", "--out", str(out), "--workers", "0"], "--workers"),
        (["--preset", "tiny"], "nothing to do"),
    ]
    for argv, message in cases:
        assert main(["gen", *argv]) == 2
        error = capsys.readouterr().err.strip()
        assert message in error and "\n" not in error and "Traceback" not in error
        assert not out.exists()


def test_refuses_a_folder_of_another_preset(tmp_path):
    build_split(_tiny(), "eval", tmp_path, progress=False)
    before = _digests(tmp_path)
    other = _tiny(name="other")
    with pytest.raises(
        UserInputError, match="already holds split 'eval' built with a different pre"
    ):
        build_split(other, "eval", tmp_path, progress=False)
    with pytest.raises(UserInputError, match="different seed"):
        build_split(_tiny(), "eval", tmp_path, seed=5, progress=False)
    with pytest.raises(UserInputError, match="different families, num_rows"):
        build_split(_tiny(), "eval", tmp_path, num_per_family=2, progress=False)
    assert _digests(tmp_path) == before
    for shard in (tmp_path / "data").glob("eval-*"):
        shard.unlink()  # with the shards gone, the split is rebuilt from the new recipe
    assert build_split(_tiny(), "eval", tmp_path, seed=5, progress=False).num_rows == 3
    stray = tmp_path / "stray"
    (stray / "data").mkdir(parents=True)
    (stray / "data" / "eval-00000-of-00001.parquet").write_bytes(b"not ours")
    with pytest.raises(UserInputError, match="did not record"):
        build_split(_tiny(), "eval", stray, progress=False)
