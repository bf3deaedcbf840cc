"""Label-free rendering: sizes, styles, gaps, grids, and blitting equal to a full redraw."""

import inspect

import numpy as np
import pytest

from anomseer.intervals import mask_to_intervals
from data_gen.render import (
    PAPER_STYLE,
    VISUALTIMEANOMALY_STYLE,
    PlotRenderer,
    PlotStyle,
    data_limits,
    png_bytes,
)


def _series(length, seed=0):
    rng = np.random.default_rng(seed)
    return 0.7 * np.sin(2 * np.pi * 0.03 * np.arange(length)) + rng.normal(0, 0.05, length)


def test_render_takes_the_values_only():
    assert list(inspect.signature(PlotRenderer.render).parameters) == ["self", "series"]


def test_paper_style_size_and_colour():
    image = PlotRenderer(PAPER_STYLE).render(_series(1000))
    assert image.size == (1000, 150) and image.mode == "RGB"
    pixels = np.asarray(image).reshape(-1, 3)
    steelblue = np.array([70, 130, 180])
    assert (np.abs(pixels - steelblue).sum(axis=1) < 10).sum() > 500


RAMP_STYLE = PlotStyle(x_ramp="Greys")


@pytest.mark.parametrize(
    "style", [PAPER_STYLE, VISUALTIMEANOMALY_STYLE, RAMP_STYLE], ids=["paper", "vta", "ramp"]
)
def test_reused_figure_matches_a_full_redraw(style):
    fast, full = PlotRenderer(style), PlotRenderer(style, blit=False)
    for seed, length in [(0, 1000), (1, 1000), (2, 400), (3, 1000)]:
        values = _series(length, seed)
        values[length // 3] = np.nan
        np.testing.assert_array_equal(np.asarray(fast.render(values)), full.render(values))


def test_x_ramp_darkens_the_background_from_left_to_right():
    flat = np.full(1000, -0.9)  # the line stays at the bottom, the background above it shows
    plain = np.asarray(PlotRenderer(PAPER_STYLE).render(flat), dtype=float).mean(axis=2)
    ramp = np.asarray(PlotRenderer(RAMP_STYLE).render(flat), dtype=float).mean(axis=2)
    row = ramp[60, 100:900]  # mid-height, inside the frame
    assert plain[60, 100:900].min() == 255  # white without the ramp
    # Greys (white to black) at half opacity: white on the left, near mid-grey on the right
    assert row[0] > 240 and 128 < row[-1] < 160
    assert (np.diff(row) <= 0).all()  # never lighter to the right


def test_grid_matches_a_full_redraw_and_has_int_sqrt_rows():
    rng = np.random.default_rng(0)
    style = PlotStyle(ylim=None, grid_row_height_in=1.0)
    fast, full = PlotRenderer(style), PlotRenderer(style, blit=False)
    for dims in (4, 9, 9, 16):
        values = rng.normal(size=(dims, 200))
        image = fast.render(values)
        assert image.size == (1000, 100 * int(np.sqrt(dims)))
        np.testing.assert_array_equal(np.asarray(image), full.render(values))


def test_nan_points_leave_gaps():
    values = np.full(1000, 0.5)
    gapped = values.copy()
    gapped[400:600] = np.nan
    renderer = PlotRenderer()
    line = np.asarray(renderer.render(values)).astype(int)
    gap = np.asarray(renderer.render(gapped)).astype(int)
    differs = np.flatnonzero((line != gap).any(axis=(0, 2)))
    # only the columns of the dropped stretch change (x from 400 to 600 of 1000)
    assert differs.size > 100 and differs.min() > 300 and differs.max() < 700


def test_vta_style_ticks_every_50_and_data_limits():
    assert data_limits(np.array([0.0, 1.0, np.nan])) == pytest.approx((-0.05, 1.05))
    assert data_limits(np.array([np.nan])) == (-1.0, 1.0)
    # 1000 points: matplotlib's own ticks would be every 200
    image = PlotRenderer(VISUALTIMEANOMALY_STYLE).render(_series(1000) * 5)
    assert image.size == (1000, 200)
    # the frame: the darkest row of the lower half (bottom spine), the two darkest columns
    dark = (np.asarray(image) < 100).all(axis=2)
    half = dark.shape[0] // 2
    bottom = half + int(np.argmax(dark[half:].sum(axis=1)))
    left, right = sorted(np.argsort(dark.sum(axis=0))[-2:])
    # tick marks hang below the bottom spine at x = 0, 50, ..., 1000
    ticks = [(s + e - 1) / 2 for s, e in mask_to_intervals(dark[bottom + 2])]
    expected = left + np.arange(0, 1001, 50) / 1000 * (right - left)
    assert len(ticks) == len(expected)
    np.testing.assert_allclose(ticks, expected, atol=1.5)


def test_bad_input_and_png():
    renderer = PlotRenderer()
    with pytest.raises(ValueError, match="non-empty"):
        renderer.render(np.zeros((2, 2, 2)))
    data = png_bytes(renderer.render(_series(1000)), compress_level=1)
    assert data[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_plot_does_not_depend_on_what_the_renderer_drew_before():
    series = np.sin(np.arange(1000) / 7.0)
    fresh = np.asarray(PlotRenderer(PAPER_STYLE).render(series))
    used = PlotRenderer(PAPER_STYLE)
    used.render(40.0 * np.cos(np.arange(237) / 3.0))  # another length: another layout
    assert np.array_equal(np.asarray(used.render(series)), fresh)
