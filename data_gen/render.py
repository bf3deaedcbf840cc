"""Label-free line plots of series, drawn fast by reusing one matplotlib figure per layout.

Nothing here takes a label: a plot depends on the values alone (SPEC section 2.3). A
univariate series is one line plot; a multivariate series ``(variates, length)`` is a grid of
small plots without ticks, ``int(sqrt(d))`` rows, variate ids row-major from the top left.

Speed: when the axes do not change between samples (fixed y-limits, or a grid without ticks)
the static part of the figure is drawn once and cached; each sample then restores it and draws
only its lines and whatever the full draw puts on top of them (spines, ids). The result is
pixel-identical to a full redraw (``tests/test_render.py`` checks it).
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

import numpy as np
from PIL import Image


@dataclass(frozen=True)
class PlotStyle:
    """How a series is drawn. ``ylim=None`` picks the limits from the data (5 % margins);
    ``xtick_step`` puts x ticks every that many points (None: matplotlib's default ticks).
    A multivariate grid is ``width_in`` wide and ``grid_row_height_in`` per row."""

    width_in: float = 10.0
    height_in: float = 1.5
    dpi: int = 100
    color: str = "steelblue"
    linewidth: float = 1.0
    ylim: tuple[float, float] | None = (-1.0, 1.0)
    xtick_step: int | None = None
    grid_row_height_in: float = 1.0
    x_ramp: str | None = None
    """A matplotlib colormap painted behind a univariate line from left to right at half
    opacity (None: none): a ruler in the pixels for a model whose image tokens carry no
    absolute position, like the demo's tiny one (BENCHMARKS.md, the demo against trivial
    baselines)."""


PAPER_STYLE = PlotStyle()
"""The AnomLLM / AnomSeer paper style: 1000 x 150 px, steelblue, y-limits (-1, 1)."""
REAL_DATA_STYLE = PlotStyle(ylim=(-1.1, 1.1))
"""The paper style with a 5 % margin around [-1, 1] (7 px of 150), for min-max scaled real
windows: their extremes, e.g. a flat stretch at the minimum, stay off the frame."""
VISUALTIMEANOMALY_STYLE = PlotStyle(height_in=2.0, ylim=None, xtick_step=50)
"""VisualTimeAnomaly style: limits from the data, x ticks every 50 (the prompt relies on them)."""


class PlotRenderer:
    """Draws series with persistent figures; call :meth:`render` once per sample.

    ``blit=False`` redraws the whole figure every time (same pixels, slower)."""

    def __init__(self, style: PlotStyle = PAPER_STYLE, blit: bool = True) -> None:
        self.style = style
        self.blit = blit
        self._line: _LinePlot | None = None
        self._grids: dict[int, _GridPlot] = {}

    def render(self, series: np.ndarray) -> Image.Image:
        """The plot of ``series`` (``(length,)`` or ``(variates, length)``; NaN values leave
        gaps) as an RGB image."""
        values = np.asarray(series, dtype=float)
        if values.ndim not in (1, 2) or values.size == 0:
            raise ValueError(f"expected a non-empty 1-D or 2-D series, got shape {values.shape}")
        if values.ndim == 1:
            if self._line is None:
                self._line = _LinePlot(self.style)
            return self._line.render(values, self.blit)
        grid = self._grids.get(values.shape[0])
        if grid is None:
            grid = self._grids[values.shape[0]] = _GridPlot(self.style, values.shape[0])
        return grid.render(values, self.blit)


def data_limits(values: np.ndarray) -> tuple[float, float]:
    """Y-limits that fit the finite values with 5 % margins ((-1, 1) when none is finite)."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return -1.0, 1.0
    low, high = float(finite.min()), float(finite.max())
    margin = 0.05 * (high - low) if high > low else 0.5
    return low - margin, high + margin


class _Figure:
    """One figure and its Agg canvas, with a cached background for blitting."""

    def __init__(self, width_in: float, height_in: float, dpi: int) -> None:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        self.figure = Figure(figsize=(width_in, height_in), dpi=dpi)
        self.canvas = FigureCanvasAgg(self.figure)
        self._background = None
        self._background_key: object = None

    def full_draw(self) -> Image.Image:
        self.canvas.draw()
        return self._image()

    def blit(self, key: object, dynamic: list[tuple[object, list]]) -> Image.Image:
        """Draw only ``dynamic`` ((axes, artists in draw order) pairs) over the background
        cached for ``key``; the background is the full draw without those artists."""
        if key != self._background_key:
            artists = [artist for _, group in dynamic for artist in group]
            for artist in artists:
                artist.set_visible(False)
            self.canvas.draw()
            self._background = self.canvas.copy_from_bbox(self.figure.bbox)
            self._background_key = key
            for artist in artists:
                artist.set_visible(True)
        self.canvas.restore_region(self._background)
        for axes, group in dynamic:
            for artist in group:
                axes.draw_artist(artist)
        return self._image()

    def _image(self) -> Image.Image:
        rgba = np.asarray(self.canvas.buffer_rgba())
        return Image.fromarray(rgba[..., :3].copy())


class _LinePlot:
    def __init__(self, style: PlotStyle) -> None:
        self.style = style
        self._canvas = _Figure(style.width_in, style.height_in, style.dpi)
        self._axes = self._canvas.figure.add_subplot()
        (self._line,) = self._axes.plot([], [], color=style.color, linewidth=style.linewidth)
        if style.x_ramp:
            self._axes.imshow(
                np.linspace(0.0, 1.0, 256)[None, :],
                cmap=style.x_ramp,
                aspect="auto",
                alpha=0.5,
                extent=(0.0, 1.0, 0.0, 1.0),
                transform=self._axes.transAxes,
                zorder=0,
            )
        self._dynamic = [(self._axes, [self._line, *self._axes.spines.values()])]
        self._laid_out_for: tuple | None = None

    def render(self, values: np.ndarray, blit: bool) -> Image.Image:
        length = values.size
        self._line.set_data(np.arange(length), values)
        ylim = self.style.ylim if self.style.ylim is not None else data_limits(values)
        key = (length, ylim)
        if key != self._laid_out_for:
            self._axes.set_xlim(0, length)
            self._axes.set_ylim(*ylim)
            if self.style.xtick_step:
                self._axes.set_xticks(np.arange(0, length + 1, self.style.xtick_step))
            _tight_layout_from_defaults(self._canvas.figure)
            self._laid_out_for = key
        if blit and self.style.ylim is not None:
            return self._canvas.blit(key, self._dynamic)
        return self._canvas.full_draw()


def _tight_layout_from_defaults(figure: object) -> None:
    """Tight layout starting from the default subplot parameters: tight_layout refines the
    current ones, so without the reset a plot would depend on what the figure drew before."""
    from matplotlib.figure import SubplotParams

    defaults = SubplotParams()
    figure.subplots_adjust(
        left=defaults.left, right=defaults.right, bottom=defaults.bottom, top=defaults.top
    )
    figure.tight_layout()


class _GridPlot:
    """``d`` small plots without ticks in ``int(sqrt(d))`` rows, ids row-major."""

    def __init__(self, style: PlotStyle, variates: int) -> None:
        self.style = style
        rows = max(1, math.isqrt(variates))
        cols = math.ceil(variates / rows)
        self._canvas = _Figure(style.width_in, style.grid_row_height_in * rows, style.dpi)
        figure = self._canvas.figure
        all_axes = figure.subplots(rows, cols, squeeze=False).ravel()
        figure.subplots_adjust(
            left=0.01, right=0.99, bottom=0.02, top=0.98, wspace=0.04, hspace=0.08
        )
        self._axes = list(all_axes[:variates])
        for axes in all_axes[variates:]:
            axes.set_visible(False)
        self._lines = []
        self._dynamic = []
        for variate, axes in enumerate(self._axes):
            axes.set_xticks([])
            axes.set_yticks([])
            (line,) = axes.plot([], [], color=style.color, linewidth=style.linewidth)
            variate_id = axes.text(
                0.01, 0.97, str(variate), transform=axes.transAxes, fontsize=8, va="top", ha="left"
            )
            self._lines.append(line)
            self._dynamic.append((axes, [line, *axes.spines.values(), variate_id]))

    def render(self, values: np.ndarray, blit: bool) -> Image.Image:
        length = values.shape[1]
        for axes, line, row in zip(self._axes, self._lines, values, strict=True):
            line.set_data(np.arange(length), row)
            axes.set_xlim(0, length)
            axes.set_ylim(*(self.style.ylim or data_limits(row)))
        if blit:
            return self._canvas.blit("grid", self._dynamic)
        return self._canvas.full_draw()


def png_bytes(image: Image.Image, compress_level: int = 6) -> bytes:
    """PNG encoding of an image (what datasets stores and the OpenAI backend sends);
    ``compress_level`` trades size for speed (1 fastest, 9 smallest)."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=compress_level)
    return buffer.getvalue()
