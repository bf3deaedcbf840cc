"""Label-free line plots of series, drawn fast by reusing one matplotlib figure per style.

Nothing here takes a label: a plot depends on the values alone (SPEC section 2.3).
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image


@dataclass(frozen=True)
class PlotStyle:
    """How a univariate series is drawn. ``ylim=None`` lets matplotlib pick the limits."""

    width_in: float = 10.0
    height_in: float = 1.5
    dpi: int = 100
    color: str = "steelblue"
    linewidth: float = 1.0
    ylim: tuple[float, float] | None = (-1.0, 1.0)
    xtick_step: int | None = None


PAPER_STYLE = PlotStyle()
"""The AnomLLM / AnomSeer paper style: 1000 x 150 px, steelblue, y-limits (-1, 1)."""


class PlotRenderer:
    """Draws series with one persistent figure; call :meth:`render` once per sample."""

    def __init__(self, style: PlotStyle = PAPER_STYLE) -> None:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        self.style = style
        self._figure = Figure(figsize=(style.width_in, style.height_in), dpi=style.dpi)
        self._canvas = FigureCanvasAgg(self._figure)
        self._axes = self._figure.add_subplot()
        (self._line,) = self._axes.plot([], [], color=style.color, linewidth=style.linewidth)
        self._laid_out_for: tuple | None = None

    def render(self, series: np.ndarray) -> Image.Image:
        """The plot of ``series`` (NaN values leave gaps) as an RGB image."""
        values = np.asarray(series, dtype=float)
        if values.ndim != 1 or values.size == 0:
            raise ValueError(f"expected a non-empty 1-D series, got shape {values.shape}")
        x = np.arange(values.size)
        self._line.set_data(x, values)
        self._axes.set_xlim(0, values.size)
        self._set_ylim(values)
        self._set_xticks(values.size)
        self._layout(values.size)
        self._canvas.draw()
        rgba = np.asarray(self._canvas.buffer_rgba())
        return Image.fromarray(rgba[..., :3].copy())

    def _set_ylim(self, values: np.ndarray) -> None:
        if self.style.ylim is not None:
            self._axes.set_ylim(*self.style.ylim)
            return
        finite = values[np.isfinite(values)]
        low, high = (float(finite.min()), float(finite.max())) if finite.size else (-1.0, 1.0)
        margin = 0.05 * (high - low) if high > low else 0.5
        self._axes.set_ylim(low - margin, high + margin)

    def _set_xticks(self, length: int) -> None:
        if self.style.xtick_step:
            self._axes.set_xticks(np.arange(0, length + 1, self.style.xtick_step))

    def _layout(self, length: int) -> None:
        """Tight layout once per (length, y-limits): it is the slowest step of a redraw."""
        key = (length, self._axes.get_ylim())
        if key != self._laid_out_for:
            self._figure.tight_layout()
            self._laid_out_for = key


def png_bytes(image: Image.Image) -> bytes:
    """PNG encoding of an image (what datasets stores and the OpenAI backend sends)."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()
