"""Evaluation test data, built in one place: tiny datasets in the DESIGN.md row format (saved
with :func:`helpers.dataset_files.save_rows`), and a real chat-completions HTTP server on
127.0.0.1 whose behaviour each test scripts."""

from __future__ import annotations

import base64
import io
import json
import re
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np

from data_gen.render import PlotRenderer, PlotStyle
from helpers.dataset_files import make_row

# (family, anomaly_type, length, truth intervals); the lengths are distinct so the test server
# can tell the rows apart from the prompt text alone.
UNIVARIATE_ROWS = (
    ("range", "global point", 200, [[60, 61]]),
    ("point", "contextual point", 201, [[120, 125]]),
    ("freq", "seasonal", 202, [[30, 60]]),
    ("trend", "trend", 203, [[100, 150]]),
    ("vta-shapelet", "shapelet", 204, [[80, 100]]),
    ("range", "normal", 205, []),
    ("irregular-vta-global", "global point", 206, [[90, 91]]),
)
MISSING = slice(10, 20)
"""Points dropped from the irregular row."""
MULTIVARIATE_ROWS = (("vta-square", "shapelet", 60, [1]), ("vta-sawtooth", "shapelet", 61, [2, 3]))


def row_id(family: str, index: int) -> str:
    return f"test/{family}/eval/{index}"


def _series(length: int, intervals: list[list[int]], anomaly_type: str, seed: int) -> np.ndarray:
    """A sine with the anomaly painted in (the evaluator never looks at how it was made)."""
    rng = np.random.default_rng(seed)
    t = np.arange(length)
    series = 0.5 * np.sin(2 * np.pi * 0.03 * t) + 0.02 * rng.standard_normal(length)
    for start, end in intervals:
        if anomaly_type == "trend":
            series[start:end] += np.linspace(0, 0.4, end - start)
        else:
            series[start:end] += 0.45
    return series


def univariate_rows() -> list[dict]:
    renderer = PlotRenderer()
    rows = []
    for index, (family, label, length, intervals) in enumerate(UNIVARIATE_ROWS):
        series = _series(length, intervals, label, seed=index)
        if family.startswith("irregular-"):
            series[MISSING] = np.nan
        image = renderer.render(series)
        key = row_id(family, index)
        rows.append(make_row(key, family, label, series, image, "trace", intervals))
    return rows


def multivariate_rows() -> list[dict]:
    from PIL import Image

    renderer = PlotRenderer(PlotStyle(width_in=4.0, height_in=0.8, ylim=None))
    rows = []
    for index, (family, label, length, variates) in enumerate(MULTIVARIATE_ROWS):
        rng = np.random.default_rng(100 + index)
        series = np.sin(2 * np.pi * 0.04 * np.arange(length) + rng.uniform(0, 3, (4, 1)))
        for variate in variates:
            series[variate] = np.sign(np.sin(2 * np.pi * 0.05 * np.arange(length)))
        image = Image.fromarray(np.vstack([np.asarray(renderer.render(v)) for v in series]))
        key = row_id(family, index)
        rows.append(make_row(key, family, label, series, image, "t", variates=variates))
    return rows


# ----------------------------------------------------------------------------- HTTP server


class ChatServer(ThreadingHTTPServer):
    """An OpenAI-compatible chat-completions server whose answers and misbehaviour are
    scripted per series length (read from the prompt): ``answers[length]`` is the reply text
    and ``script[length]`` lists, per attempt, ``"500"``, ``"429"`` (with Retry-After: 0),
    ``"sleep"`` or ``"ok"``."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), ChatHandler)
        self.answers: dict[int, str] = {}
        self.script: dict[int, list[str]] = {}
        self.attempts: Counter[int] = Counter()
        self.bodies: list[dict] = []
        self.image_sizes: list[tuple[int, int]] = []
        self.sleep_s = 1.0
        self.delay_s = 0.0
        self.required_key: str | None = None
        self.lock = threading.Lock()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"


class ChatHandler(BaseHTTPRequestHandler):
    server: ChatServer

    def log_message(self, *args) -> None:  # keep the test output quiet
        pass

    def _send(self, status: int, payload: dict, headers: dict | None = None) -> None:
        data = json.dumps(payload).encode()
        try:
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client timed out and left

    def _authorized(self) -> bool:
        key = self.server.required_key
        if key is None or self.headers.get("Authorization") == f"Bearer {key}":
            return True
        self._send(401, {"error": {"message": "invalid api key"}})
        return False

    def do_GET(self) -> None:
        if not self._authorized():
            return
        if self.path == "/v1/models":
            self._send(200, {"object": "list", "data": [{"id": "stand-model", "object": "model"}]})
        else:
            self._send(404, {"error": {"message": "not found"}})

    def do_POST(self) -> None:
        from PIL import Image

        if not self._authorized():
            return
        if self.path != "/v1/chat/completions":
            self._send(404, {"error": {"message": "not found"}})
            return
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        parts = body["messages"][0]["content"]
        text = next(p["text"] for p in parts if p["type"] == "text")
        url = next(p["image_url"]["url"] for p in parts if p["type"] == "image_url")
        prefix = "data:image/png;base64,"
        assert url.startswith(prefix)
        image = Image.open(io.BytesIO(base64.b64decode(url[len(prefix) :])))
        length = int(re.search(r"length (\d+)", text).group(1))
        server = self.server
        with server.lock:
            server.bodies.append(body)
            server.image_sizes.append(image.size)
            server.attempts[length] += 1
            attempt = server.attempts[length]
        steps = server.script.get(length, [])
        action = steps[attempt - 1] if attempt <= len(steps) else "ok"
        time.sleep(server.delay_s)
        if action == "500":
            self._send(500, {"error": {"message": "internal error"}})
            return
        if action == "429":
            self._send(429, {"error": {"message": "slow down"}}, {"Retry-After": "0"})
            return
        if action == "sleep":
            time.sleep(server.sleep_s)
        answer = server.answers.get(length, "<think>no idea</think>")
        choices = [
            {"index": k, "message": {"role": "assistant", "content": answer}}
            for k in range(body.get("n", 1))
        ]
        self._send(200, {"id": "c", "object": "chat.completion", "choices": choices})
