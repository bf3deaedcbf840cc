"""Converters, windows, published splits, the calibrated expert and the plot margin on the real
benchmark files in ``../shared/realdata`` (beside the repository; never committed)."""

import dataclasses
import itertools
import json
from pathlib import Path

import numpy as np
import pytest

from anomseer.evaluation.backends.base import EvalRequest
from anomseer.evaluation.backends.expert import ExpertBackend
from anomseer.intervals import clip_intervals, cuts_an_anomaly
from anomseer.protocol import NORMAL_LABEL, parse_answer
from data_gen.benchmarks.convert import (
    ConvertOptions,
    inventory_rows,
    read_file,
    scan,
    window_thresholds,
    write_dataset,
)
from data_gen.benchmarks.windows import (
    context_points,
    scale_window,
)
from data_gen.expert.detector import expert_detect
from data_gen.expert.panel import DEFAULT_THRESHOLDS
from data_gen.render import PAPER_STYLE, REAL_DATA_STYLE, PlotRenderer

REALDATA = Path(__file__).resolve().parents[1].parent / "shared" / "realdata"
WINDOW = 1000

pytestmark = pytest.mark.usefixtures("expert_ready")


def _folder(*parts: str) -> Path:
    path = REALDATA.joinpath(*parts)
    assert path.exists(), (
        f"{path} is missing: the real benchmark samples live in shared/realdata beside the "
        "repository (see shared/realdata/README.md); put a copy or a link there"
    )
    return path


@pytest.fixture(scope="module")
def nab():
    return scan(_folder("nab"), ConvertOptions("nab"), progress=False)


def _series(inventory, ref):
    options = inventory.options
    name = inventory.files[ref.file]
    return read_file(options.format, inventory.root, name, options.read_options)[ref.series]


def _by_series(inventory):
    groups = {}
    for ref in inventory.windows:
        groups.setdefault((ref.file, ref.series), []).append(ref)
    return groups


def _check_placement(inventory):
    """No two windows of a series overlap; every anomaly that fits a window with context lies
    whole inside one; returns (anomalous windows, those cutting an anomaly at an edge)."""
    anomalous = cut = 0
    room = WINDOW - 2 * context_points(WINDOW)
    for refs in _by_series(inventory).values():
        series = _series(inventory, refs[0])
        for before, after in itertools.pairwise(refs):
            assert before.offset + before.length <= after.offset, (before, after)
        first = min(ref.offset for ref in refs)
        for start, end in series.intervals:
            if start >= first and end - start <= room and end <= refs[-1].offset + WINDOW:
                assert any(r.offset <= start and end <= r.offset + r.length for r in refs), (
                    inventory.files[refs[0].file],
                    (start, end),
                )
        for ref in refs:
            if clip_intervals(series.intervals, ref.offset, ref.length):
                anomalous += 1
                cut += cuts_an_anomaly(series.intervals, ref.offset, ref.length)
    return anomalous, cut


def test_tsb_uad_rows_equal_the_out_labels_at_their_offsets():
    folder = _folder("tsb-uad", "data")
    inventory = scan(folder, ConvertOptions("tsb-uad"), progress=False)
    assert len(inventory.files) == 3 and not inventory.bad_files
    labels = {
        name: np.loadtxt(folder / name, delimiter=",")[:, 1].astype(bool)
        for name in inventory.files
    }
    for ref in inventory.windows:
        series = _series(inventory, ref)
        window = labels[inventory.files[ref.file]][ref.offset : ref.offset + ref.length]
        mask = np.zeros(ref.length, dtype=bool)
        for start, end in clip_intervals(series.intervals, ref.offset, ref.length):
            mask[start:end] = True
        assert np.array_equal(mask, window)
    assert {_series(inventory, r).family for r in inventory.windows} == {
        "tsb-uad-ecg",
        "tsb-uad-artificial",
    }
    anomalous = [i for i, r in enumerate(inventory.windows) if r.offset and i % 7 == 0][:3]
    rows = inventory_rows(inventory)(anomalous)
    for row in rows:  # built rows carry the same truth, in window coordinates
        truth = labels[row["source_file"]][row["offset"] : row["offset"] + row["length"]]
        mask = np.zeros(row["length"], dtype=bool)
        for start, end in row["intervals"]:
            mask[start:end] = True
        assert np.array_equal(mask, truth) and row["expert_thresholds"]["global_z"] > 0
    assert _check_placement(inventory)[1] <= 0.05 * _check_placement(inventory)[0]


def test_nab_windows_never_overlap_and_rarely_cut_an_anomaly(nab):
    anomalous, cut = _check_placement(nab)
    assert anomalous >= 60 and cut <= 0.05 * anomalous
    grid = scan(_folder("nab"), ConvertOptions("nab", windowing="grid"), progress=False)
    grid_anomalous, grid_cut = _check_placement_grid(grid)
    assert grid_cut > 0.3 * grid_anomalous  # what the fixed grid does on the same files


def _check_placement_grid(inventory):
    anomalous = cut = 0
    for ref in inventory.windows:
        series = _series(inventory, ref)
        if clip_intervals(series.intervals, ref.offset, ref.length):
            anomalous += 1
            cut += cuts_an_anomaly(series.intervals, ref.offset, ref.length)
    return anomalous, cut


def test_nab_irregular_sampling_is_recorded_in_the_rows(nab):
    assert len(nab.irregular) == 25  # shared/realdata/README.md: 25 of the 58 files
    file = nab.files.index("data/realAWSCloudwatch/ec2_disk_write_bytes_1ef3de.csv")
    gaps = _series(nab, next(r for r in nab.windows if r.file == file)).time_gaps
    assert max(steps for _, steps in gaps) == 12.2 and min(steps for _, steps in gaps) == 0.0

    def inside(ref):
        end = ref.offset + ref.length
        return [(i - ref.offset, steps) for i, steps in gaps if ref.offset < i < end]

    position = max(
        (i for i, r in enumerate(nab.windows) if r.file == file),
        key=lambda i: len(inside(nab.windows[i])),
    )
    (row,) = inventory_rows(nab)([position])
    recorded = [(gap["index"], gap["steps"]) for gap in row["time_gaps"]]
    assert recorded and recorded == inside(nab.windows[position])


def test_nab_probationary_period_stays_out_of_eval(nab):
    for ref in nab.windows:
        series = _series(nab, ref)
        assert ref.offset >= int(0.15 * series.length) == series.eval_start


def test_ucr_eval_windows_start_after_the_train_end_and_train_holds_the_rest():
    folder = _folder("ucr")
    evaluation = scan(folder, ConvertOptions("ucr"), progress=False)
    train = scan(folder, ConvertOptions("ucr", split="train"), progress=False)
    for name, train_end in (("001_", 35000), ("002_", 35000)):
        file = next(i for i, f in enumerate(evaluation.files) if f.startswith(name))
        offsets = [r.offset for r in evaluation.windows if r.file == file]
        assert offsets and min(offsets) >= train_end
        ends = [r.offset + r.length for r in train.windows if r.file == file]
        assert ends and max(ends) <= train_end
    assert train.anomalous_windows == 0
    assert _check_placement(evaluation) == (2, 0)
    first = next(r for r in evaluation.windows if clip_intervals([(52000, 52620)], r.offset, 1000))
    assert first.offset < 52000 - context_points(WINDOW)  # normal context before the anomaly


def test_tsb_ad_file_list_selects_the_evaluation_files():
    folder = _folder("tsb-ad-u", "TSB-AD-U")
    listed = _folder("tsb-ad-u", "File_List", "TSB-AD-U-Eva.csv")
    inventory = scan(folder, ConvertOptions("tsb-ad", file_list=str(listed)), progress=False)
    assert inventory.files == ("001_NAB_id_1_Facility_tr_1007_1st_2014.csv",)
    assert len(inventory.not_listed) == 349
    train = scan(folder, ConvertOptions("tsb-ad", split="train"), progress=False)
    assert train.anomalous_windows == 0
    assert all(r.offset + r.length <= 3000 for r in train.windows if r.file == 1)


def test_calibrated_expert_says_normal_on_most_nab_anomaly_free_windows(nab):
    source = (nab.options.format, nab.root, nab.files, nab.options.read_options)
    normal = [
        r for r in nab.windows if not clip_intervals(_series(nab, r).intervals, r.offset, r.length)
    ]
    chosen = normal[::4]
    said_normal = default_normal = 0
    for ref in chosen:
        values = scale_window(_series(nab, ref).values[ref.offset : ref.offset + ref.length])
        thresholds = window_thresholds(source, ref.file, ref.series, ref)
        answer = expert_detect(values, thresholds)
        said_normal += answer.label == NORMAL_LABEL
        default_normal += expert_detect(values).label == NORMAL_LABEL
        if answer.label == NORMAL_LABEL:  # the trace lists no departure it would act on
            assert "no rule fires" in answer.think
    assert len(chosen) >= 40
    assert said_normal >= 0.5 * len(chosen) > default_normal


def test_expert_backend_reads_the_row_thresholds():
    values = np.sin(np.arange(400) / 5.0)
    values[200] += 3.0
    request = EvalRequest(id="x", length=400, series=values.tolist())
    backend = ExpertBackend()
    default = parse_answer(backend.generate([request])[0].texts[0], 400)
    assert default.label != NORMAL_LABEL
    high = {name: 1e6 for name in DEFAULT_THRESHOLDS.__dataclass_fields__}
    calibrated = EvalRequest(id="x", length=400, series=values.tolist(), expert_thresholds=high)
    assert parse_answer(backend.generate([calibrated])[0].texts[0], 400).label == NORMAL_LABEL


def _frame_and_line_rows(image):
    """Rows of the top and bottom frame lines and of the highest and lowest line pixels."""
    pixels = np.asarray(image).astype(int)
    dark = (pixels.max(axis=2) < 80).sum(axis=1)
    frame = np.flatnonzero(dark > 0.5 * pixels.shape[1])
    blue = (pixels[..., 2] - pixels[..., 0] > 60).any(axis=1)
    inside = np.flatnonzero(blue[frame[0] : frame[-1] + 1]) + frame[0]
    return frame[0], frame[-1], inside[0], inside[-1]


def test_real_data_plots_keep_the_extremes_off_the_frame(nab):
    ref = next(r for r in nab.windows if r.length == WINDOW)
    values = scale_window(_series(nab, ref).values[ref.offset : ref.offset + ref.length])
    values[100:300] = -1.0  # a flat stretch at the minimum
    top, bottom, high, low = _frame_and_line_rows(PlotRenderer(REAL_DATA_STYLE).render(values))
    assert high - top >= 4 and bottom - low >= 4
    top, bottom, high, low = _frame_and_line_rows(PlotRenderer(PAPER_STYLE).render(values))
    assert high - top <= 1 or bottom - low <= 1  # the paper's fixed limits put them on it


def test_converted_ucr_evaluated_by_the_calibrated_expert_marks_expert_read_types(tmp_path):
    from anomseer.evaluation import evaluate

    options = ConvertOptions("ucr", normal_ratio=0.5, seed=0)
    inventory = scan(_folder("ucr"), options, progress=False)
    write_dataset(inventory, tmp_path / "ucr-converted", progress=False)
    metrics = evaluate(
        tmp_path / "ucr-converted", "eval", "expert", tmp_path / "run", progress=False
    )
    records = [json.loads(line) for line in (tmp_path / "run" / "predictions.jsonl").open()]
    assert metrics["samples"] == len({r["id"] for r in records}) == len(inventory.windows) >= 4
    anomalous = [r for r in records if r["truth"]["intervals"]]
    assert all(r["type_source"] == "expert" for r in anomalous)
    assert sum(metrics["expert_read_types"].values()) == len(anomalous)
    assert len(anomalous) == inventory.anomalous_windows >= 2
    report = (tmp_path / "run" / "report.md").read_text()
    assert "**Expert-read types:**" in report and "not with a true type" in report
    thresholds = [r["expert_thresholds"] for r in _dataset_rows(tmp_path / "ucr-converted")]
    assert all(t["global_z"] >= DEFAULT_THRESHOLDS.global_z for t in thresholds)
    assert any(t != dataclasses.asdict(DEFAULT_THRESHOLDS) for t in thresholds)


def _dataset_rows(folder):
    import datasets

    return list(
        datasets.load_dataset(str(folder), split="eval").select_columns(["expert_thresholds"])
    )
