"""A local web app (Gradio) that asks one backend about one series: upload or paste a CSV, see
the label-free plot the model sees (drawn as the real-data converter draws a window: min-max
scaled to [-1, 1], paper style with a y-margin), and get the answer drawn on it with its
reasoning. The parsing and drawing here need no Gradio; :func:`build_app` imports it.

Uploaded text is untrusted: it is parsed as numbers only, refused over a size limit, and the
model's answer is parsed with the protocol's parser (never executed).
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from anomseer.errors import UserInputError
from anomseer.evaluation.backends import Backend, EvalRequest
from anomseer.protocol import Answer, build_messages, parse_answer

if TYPE_CHECKING:
    from PIL import Image

MAX_UPLOAD_BYTES = 1_000_000
"""Default limit on an uploaded or pasted CSV."""
MAX_POINTS = 10_000
"""Longest series (points per variate) the app answers about."""
MAX_VARIATES = 64


@dataclass(frozen=True)
class AppAnswer:
    """What the page shows for one series."""

    model_view: Image.Image
    """The label-free plot, exactly the image the backend is given."""
    answer_view: Image.Image
    """The series with the predicted intervals (and variates) marked."""
    answer: Answer
    output: str


def read_series(text: str, max_bytes: int = MAX_UPLOAD_BYTES) -> np.ndarray:
    """The series in a CSV text: one column of numbers, or one column per variate (then
    ``(variates, length)``). A header line and columns with no number (e.g. timestamps) are
    ignored; empty cells and ``nan`` are missing points. Anything else is a one-line error."""
    size = len(text.encode("utf-8"))
    if size > max_bytes:
        raise UserInputError(
            f"the CSV is {size:,} bytes, over the limit of {max_bytes:,}; send a shorter "
            f"window (at most {MAX_POINTS:,} points)"
        )
    rows = [row for row in csv.reader(io.StringIO(text)) if any(cell.strip() for cell in row)]
    if not rows:
        raise UserInputError("the CSV holds no values; give one number per line")
    width = max(len(row) for row in rows)
    cells = [[_number(row[k]) if k < len(row) else math.nan for k in range(width)] for row in rows]
    numeric = [k for k in range(width) if any(row[k] is not None for row in cells[1:])]
    if len(cells) > 1 and any(cells[0][k] is None for k in numeric):
        cells, first_line = cells[1:], 2  # a header line
    else:
        numeric, first_line = [k for k in range(width) if any(r[k] is not None for r in cells)], 1
    if not numeric:
        raise UserInputError("the CSV has no column of numbers; give one number per line")
    bad = next(((i, k) for i, row in enumerate(cells) for k in numeric if row[k] is None), None)
    if bad is not None:
        raise UserInputError(
            f"line {bad[0] + first_line}, column {bad[1] + 1} of the CSV is not a number; every "
            "line needs a number there (or an empty cell for a missing point)"
        )
    values = np.array([[row[k] for row in cells] for k in numeric], dtype=float)
    if values.shape[1] < 2 or values.shape[1] > MAX_POINTS:
        raise UserInputError(
            f"the series has {values.shape[1]} points; the app answers about 2 to "
            f"{MAX_POINTS:,} points"
        )
    if values.shape[0] > MAX_VARIATES:
        raise UserInputError(f"the CSV has {values.shape[0]} columns; at most {MAX_VARIATES}")
    if not np.isfinite(values).any():
        raise UserInputError("every value of the series is missing")
    return values[0] if len(values) == 1 else values


def _number(cell: str) -> float | None:
    """A cell as a float (empty or ``nan`` -> NaN), None when it is no number."""
    text = cell.strip()
    if not text:
        return math.nan
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) or math.isnan(value) else None


def ask(backend: Backend, values: np.ndarray) -> AppAnswer:
    """Scale and draw the series as the converter does, ask the backend, parse and draw its
    answer."""
    from data_gen.benchmarks.windows import scale_window
    from data_gen.render import REAL_DATA_STYLE, PlotRenderer

    scaled = scale_window(values)
    multivariate = scaled.ndim == 2
    length = scaled.shape[-1]
    image = PlotRenderer(REAL_DATA_STYLE).render(scaled)
    request = EvalRequest(
        id="app",
        length=length,
        series=scaled.tolist(),
        prompt=build_messages(length, scaled.shape[0] if multivariate else None),
        image=image,
    )
    (generation,) = backend.generate([request])
    if generation.error:
        raise UserInputError(f"the {backend.name} backend failed: {generation.error}")
    output = generation.texts[0]
    answer = parse_answer(output, length, multivariate)
    return AppAnswer(image, answer_figure(scaled, answer), answer, output)


def where(answer: Answer) -> str:
    """The answer's intervals (and variate ids), e.g. ``variates [2]; intervals [40, 52)``."""
    spans = ", ".join(f"[{s}, {e})" for s, e in answer.intervals) or "none"
    return f"variates {list(answer.variates)}; intervals {spans}" if answer.variates else spans


def answer_figure(values: np.ndarray, answer: Answer) -> Image.Image:
    """The scaled series with the predicted intervals shaded red (multivariate: one line per
    variate, predicted variates in red), titled with the predicted class."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from PIL import Image

    from anomseer.evaluation.figures import LINE_COLOR, PREDICTION_COLOR, visible_spans

    rows = np.atleast_2d(values)
    figure = Figure(figsize=(10, 1.6 + 0.5 * (len(rows) - 1)), dpi=100, layout="constrained")
    ax = figure.subplots()
    chosen = set(answer.variates)
    for variate, row in enumerate(rows):
        color = PREDICTION_COLOR if variate in chosen else LINE_COLOR
        ax.plot(row - 2.2 * variate, color=color, linewidth=0.9)
    for start, end in visible_spans(answer.intervals, rows.shape[1]):
        ax.axvspan(start, end, color=PREDICTION_COLOR, alpha=0.3, linewidth=0)
    ax.set_xlim(0, rows.shape[1])
    ax.set_yticks([])
    ax.set_title(f"answer: {answer.label or 'no valid class'} · {where(answer)}", fontsize=9)
    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    return Image.fromarray(np.asarray(canvas.buffer_rgba())[..., :3].copy())


def build_app(backend: Backend, max_bytes: int = MAX_UPLOAD_BYTES):
    """The Gradio page: a CSV upload or paste, the model's view, the answer and its
    reasoning."""
    import gradio as gr

    def answer(upload: str | None, pasted: str) -> tuple:
        try:
            text = _read_upload(upload, max_bytes) if upload else pasted
            if not text or not text.strip():
                raise UserInputError("upload a CSV file or paste its values first")
            result = ask(backend, read_series(text, max_bytes))
        except UserInputError as error:
            raise gr.Error(str(error)) from None
        label = result.answer.label or "no valid class (see the raw output)"
        reasoning = result.answer.think if result.answer.think is not None else result.output
        return result.model_view, result.answer_view, label, where(result.answer), reasoning

    with gr.Blocks(title="AnomSeer", analytics_enabled=False) as app:
        gr.Markdown(
            f"## AnomSeer: ask `{backend.name}` about a series\n"
            f"Upload a CSV (one number per line, or one column per variate; a header and "
            f"timestamp columns are ignored) or paste one. At most {max_bytes:,} bytes and "
            f"{MAX_POINTS:,} points."
        )
        with gr.Row():
            upload = gr.File(label="CSV file", file_types=[".csv", ".txt"], type="filepath")
            pasted = gr.Textbox(label="or paste values", lines=6, max_lines=12)
        run = gr.Button("Find the anomaly", variant="primary")
        model_view = gr.Image(label="What the model sees (no labels)", type="pil")
        answer_view = gr.Image(label="Its answer, drawn on the series", type="pil")
        with gr.Row():
            label = gr.Textbox(label="Class", elem_id="answer-class")
            location = gr.Textbox(label="Where", elem_id="answer-where")
        reasoning = gr.Textbox(label="Reasoning", lines=8, elem_id="answer-reasoning")
        run.click(
            answer,
            inputs=[upload, pasted],
            outputs=[model_view, answer_view, label, location, reasoning],
        )
    return app


def serve(backend: Backend, host: str, port: int | None, max_bytes: int = MAX_UPLOAD_BYTES) -> None:
    """Serve the app until interrupted (fonts are the system's: the page loads nothing from
    the network)."""
    import gradio as gr

    theme = gr.themes.Base(font=["system-ui", "sans-serif"], font_mono=["monospace"])
    build_app(backend, max_bytes).launch(
        server_name=host, server_port=port, max_file_size=max_bytes, theme=theme,
        share=False, show_error=True, footer_links=[],
    )  # fmt: skip


def _read_upload(path: str, max_bytes: int) -> str:
    """An uploaded file's text, refused over the limit before it is read whole."""
    with open(path, "rb") as stream:
        data = stream.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise UserInputError(
            f"the file is over the limit of {max_bytes:,} bytes; send a shorter window "
            f"(at most {MAX_POINTS:,} points)"
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UserInputError("the file is not UTF-8 text; upload a CSV") from None
