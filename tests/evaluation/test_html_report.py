"""report.html's data, without a browser: the thumbnail envelope by hand, the rows of runs
side by side, and a page that names nothing to load."""

import base64
import gzip
import json
import math
import re

import numpy as np

from anomseer.evaluation.html_report import (
    HtmlRun,
    envelope,
    page_rows,
    render_page,
    saved_series,
    thumbnail,
)


def test_envelope_keeps_min_and_max_of_each_bucket_in_order_and_scales_to_levels():
    # buckets [0, 4, 2] -> min 0, max 4 (that order); [8, 6, 1] -> max 8 then min 1;
    # then 0..8 scaled to 0..999: 4 -> 499.5 -> 500 (round half even), 1 -> 124.875 -> 125
    assert envelope([0, 4, 2, 8, 6, 1], buckets=2) == [0, 500, 999, 125]
    assert envelope([math.nan, 1, 3, None], buckets=2) == [-1, 0, 999, -1]  # short: kept whole
    assert envelope([2.0, 2.0]) == [499, 499]  # flat: the middle
    assert envelope([math.nan, math.nan, math.nan, math.nan, 5, 7], buckets=2) == [-1, -1, 0, 999]
    assert envelope([1, math.inf, 3]) == [0, -1, 999]
    multi = thumbnail([[0, 1, 2], [5, 5, 5]])
    assert multi == [[0, 500, 999], [499, 499, 499]]


def test_envelope_of_uneven_buckets_matches_a_plain_loop():
    values = np.random.default_rng(0).standard_normal(1003)
    values[100:250] = np.nan  # whole buckets missing, and parts of others
    expected = []
    for b in range(10):  # slices b * n // 10 ... (b + 1) * n // 10, min and max in order
        part = values[b * 1003 // 10 : (b + 1) * 1003 // 10]
        if np.isnan(part).all():
            expected += [math.nan, math.nan]
            continue
        first, second = sorted([np.nanargmin(part), np.nanargmax(part)])
        expected += [part[first], part[second]]
    finite = [v for v in expected if not math.isnan(v)]
    low, high = min(finite), max(finite)
    scaled = [-1 if math.isnan(v) else round((v - low) * 999 / (high - low)) for v in expected]
    assert envelope(values, buckets=10) == scaled


def _record(row_id, label, predicted, correct, intervals, **extra):
    return {
        "id": row_id,
        "sample": 0,
        "family": "range",
        "type_source": None,
        "truth": {"intervals": [[2, 3]], "variates": []},
        "output": f"<think>saw {predicted}</think><answer>{json.dumps(intervals)}</answer>",
        "error": None,
        "answer": {
            "intervals": intervals,
            "variates": [],
            "label": predicted,
            "answer_valid": True,
            "format_valid": True,
        },
        "scores": {"truth_label": label, "class_correct": correct, "localization": 0.5,
                   "aff_f1": 0.25, "f1": 1.0, "pa_f1": None},
        **extra,
    }  # fmt: skip


def test_runs_side_by_side_cover_every_row_and_mark_what_a_run_lacks():
    a = {("x/0", 0): _record("x/0", "trend", "trend", True, [[2, 3]])}
    b = {
        ("x/1", 0): _record("x/1", "normal", None, False, []),
        ("x/0", 0): _record("x/0", "trend", "seasonal", False, [], faithfulness=0.5,
                            claims=[{"text": "mean 3", "verified": False}]),
    }  # fmt: skip
    rows = page_rows([HtmlRun("a", {}, a), HtmlRun("b", {}, b)], {"x/0": [0, 1, 5, 2]})
    assert [r["id"] for r in rows] == ["x/0", "x/1"]
    first, second = rows
    assert first["length"] == 4 and first["thumbnail"] == [[0, 200, 999, 400]]
    assert second["thumbnail"] is None and second["runs"][0] is None
    assert first["runs"][0]["reasoning"] == "saw trend" and "claims" not in first["runs"][0]
    assert first["runs"][1]["claims"] == [{"text": "mean 3", "verified": False}]
    assert first["runs"][1]["scores"] == {"localization": 0.5, "aff_f1": 0.25, "f1": 1.0,
                                          "pa_f1": None}  # fmt: skip


def test_page_embeds_its_rows_and_loads_nothing():
    record = _record("x/0", "trend", "trend", True, [[2, 3]])
    record["output"] = "<think></script><img src=http://example.com/x></think>"  # untrusted
    page = render_page([HtmlRun("a", {"run": {"backend": "expert"}}, {("x/0", 0): record})], {})
    packed = re.search(r'<script id="data" type="application/octet-stream">(.*?)</script>', page)
    data = json.loads(gzip.decompress(base64.b64decode(packed.group(1))))
    assert data["runs"][0]["description"] == "expert"
    assert data["rows"][0]["runs"][0]["reasoning"] == "</script><img src=http://example.com/x>"
    assert "example.com" not in page and not re.search(r"\s(src|href)=", page)
    assert "default-src 'none'" in page  # the page's own policy forbids any load


def test_rows_of_a_run_whose_dataset_is_gone_are_shown_unplotted_with_a_note(tmp_path):
    metrics = {"run": {"backend": "expert", "data": str(tmp_path / "gone"), "split": "eval"}}
    series, note = saved_series(metrics, ["x/0"])
    assert series is None
    assert note.startswith("No plots: the series of expert could not be read (dataset ")
