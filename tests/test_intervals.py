import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from anomseer.intervals import (
    clip_intervals,
    cuts_an_anomaly,
    intervals_to_mask,
    mask_to_intervals,
    merge_intervals,
    normalize_intervals,
    overlaps_any,
    points_to_intervals,
    remove_points,
)


@st.composite
def interval_lists(draw, length):
    cuts = sorted(draw(st.sets(st.integers(0, length), max_size=12)))
    return [(s, e) for s, e in zip(cuts[0::2], cuts[1::2], strict=False)]


def test_merge_joins_overlapping_and_touching_intervals():
    assert merge_intervals([(30, 40), (12, 15), (15, 18), (35, 50)]) == [(12, 18), (30, 50)]
    assert merge_intervals([]) == []


def test_unsorted_touching_and_out_of_range_intervals_are_normalised():
    messy = [(30, 40), (12, 15), (15, 18), (90, 140), (-5, 2), (50, 50)]
    assert normalize_intervals(messy, 100) == [(0, 2), (12, 18), (30, 40), (90, 100)]


def test_overlap_needs_a_shared_point():
    assert overlaps_any(5, 10, [(0, 6)]) and overlaps_any(5, 10, [(9, 20), (30, 40)])
    assert not overlaps_any(5, 10, [(0, 5), (10, 12)])  # touching is not overlapping
    assert not overlaps_any(5, 10, [])


def test_points_become_merged_unit_intervals():
    assert points_to_intervals([7, 3, 4]) == [(3, 5), (7, 8)]


def test_mask_runs_become_half_open_intervals():
    mask = np.array([0, 1, 1, 0, 0, 1, 0, 1], dtype=bool)
    assert mask_to_intervals(mask) == [(1, 3), (5, 6), (7, 8)]
    assert intervals_to_mask([(1, 3), (7, 9)], 8).nonzero()[0].tolist() == [1, 2, 7]


@given(interval_lists(200))
def test_mask_round_trip(intervals):
    merged = normalize_intervals(intervals, 200)
    assert mask_to_intervals(intervals_to_mask(merged, 200)) == merged


def test_remove_points_reindexes_the_kept_points():
    missing = np.zeros(10, dtype=bool)
    missing[[2, 3]] = True
    assert remove_points([(4, 6)], 10, missing) == ([(2, 4)], 8)
    assert remove_points([(1, 5)], 10, missing) == ([(1, 3)], 8)
    assert remove_points([(2, 4)], 10, missing) == ([], 8)
    with pytest.raises(ValueError, match="length 12"):
        remove_points([(1, 5)], 12, missing)


def test_clip_intervals_shifts_to_window_coordinates():
    truth = [(5, 15), (95, 105), (120, 121), (199, 260)]
    assert clip_intervals(truth, 0, 100) == [(5, 15), (95, 100)]
    assert clip_intervals(truth, 100, 100) == [(0, 5), (20, 21), (99, 100)]
    assert clip_intervals(truth, 300, 100) == []


def test_cuts_an_anomaly_only_when_it_crosses_an_edge():
    truth = [(90, 110), (300, 310)]
    assert cuts_an_anomaly(truth, 100, 100) and cuts_an_anomaly(truth, 0, 100)
    assert not cuts_an_anomaly(truth, 110, 190) and not cuts_an_anomaly(truth, 80, 40)
