"""Benchmark converters: fixture files written in each native layout, windowing, truth, the
restricted unpickler, bad files, the dataset card and `anomseer convert`."""

import dataclasses
import itertools
import json
import pickle

import numpy as np
import pytest

from anomseer.cli import build_parser, main
from anomseer.columns import COLUMNS, SOURCE_COLUMNS
from anomseer.errors import UserInputError
from anomseer.intervals import cuts_an_anomaly
from anomseer.protocol import parse_answer
from data_gen.benchmarks import FORMATS, reader
from data_gen.benchmarks.convert import (
    SCALES,
    STYLES,
    WINDOWINGS,
    ConvertOptions,
    inventory_rows,
    scan,
)
from data_gen.benchmarks.expert_label import expert_label
from data_gen.benchmarks.pickled import load_data_pkl
from data_gen.benchmarks.source import (
    SourceError,
    irregular_steps,
    truth_intervals,
)
from data_gen.benchmarks.ucr import INDEX_CONVENTIONS, parse_name
from data_gen.benchmarks.windows import (
    anomaly_aware_windows,
    context_points,
    keep_normal,
    scale_window,
    window_offsets,
)

pytestmark = pytest.mark.usefixtures("expert_ready")

# ----------------------------------------------------------------------------- fixtures


def _wave(length, seed=0):
    rng = np.random.default_rng(seed)
    return np.sin(2 * np.pi * 0.04 * np.arange(length)) + rng.normal(0, 0.03, length)


def _mask(length, intervals):
    mask = np.zeros(length, dtype=bool)
    for start, end in intervals:
        mask[start:end] = True
    return mask


def _rows(inventory):
    """Every row of a scanned inventory, built in memory (no parquet)."""
    return inventory_rows(inventory)(range(len(inventory.windows)))


def _check_truth(rows, labels_by_file, values_by_file=None):
    """Each row's truth is the source's labels inside its window, and (unscaled) its values
    are the source's values there."""
    for row in rows:
        labels = labels_by_file[row["source_file"]]
        window = labels[row["offset"] : row["offset"] + row["length"]]
        assert np.array_equal(_mask(row["length"], row["intervals"]), window), row["id"]
        if values_by_file is not None:
            source = values_by_file[row["source_file"]]
            expected = source[row["offset"] : row["offset"] + row["length"]]
            np.testing.assert_array_equal(np.asarray(row["series"]), expected)


def _write_csv(path, header, columns):
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [",".join(header)]
    lines += [",".join(str(v) for v in values) for values in zip(*columns, strict=True)]
    path.write_text("\n".join(lines) + "\n")


# ----------------------------------------------------------------------------- windows


def test_window_offsets_cover_the_series_and_keep_a_tail_window():
    assert window_offsets(250, 100, 100) == [0, 100, 150]
    assert window_offsets(300, 100, 100) == [0, 100, 200]
    assert window_offsets(250, 100, 50) == [0, 50, 100, 150]
    assert window_offsets(80, 100, 100) == [0]
    assert window_offsets(100, 100, 30) == [0]


def test_anomaly_aware_windows_hold_each_anomaly_with_context_and_never_overlap():
    rng = np.random.default_rng(0)
    assert context_points(1000) == 50 and context_points(10) == 1
    # one short anomaly: its window holds it with >= 50 points each side; the stretches
    # before and after are tiled with whole windows (remainders under 1000 points left out)
    for seed in range(20):
        windows = anomaly_aware_windows(0, 5000, 1000, [(2000, 2010)], np.random.default_rng(seed))
        holding = [(o, n) for o, n in windows if o <= 2000 and o + n >= 2010]
        assert len(holding) == 1 and 1060 <= holding[0][0] <= 1950
        assert all(n == 1000 for _, n in windows) and len(windows) in (4, 5)
        assert all(a + 1000 <= b for (a, _), (b, _) in itertools.pairwise(windows))
    # two anomalies 920 points apart do not fit one window with context: each gets its own
    windows = anomaly_aware_windows(0, 3000, 1000, [(100, 110), (1030, 1040)], rng)
    assert [w for w in windows if w[0] <= 100 and sum(w) >= 110] and not any(
        cuts_an_anomaly([(100, 110), (1030, 1040)], o, n) for o, n in windows
    )
    # longer than a window: consecutive windows from 50 points before it
    long = anomaly_aware_windows(0, 5000, 1000, [(1000, 3500)], rng)
    assert long == [(950, 1000), (1950, 1000), (2950, 1000), (3950, 1000)]
    # the region is the split's part; a short region is one window; a short anomalous tail
    # becomes a shorter window
    assert anomaly_aware_windows(600, 1400, 1000, [(700, 710)], rng) == [(600, 800)]
    assert anomaly_aware_windows(0, 5300, 1000, [(5200, 5250)], rng, 40)[-1] == (4300, 1000)
    assert anomaly_aware_windows(0, 2050, 1000, [(2020, 2050)], rng, 40)[-1] == (1050, 1000)


def test_irregular_steps_name_gaps_and_repeats_in_typical_steps():
    times = np.array([0, 5, 10, 15, 45, 50, 50, 55])
    assert irregular_steps(times) == [(4, 6.0), (6, 0.0)]
    assert irregular_steps(np.arange(0, 50, 5)) == []


def test_keep_normal_hits_the_ratio_and_is_seeded():
    # 0.25 of the rows normal next to 6 anomalous windows: round(0.25 / 0.75 * 6) = 2
    kept = keep_normal(6, 20, 0.25, seed=3)
    assert len(kept) == 2 and list(kept) == sorted(kept)
    assert np.array_equal(kept, keep_normal(6, 20, 0.25, seed=3))
    assert len(keep_normal(6, 20, 0.5, seed=0)) == 6
    assert len(keep_normal(6, 3, 0.5, seed=0)) == 3  # fewer available than wanted
    assert len(keep_normal(6, 20, 0.0, seed=0)) == 0
    assert list(keep_normal(6, 4, None, seed=0)) == [0, 1, 2, 3]


def test_scale_window_maps_finite_values_to_minus_one_one():
    scaled = scale_window(np.array([2.0, 4.0, np.nan, 3.0]))
    np.testing.assert_array_equal(scaled[[0, 1, 3]], [-1.0, 1.0, 0.0])
    assert np.isnan(scaled[2])
    assert np.array_equal(scale_window(np.full(5, 7.0)), np.zeros(5))
    grid = scale_window(np.array([[0.0, 10.0, 5.0], [1.0, 1.0, 1.0]]))
    np.testing.assert_array_equal(grid, [[-1.0, 1.0, 0.0], [0.0, 0.0, 0.0]])


def test_pickled_truth_becomes_half_open_intervals():
    assert truth_intervals([7, 3, 4], 10) == [(3, 5), (7, 8)]  # point p is [p, p+1)
    assert truth_intervals([(2, 6), [8, 10]], 10) == [(2, 6), (8, 10)]
    with pytest.raises(SourceError, match="does not fit"):
        truth_intervals([(8, 11)], 10)
    with pytest.raises(SourceError, match="neither"):
        truth_intervals(["a"], 10)


# ----------------------------------------------------------------------------- UCR


@pytest.mark.parametrize(
    ("convention", "expected"),
    [
        ("0-half-open", (5000, 5100)),
        ("0-inclusive", (5000, 5101)),
        ("1-half-open", (4999, 5099)),
        ("1-inclusive", (4999, 5100)),
    ],
)
def test_ucr_name_parsed_from_the_right_under_each_convention(convention, expected):
    name = "007_UCR_Anomaly_my_odd_name_2000_5000_5100.txt"
    assert parse_name(name, convention) == (2000, expected)


@pytest.mark.parametrize("convention", list(INDEX_CONVENTIONS))
def test_ucr_windows_round_trip_under_each_convention(tmp_path, convention):
    values = _wave(250)
    values[159:165] += 2.0
    name = "001_UCR_Anomaly_Test_60_160_164.txt"  # 1-inclusive reads [159, 164)
    (tmp_path / name).write_text("\n".join(f"{v:.17g}" for v in values) + "\n")
    options = ConvertOptions(
        "ucr", window=100, ucr_index=convention, scale="none", windowing="grid"
    )
    inventory = scan(tmp_path, options, progress=False)
    assert [w.offset for w in inventory.windows] == [60, 150]  # after the train part
    rows = _rows(inventory)
    truth = _mask(250, [parse_name(name, convention)[1]])
    _check_truth(rows, {name: truth}, {name: values})
    anomalous = [r for r in rows if r["intervals"]]
    assert {r["offset"] for r in anomalous} == ({60, 150} if "1-" in convention else {150})
    assert all(r["type_source"] == "expert" and r["family"] == "ucr" for r in anomalous)
    assert all(r["anomaly_type"] == "normal" for r in rows if not r["intervals"])


def test_ucr_values_on_one_line_and_bad_files_are_named(tmp_path):
    good = "002_UCR_Anomaly_OneLine_10_50_60.txt"
    (tmp_path / good).write_text(" ".join(f"{v:.6f}" for v in _wave(120)))
    (tmp_path / "003_UCR_Anomaly_Broken_10_50.txt").write_text("1\n" * 100)
    (tmp_path / "004_UCR_Anomaly_Outside_10_500_600.txt").write_text("1\n" * 100)
    (tmp_path / "005_UCR_Anomaly_Text_10_20_30.txt").write_text("1\nabc\n" * 50)
    inventory = scan(tmp_path, ConvertOptions("ucr", window=100), progress=False)
    assert inventory.files == (good,)
    reasons = {bad.path: bad.reason for bad in inventory.bad_files}
    assert "does not follow NNN_UCR_Anomaly" in reasons["003_UCR_Anomaly_Broken_10_50.txt"]
    assert "does not fit the 100 values" in reasons["004_UCR_Anomaly_Outside_10_500_600.txt"]
    assert "'abc'" in reasons["005_UCR_Anomaly_Text_10_20_30.txt"]


# ----------------------------------------------------------------------------- TSB-AD


def test_tsb_ad_labels_windows_and_minmax_scaling(tmp_path):
    name = "001_NAB_id_1_Facility_tr_20_1st_30.csv"
    values = 50 + 10 * _wave(230, seed=2)
    labels = np.zeros(230, dtype=int)
    labels[[30, 31, 150]] = 1
    labels[95:110] = 1
    _write_csv(tmp_path / name, ["Data", "Label"], [values, labels])
    _write_csv(
        tmp_path / "002_YAHOO_id_2_WebService_tr_50_1st_60.csv", ["Value", "Label"], [[1], [0]]
    )
    _write_csv(tmp_path / "oops.csv", ["Data", "Label"], [values, labels])
    options = ConvertOptions("tsb-ad", window=100, windowing="grid")
    inventory = scan(tmp_path, options, progress=False)
    reasons = {bad.path: bad.reason for bad in inventory.bad_files}
    assert "no 'Data' column" in reasons["002_YAHOO_id_2_WebService_tr_50_1st_60.csv"]
    assert "does not follow <idx>_<Dataset>_id_" in reasons["oops.csv"]
    rows = _rows(inventory)
    _check_truth(rows, {name: labels.astype(bool)})
    assert {r["family"] for r in rows} == {"tsb-ad-nab"}
    for row in rows:  # scaled: the window's own min and max map to -1 and 1
        source = values[row["offset"] : row["offset"] + row["length"]]
        np.testing.assert_allclose(row["series"], scale_window(source))
    first = rows[0]
    assert first["intervals"] == [[30, 32], [95, 100]]
    answer = parse_answer(first["completion"][0]["content"][0]["text"], first["length"])
    assert answer.intervals == [(30, 32), (95, 100)] and answer.label == first["anomaly_type"]


def test_tsb_ad_bad_label_values_name_the_line(tmp_path):
    name = "001_X_id_1_D_tr_1_1st_2.csv"
    _write_csv(tmp_path / name, ["Data", "Label"], [_wave(50), [0] * 49 + [2]])
    inventory = scan(tmp_path, ConvertOptions("tsb-ad", window=50), progress=False)
    assert inventory.bad_files[0].path == name
    assert inventory.bad_files[0].reason == "Label on line 51 is '2'; labels are 0 or 1"


def test_tsb_ad_m_variates_are_read_by_the_expert_and_train_parts_are_checked(tmp_path):
    length = 300
    grid = np.stack([_wave(length, seed=v) for v in range(3)])
    grid[1, 200:204] += 6.0  # only variate 1 departs at the labelled points
    labels = np.zeros(length, dtype=int)
    labels[200:204] = 1
    name = "001_Genesis_id_1_Sensor_tr_100_1st_200.csv"
    _write_csv(tmp_path / name, ["a", "b", "c", "Label"], [*grid, labels])
    _write_csv(tmp_path / "002_G_id_2_S_tr_250_1st_200.csv", ["a", "Label"], [grid[0], labels])
    options = ConvertOptions("tsb-ad-m", window=100, windowing="grid")
    inventory = scan(tmp_path, options, progress=False)
    assert inventory.multivariate and inventory.files == (name,)
    assert "holds anomalies" in inventory.bad_files[0].reason
    rows = _rows(inventory)
    anomalous = [r for r in rows if r["intervals"]]
    assert [r["offset"] for r in anomalous] == [200]
    assert anomalous[0]["variates"] == [1] and anomalous[0]["type_source"] == "expert"
    assert anomalous[0]["family"] == "tsb-ad-m-genesis"
    assert np.asarray(anomalous[0]["series"]).shape == (3, 100)
    train = scan(tmp_path, dataclasses.replace(options, split="train"), progress=False)
    assert [(w.offset, w.length) for w in train.windows] == [(0, 100)]


def test_tsb_uad_out_files_family_from_the_folder_and_bad_lines_named(tmp_path):
    values = _wave(120)
    labels = np.zeros(120, dtype=int)
    labels[60:63] = 1
    folder = tmp_path / "benchmark" / "ECG"
    folder.mkdir(parents=True)
    lines = [f"{v:.17g},{label}" for v, label in zip(values, labels, strict=True)]
    (folder / "a.out").write_text("\n".join(lines) + "\n")
    (folder / "b.out").write_text("\n".join([*lines[:5], "0.5,0.5", *lines[6:]]) + "\n")
    (folder / "c.out").write_text("\n".join([*lines[:7], "1,0,2", *lines[8:]]) + "\n")
    inventory = scan(tmp_path, ConvertOptions("tsb-uad", window=120, scale="none"), progress=False)
    assert inventory.files == ("benchmark/ECG/a.out",)
    reasons = {bad.path: bad.reason for bad in inventory.bad_files}
    assert reasons["benchmark/ECG/b.out"] == "label on line 6 is '0.5'; labels are 0 or 1"
    assert reasons["benchmark/ECG/c.out"] == "line 8 has 3 fields; .out lines are value,label"
    (row,) = _rows(inventory)
    assert row["intervals"] == [[60, 63]] and row["family"] == "tsb-uad-ecg"
    np.testing.assert_array_equal(row["series"], values)


def test_file_list_and_windowing_options_are_checked(tmp_path):
    _write_csv(tmp_path / "list.csv", ["file_name"], [["009_X_id_9_D_tr_10_1st_20.csv"]])
    name = "001_X_id_1_D_tr_10_1st_60.csv"
    _write_csv(tmp_path / "data" / name, ["Data", "Label"], [_wave(100), [0] * 100])
    listed = ConvertOptions("tsb-ad", window=100, file_list=str(tmp_path / "list.csv"))
    with pytest.raises(UserInputError, match="none of the 1 files found is named"):
        scan(tmp_path / "data", listed, progress=False)
    with pytest.raises(UserInputError, match="file_name column"):
        scan(
            tmp_path / "data", dataclasses.replace(listed, file_list=str(tmp_path / "data" / name))
        )
    with pytest.raises(UserInputError, match="choose windowing 'grid'"):
        ConvertOptions("nab", stride=50, windowing="anomaly-aware")
    assert ConvertOptions("nab", stride=50).effective_windowing == "grid"
    assert ConvertOptions("nab").effective_style == "real"


# ----------------------------------------------------------------------------- NAB


def test_nab_inclusive_timestamp_windows(tmp_path):
    times = np.datetime64("2014-04-10T00:00:00") + np.arange(150) * np.timedelta64(300, "s")
    stamps = [str(t).replace("T", " ") for t in times]
    values = _wave(150, seed=3)
    _write_csv(tmp_path / "data/realKnownCause/taxi.csv", ["timestamp", "value"], [stamps, values])
    _write_csv(tmp_path / "data/artificial/flat.csv", ["timestamp", "value"], [stamps, values])
    _write_csv(tmp_path / "data/artificial/orphan.csv", ["timestamp", "value"], [stamps, values])
    windows = {
        "realKnownCause/taxi.csv": [
            [f"{stamps[10]}.000000", f"{stamps[20]}.000000"],
            [f"{stamps[140]}.000000", "2014-05-01 00:00:00.000000"],
        ],
        "artificial/flat.csv": [],
    }
    (tmp_path / "labels").mkdir()
    (tmp_path / "labels/combined_windows.json").write_text(json.dumps(windows))
    inventory = scan(tmp_path, ConvertOptions("nab", window=100), progress=False)
    assert [bad.path for bad in inventory.bad_files] == ["data/artificial/orphan.csv"]
    assert "no entry 'artificial/orphan.csv'" in inventory.bad_files[0].reason
    rows = _rows(inventory)
    taxi = _mask(150, [(10, 21), (140, 150)])  # both ends inclusive
    _check_truth(
        rows, {"data/realKnownCause/taxi.csv": taxi, "data/artificial/flat.csv": taxi & False}
    )
    assert {r["family"] for r in rows} == {"nab-realknowncause", "nab-artificial"}
    (tmp_path / "labels/combined_windows.json").unlink()
    reader("nab").label_windows.cache_clear()
    with pytest.raises(UserInputError, match=r"combined_windows\.json is missing"):
        scan(tmp_path, ConvertOptions("nab"), progress=False)


# ----------------------------------------------------------------------------- Yahoo


def test_yahoo_a1_and_a3_columns(tmp_path):
    a1 = np.zeros(120, dtype=int)
    a1[[7, 8, 90]] = 1
    a3 = np.zeros(120, dtype=int)
    a3[60:64] = 1
    values = _wave(120, seed=4)
    _write_csv(
        tmp_path / "A1Benchmark/real_1.csv",
        ["timestamp", "value", "is_anomaly"],
        [range(1, 121), values, a1],
    )
    _write_csv(
        tmp_path / "A3Benchmark/A3Benchmark-TS1.csv",
        ["timestamps", "value", "anomaly", "changepoint", "trend", "noise"],
        [range(120), values, a3, [1] * 120, [0] * 120, [0] * 120],
    )
    _write_csv(tmp_path / "A3Benchmark/A3Benchmark_all.csv", ["x"], [[1]])  # summary: skipped
    _write_csv(tmp_path / "A2Benchmark/synthetic_1.csv", ["timestamp", "value"], [[1], [2]])
    inventory = scan(tmp_path, ConvertOptions("yahoo", window=120, scale="none"), progress=False)
    assert inventory.files == ("A1Benchmark/real_1.csv", "A3Benchmark/A3Benchmark-TS1.csv")
    assert [bad.path for bad in inventory.bad_files] == ["A2Benchmark/synthetic_1.csv"]
    assert "no 'is_anomaly' (A1/A2) or 'anomaly' (A3/A4) column" in inventory.bad_files[0].reason
    rows = _rows(inventory)
    truth = {"A1Benchmark/real_1.csv": a1 == 1, "A3Benchmark/A3Benchmark-TS1.csv": a3 == 1}
    _check_truth(rows, truth, dict.fromkeys(truth, values))
    assert [r["family"] for r in rows] == ["yahoo-a1", "yahoo-a3"]


# ----------------------------------------------------------------------------- pickled layouts


def _dump(path, data):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(data))


def test_anomllm_layout_types_from_family_and_figures_ignored(tmp_path):
    spike = _wave(100, seed=5)
    spike[40:45] += 3.0
    _dump(
        tmp_path / "range/eval/data.pkl",
        {"series": [spike[:, None], _wave(100)[:, None]], "anom": [[[(40, 45)]], [[]]]},
    )
    _dump(tmp_path / "noisy-freq/eval/data.pkl", {"series": [_wave(100)], "anom": [[(10, 30)]]})
    _dump(tmp_path / "range/train/data.pkl", {"series": "never read", "anom": []})
    (tmp_path / "range/eval/figs").mkdir()
    (tmp_path / "range/eval/figs/001.png").write_bytes(b"not a png: never opened")
    _dump(tmp_path / "sparkles/eval/data.pkl", {"series": [], "anom": []})
    inventory = scan(tmp_path, ConvertOptions("anomllm", window=100), progress=False)
    assert inventory.files == ("noisy-freq/eval/data.pkl", "range/eval/data.pkl")
    assert "'sparkles' is not an AnomLLM family" in inventory.bad_files[0].reason
    rows = _rows(inventory)
    assert [(r["family"], r["anomaly_type"], r["intervals"]) for r in rows] == [
        ("noisy-freq", "seasonal", [[10, 30]]),
        ("range", "global point", [[40, 45]]),
        ("range", "normal", []),
    ]
    assert [(r["source_file"], r["source_index"]) for r in rows] == [
        ("noisy-freq/eval/data.pkl", 0),
        ("range/eval/data.pkl", 0),
        ("range/eval/data.pkl", 1),
    ]
    assert {r["type_source"] for r in rows} == {"source"}
    np.testing.assert_array_equal(rows[1]["series"], spike)  # values kept (no scaling)
    # a data.pkl given directly: the family still comes from its folders
    direct = scan(tmp_path / "range/eval/data.pkl", ConvertOptions("anomllm"), progress=False)
    assert direct.files == ("range/eval/data.pkl",) and direct.series == 2


def test_visualtimeanomaly_points_ranges_and_irregular_gaps(tmp_path):
    points = _wave(400)
    points[[50, 51, 300]] = 3.0
    ranged = _wave(400, seed=6)
    ranged[100:110] += np.arange(10) * 0.5
    irregular = _wave(400, seed=7)
    irregular[[5, 6]] = np.nan
    global_file = tmp_path / "univariate/global/eval/data.pkl"
    _dump(global_file, {"series": [points], "anom": [[50, 51, 300]]})
    _dump(
        tmp_path / "irr_univariate/ratio_5/trend/eval/data.pkl",
        {"series": [ranged, irregular], "anom": [[(100, 110)], []], "drop_index": [[3, 7], [5, 6]]},
    )
    _dump(tmp_path / "univariate/long/eval/data.pkl", {"series": [points], "anom": [[1]]})
    options = ConvertOptions("visualtimeanomaly", window=1000)
    inventory = scan(tmp_path, options, progress=False)
    assert "'long' is not a VisualTimeAnomaly type" in inventory.bad_files[0].reason
    rows = {(r["source_file"], r["source_index"]): r for r in _rows(inventory)}
    uni = rows[("univariate/global/eval/data.pkl", 0)]
    assert uni["family"] == "vta-global" and uni["anomaly_type"] == "global point"
    assert uni["intervals"] == [[50, 52], [300, 301]]
    trend = rows[("irr_univariate/ratio_5/trend/eval/data.pkl", 0)]
    assert trend["family"] == "irregular-vta-trend" and trend["intervals"] == [[100, 110]]
    dropped = np.flatnonzero(np.isnan(trend["series"]))
    assert list(dropped) == [3, 7]  # drop_index points become gaps
    gaps = rows[("irr_univariate/ratio_5/trend/eval/data.pkl", 1)]
    assert list(np.flatnonzero(np.isnan(gaps["series"]))) == [5, 6]
    assert gaps["anomaly_type"] == "normal" and gaps["family"] == "irregular-vta-trend"
    assert options.effective_style == "visualtimeanomaly" and options.effective_scale == "none"


def test_visualtimeanomaly_multivariate_ids_and_one_kind_per_dataset(tmp_path):
    grid = np.stack([_wave(200, seed=s) for s in range(4)], axis=1)  # (length, variates)
    _dump(tmp_path / "a/multivariate/dim_4/square/eval/data.pkl", {"series": [grid], "anom": [[2]]})
    _dump(tmp_path / "b/univariate/trend/eval/data.pkl", {"series": [_wave(400)], "anom": [[]]})
    inventory = scan(tmp_path, ConvertOptions("visualtimeanomaly"), progress=False)
    assert inventory.multivariate and inventory.files == (
        "a/multivariate/dim_4/square/eval/data.pkl",
    )
    assert "univariate but the series before it are multivariate" in inventory.bad_files[0].reason
    (row,) = _rows(inventory)
    assert row["variates"] == [2] and row["anomaly_type"] == "shapelet"
    np.testing.assert_array_equal(row["series"], grid.T)
    answer = parse_answer(row["completion"][0]["content"][0]["text"], 200, multivariate=True)
    assert answer.variates == [2]


def test_unpickler_refuses_globals_without_running_them(tmp_path):
    marker = tmp_path / "ran"

    class Exploit:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    path = tmp_path / "trend/eval/data.pkl"
    _dump(path, {"series": [Exploit()], "anom": [[]]})
    with pytest.raises(SourceError, match=r"open object; only lists, dicts"):
        load_data_pkl(path)
    assert not marker.exists()
    inventory = scan(tmp_path, ConvertOptions("visualtimeanomaly"), progress=False)
    assert "nothing else is unpickled" in inventory.bad_files[0].reason
    assert not marker.exists()
    path.write_bytes(b"\x80\x04garbage")
    with pytest.raises(SourceError, match="not a readable pickle"):
        load_data_pkl(path)


# ----------------------------------------------------------------------------- expert label


def test_expert_label_reads_the_truth_only():
    base = _wave(400, seed=1)
    spike = base.copy()
    spike[200] = 3.0
    assert expert_label(spike, [(200, 201)]) == "global point"
    shifted = base.copy()  # a level shift too long for the running median: still out of range
    shifted[300:310] += 3.0
    assert expert_label(shifted, [(300, 310)]) == "global point"
    trend = base.copy()
    trend[150:250] += np.linspace(0, 1.5, 100)
    trend[250:] += 1.5
    assert expert_label(trend, [(150, 250)]) == "trend"
    faster = base.copy()
    faster[150:190] = np.sin(2 * np.pi * 0.12 * np.arange(150, 190))
    assert expert_label(faster, [(150, 190)]) == "seasonal"
    assert expert_label(base, []) == "normal"
    # nothing departs inside the truth (a spike elsewhere does not count): shapelet
    spike[200] = base[200]
    spike[50] = 4.0
    assert expert_label(spike, [(300, 310)]) == "shapelet"


# ----------------------------------------------------------------------------- CLI and dataset


def test_cli_choices_match_the_library():
    commands = build_parser()._subparsers._group_actions[0].choices
    actions = {a.dest: a for a in commands["convert"]._actions}
    assert list(actions["format"].choices) == list(FORMATS)
    assert list(actions["ucr_index"].choices) == list(INDEX_CONVENTIONS)
    assert list(actions["scale"].choices) == list(SCALES)
    assert list(actions["style"].choices) == list(STYLES)
    assert list(actions["windowing"].choices) == list(WINDOWINGS)


def _ucr_folder(folder):
    for index, start in enumerate((100, 420)):
        values = _wave(500, seed=index)
        values[start : start + 4] += 2.5
        name = f"00{index}_UCR_Anomaly_S{index}_50_{start}_{start + 4}.txt"
        (folder / name).write_text("\n".join(map(str, values)))
    (folder / "009_UCR_Anomaly_bad.txt").write_text("1\n")


def test_cli_converts_the_rest_lists_bad_files_and_records_the_card(tmp_path, capsys):
    import datasets

    source, out = tmp_path / "ucr", tmp_path / "out"
    source.mkdir()
    _ucr_folder(source)
    arguments = ["convert", "--format", "ucr", "--input", str(source), "--out", str(out)]
    arguments += ["--window", "100", "--normal-ratio", "0.5", "--seed", "1", "--no-progress"]
    assert main([*arguments, "--strict"]) == 2
    err = capsys.readouterr().err
    assert "skipped 009_UCR_Anomaly_bad.txt: the name does not follow" in err
    assert "--strict" in err and not out.exists()

    assert main(arguments) == 0
    assert "1 of 3 files could not be read" in capsys.readouterr().err
    dataset = datasets.load_dataset(str(out), split="eval")
    assert dataset.column_names == [*COLUMNS, *SOURCE_COLUMNS]
    assert dataset.features["offset"].dtype == "int64"
    anomalous = [r for r in dataset if r["intervals"]]
    assert len(anomalous) == 2 and len(dataset) == 4  # half the rows anomaly-free
    for row in dataset:
        start = 100 if row["source_file"].startswith("000") else 420
        truth = _mask(500, [(start, start + 4)])
        window = truth[row["offset"] : row["offset"] + 100]
        assert np.array_equal(_mask(100, row["intervals"]), window)
    card = (out / "README.md").read_text()
    record = json.loads((out / "anomseer-dataset.json").read_text())["splits"]["eval"]["recipe"]
    assert record["source"]["bad_files"] == {
        "009_UCR_Anomaly_bad.txt": "the name does not follow "
        "NNN_UCR_Anomaly_<name>_<trainEnd>_<anomStart>_<anomEnd>.txt"
    }
    assert record["windows"]["anomalous"] == 2 and record["windows"]["anomaly_free_kept"] == 2
    assert record["windowing"]["placement"] == "anomaly-aware"
    assert record["windowing"]["window"] == 100 and record["windowing"]["normal_ratio"] == 0.5
    assert '"format": "ucr"' in card and "not a meaningful score" in card
    # a rerun resumes (nothing to do); other options are refused, nothing is mixed
    assert main(arguments) == 0
    assert main([*arguments[:-5], "--window", "50", "--no-progress"]) == 2
    assert "different" in capsys.readouterr().err


def test_cli_bad_input_is_one_line(tmp_path, capsys):
    base = ["convert", "--out", str(tmp_path / "out"), "--no-progress"]
    assert main([*base, "--format", "ucr", "--input", str(tmp_path / "missing")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main([*base, "--format", "ucr", "--input", str(tmp_path), "--window", "10"]) == 2
    assert "window must be at least 40 points" in capsys.readouterr().err
    assert main([*base, "--format", "ucr", "--input", str(tmp_path)]) == 2
    assert "no *.txt files under" in capsys.readouterr().err
    (tmp_path / "x/train").mkdir(parents=True)
    _dump(tmp_path / "x/train/data.pkl", {"series": [], "anom": []})
    assert main([*base, "--format", "anomllm", "--input", str(tmp_path)]) == 2
    assert "found split folders: train" in capsys.readouterr().err
    assert main([*base, "--format", "nab", "--input", str(tmp_path)]) == 2
    assert "has no data/ folder" in capsys.readouterr().err
    assert main([*base, "--format", "ucr", "--input", str(tmp_path), "--normal-ratio", "1"]) == 2
    assert "normal_ratio must be in [0, 1)" in capsys.readouterr().err
