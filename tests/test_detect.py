"""``anomseer detect``: window answers combined into per-point scores (by hand), the plain
reader, and the expert end to end on a long series made here and on the real benchmark files
in ``../shared/realdata`` (when present), every metric equal to the TSB-AD definition."""

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest

from anomseer.cli import main
from anomseer.detection import detect
from anomseer.detection.combine import (
    WindowAnswers,
    detected_intervals,
    interval_classes,
    point_scores,
)
from anomseer.detection.inputs import guess_format
from anomseer.evaluation.predictions import PREDICTIONS_FILE
from anomseer.intervals import intervals_to_mask
from anomseer.series_metrics import binary_metrics, find_length_rank, tsb_ad_metrics
from data_gen.benchmarks.plain import read as read_plain
from data_gen.benchmarks.source import ReadOptions

REALDATA = Path(__file__).resolve().parents[1].parent / "shared" / "realdata"
TSB_AD_U = REALDATA / "tsb-ad-u"
NAB_FILE = REALDATA / "nab" / "data" / "realKnownCause" / "ec2_request_latency_system_failure.csv"


def test_point_scores_by_hand():
    first = WindowAnswers(0, 6, [[(2, 4)]], ["trend"])
    # two completions: one marks window points [0, 2) = global 3 and 4, the other nothing
    second = WindowAnswers(3, 6, [[(0, 2)], []], ["global point", None])
    score = point_scores(10, [first, second])
    # point 3: (1 + 1/2) / 2 windows; point 4: (0 + 1/2) / 2; point 9: no window covers it
    assert score == pytest.approx([0, 0, 1, 0.75, 0.25, 0, 0, 0, 0, 0])
    detected = detected_intervals(score, 0.5)
    assert detected == [(2, 4)]
    # the trend answer and the global-point answer both overlap: a tie goes to label order
    assert interval_classes(detected, [first, second]) == ["global point"]
    assert interval_classes([(8, 9)], [first, second]) == ["unknown"]


def test_plain_reader(tmp_path):
    with_header = tmp_path / "a.csv"
    with_header.write_text("value,label\n1.5,0\n2.5,1\n3.0,1\n0.1,0\n")
    (series,) = read_plain(with_header, tmp_path, ReadOptions())
    assert series.values.tolist() == [1.5, 2.5, 3.0, 0.1]
    assert series.intervals == [(1, 3)]
    bare = tmp_path / "b.csv"
    bare.write_text("1\n2\n3\n")
    (series,) = read_plain(bare, tmp_path, ReadOptions())
    assert series.values.tolist() == [1, 2, 3] and series.intervals == []
    parquet = tmp_path / "c.parquet"
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"x": [0.5, 1.5], "is_anomaly": [1, 0]}), parquet)
    (series,) = read_plain(parquet, tmp_path, ReadOptions())
    assert series.values.tolist() == [0.5, 1.5] and series.intervals == [(0, 1)]
    assert [guess_format(p) for p in (with_header, parquet)] == ["plain", "plain"]


def _long_series(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """2,600 points of a noisy sine with a spike and a level shift, written as a plain CSV."""
    rng = np.random.default_rng(3)
    t = np.arange(2600)
    values = np.sin(2 * np.pi * t / 50) + 0.05 * rng.standard_normal(len(t))
    label = np.zeros(len(t), dtype=int)
    values[1210:1213] += 6.0
    label[1210:1213] = 1
    values[2000:2150] += 2.5
    label[2000:2150] = 1
    lines = ["value,label", *(f"{float(v)!r},{k}" for v, k in zip(values, label, strict=True))]
    path.write_text("\n".join(lines) + "\n")
    return values, label


def _read_scores(path: Path) -> tuple[np.ndarray, np.ndarray]:
    with open(path, newline="") as stream:
        rows = list(csv.DictReader(stream))
    return np.array([float(r["score"]) for r in rows]), np.array([int(r["label"]) for r in rows])


def _check_run(out: Path, threshold: float = 0.5) -> dict:
    """Every output is there and every metric equals the definition on the written scores."""
    metrics = json.loads((out / "metrics.json").read_text())
    found = json.loads((out / "intervals.json").read_text())["series"]
    assert (out / "report.md").is_file()
    for entry, detected in zip(metrics["series"], found, strict=True):
        assert (out / "figures" / f"{entry['series']}.png").stat().st_size > 0
        score, label = _read_scores(out / "scores" / f"{entry['series']}.csv")
        assert len(score) == entry["length"]
        spans = [(s, e) for s, e, _ in detected["intervals"]]
        assert np.array_equal(intervals_to_mask(spans, len(score)), score >= threshold)
        expected = tsb_ad_metrics(score, label, entry["sliding_window"])
        own = binary_metrics(label, intervals_to_mask(spans, len(score)))
        for found, wanted in ((entry, expected), (entry["intervals"], own)):
            for key, value in wanted.items():  # NaN (nothing predicted) is null in the JSON
                same = None if math.isnan(value) else pytest.approx(value, abs=1e-12)
                assert found[key] == same, key
    return metrics


@pytest.mark.usefixtures("expert_ready")
def test_expert_detects_a_long_series_and_resumes(tmp_path):
    values, label = _long_series(tmp_path / "long.csv")
    out = tmp_path / "run"
    code = main(
        ["detect", "--backend", "expert", "--input", str(tmp_path / "long.csv"), "--out", str(out)]
    )
    assert code == 0
    metrics = _check_run(out)
    (entry,) = metrics["series"]
    assert entry["sliding_window"] == find_length_rank(values) == 50
    assert entry["windows"] == 5  # offsets 0, 500, 1000, 1500 and 1600 (the tail)
    assert entry["VUS-PR"] > 0.2  # the expert finds the spike at least
    assert np.array_equal(_read_scores(out / "scores" / "long.csv")[1], label)
    predictions = out / "windows" / PREDICTIONS_FILE
    lines = predictions.read_text().count("\n")
    again = detect([tmp_path / "long.csv"], "expert", out, progress=False)
    assert predictions.read_text().count("\n") == lines  # nothing asked again
    assert again["series"] == metrics["series"]


def test_bad_input_is_one_line(tmp_path, capsys):
    short = tmp_path / "short.csv"
    short.write_text("\n".join(map(str, range(10))) + "\n")
    out = str(tmp_path / "run")
    assert main(["detect", "--backend", "expert", "--input", str(short), "--out", out]) == 2
    assert "needs at least" in capsys.readouterr().err
    missing = str(tmp_path / "nope.csv")
    assert main(["detect", "--backend", "expert", "--input", missing, "--out", out]) == 2
    assert "is not a file" in capsys.readouterr().err
    long = tmp_path / "long.csv"
    _long_series(long)
    args = ["detect", "--backend", "expert", "--input", str(long), "--out", out, "--stride", "0"]
    assert main(args) == 2
    assert "--stride must be between" in capsys.readouterr().err
    args = ["detect", "--backend", "expert", "--input", str(long), "--out", out]
    assert main([*args, "--compare-tsb-ad", str(long)]) == 2
    assert "is not a TSB-AD VUS-PR table" in capsys.readouterr().err
    assert not Path(out).exists()


@pytest.mark.skipif(not REALDATA.exists(), reason="needs ../shared/realdata")
@pytest.mark.usefixtures("expert_ready")
def test_expert_on_tsb_ad_u_and_nab_files(tmp_path):
    files = [str(p) for p in sorted((TSB_AD_U / "TSB-AD-U").glob("*.csv"))] + [str(NAB_FILE)]
    out = tmp_path / "run"
    table = TSB_AD_U / "uni_mergedTable_VUS-PR.csv"
    detect(files, "expert", out, compare_tsb_ad=table, progress=False)
    metrics = _check_run(out)
    assert [e["sliding_window"] for e in metrics["series"]][:2] == [6, 218]  # TSB-AD's values
    comparison = metrics["tsb_ad_comparison"]
    # TSB-AD publishes its 350 evaluation series only: 451 and the NAB file are not in it
    assert [row["file"] for row in comparison["series"]] == [Path(files[0]).name]
    assert all(1 <= row["rank"] <= 33 for row in comparison["series"])
    assert "Beside TSB-AD's published detectors" in (out / "report.md").read_text()


@pytest.mark.slow
def test_hf_backend_with_the_tiny_model_and_two_samples(tmp_path, tiny_model_dir):
    _long_series(tmp_path / "long.csv")
    short = tmp_path / "short.csv"
    short.write_text("\n".join((tmp_path / "long.csv").read_text().splitlines()[:1501]) + "\n")
    out = tmp_path / "run"
    argv = ["detect", "--backend", "hf", "--model", str(tiny_model_dir), "--input", str(short)]
    argv += ["--out", str(out), "--max-new-tokens", "12", "--n", "2", "--temperature", "1.0"]
    assert main(argv) == 0
    records = (out / "windows" / PREDICTIONS_FILE).read_text().splitlines()
    assert len(records) == 2 * 2  # windows at 0 and 500, two completions each
    (entry,) = _check_run(out)["series"]
    assert entry["windows"] == 2 and entry["length"] == 1500


@pytest.mark.usefixtures("expert_ready")
def test_expert_on_a_multivariate_tsb_ad_m_file(tmp_path):
    rng = np.random.default_rng(4)
    t = np.arange(1200)
    values = np.stack([np.sin(t / 10 + k) + 0.05 * rng.standard_normal(len(t)) for k in range(3)])
    label = np.zeros(len(t), dtype=int)
    values[1, 1000:1010] += 5.0
    label[1000:1010] = 1
    path = tmp_path / "001_Demo_id_1_Test_tr_500_1st_1000.csv"  # TSB-AD's naming
    rows = [
        ",".join([*(repr(float(v)) for v in column), str(k)])
        for column, k in zip(values.T, label, strict=True)
    ]
    path.write_text("\n".join(["A,B,C,Label", *rows]) + "\n")
    detect([path], "expert", tmp_path / "run", progress=False)
    metrics = _check_run(tmp_path / "run")
    (entry,) = metrics["series"]
    assert entry["windows"] == 2 and entry["sliding_window"] == find_length_rank(values[0])
