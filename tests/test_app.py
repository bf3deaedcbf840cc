"""The local app: CSV parsing by hand, one series answered by the expert and drawn, and the
page itself served by 'anomseer app' on 127.0.0.1 and used in the system's headless
Chromium (upload a CSV, get the answer; an over-limit paste refused with the limit named)."""

import math
import socket
import subprocess
import sys
import time
import urllib.request

import numpy as np
import pytest
from helpers.browser import inked_share

from anomseer.app import answer_figure, ask, read_series, where
from anomseer.errors import UserInputError
from anomseer.evaluation.backends import load_backend
from anomseer.protocol import Answer


def test_read_series_takes_one_column_or_one_per_variate():
    one = read_series("value\n1\n2.5\nnan\n-4e0\n")  # header dropped, nan missing
    np.testing.assert_array_equal(one, [1.0, 2.5, math.nan, -4.0])
    two = read_series("time,a,b\n2020-01-01,1,5\n2020-01-02,2,\n2020-01-03,3,7\n")
    np.testing.assert_array_equal(two, [[1, 2, 3], [5, math.nan, 7]])  # timestamps ignored
    assert where(Answer(intervals=[(40, 52)], variates=[2])) == "variates [2]; intervals [40, 52)"
    assert where(Answer()) == "none"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1\n2\nx\n", "line 3, column 1 of the CSV is not a number"),
        ("v\n1\ninf\n", "line 3, column 1 of the CSV is not a number"),
        ("a,b\nc,d\n", "no column of numbers"),
        ("5\n", "the series has 1 points; the app answers about 2 to 10,000 points"),
        ("\n\n", "holds no values"),
        ("1\n" * 600, "the CSV is 1,200 bytes, over the limit of 1,000"),
    ],
)
def test_read_series_refuses_bad_csv_in_one_line(text, message):
    with pytest.raises(UserInputError, match=message):
        read_series(text, max_bytes=1000)


@pytest.mark.usefixtures("expert_ready")
def test_the_expert_answers_about_a_spike_and_the_answer_is_drawn():
    values = np.sin(2 * np.pi * np.arange(400) / 40)
    values[200:203] += 4.0
    result = ask(load_backend("expert"), values)
    assert result.model_view.size == (1000, 150)  # the real-data plot the converter draws
    assert result.answer.label == "global point" and result.answer.answer_valid
    (start, end), *_ = result.answer.intervals
    assert start < 203 and end > 200
    drawn = np.asarray(answer_figure(values, Answer(intervals=[(0, 200)], label="trend")))
    red = (drawn[..., 0] > 200) & (drawn[..., 1] < 200) & (drawn[..., 2] < 200)
    left, right = red[:, : drawn.shape[1] // 2], red[:, drawn.shape[1] // 2 :]
    assert left.sum() > 20 * right.sum()  # the shaded interval covers the first half


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def served_app(tmp_path):
    """'anomseer app --backend expert' on a free port of 127.0.0.1, limited to 1 kB uploads."""
    port = _free_port()
    log = (tmp_path / "app.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "anomseer.cli", "app", "--backend", "expert", "--port", str(port),
         "--max-upload-kb", "1"],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        assert process.poll() is None, (tmp_path / "app.log").read_text()[-3000:]
        try:
            urllib.request.urlopen(url, timeout=5).close()
            break
        except OSError:
            time.sleep(1)
    else:
        pytest.fail(f"the app did not answer on {url}: {(tmp_path / 'app.log').read_text()}")
    yield url, tmp_path / "app.log"
    process.terminate()
    process.wait(timeout=30)
    log.close()


@pytest.mark.slow
def test_app_served_on_localhost_answers_an_uploaded_csv_in_chromium(served_app, tmp_path, page):
    url, log = served_app
    assert f"serving the expert backend on {url.rstrip('/')}" in log.read_text()
    values = np.sin(2 * np.pi * np.arange(120) / 30)
    values[60:62] += 5
    csv = tmp_path / "series.csv"
    csv.write_text("value\n" + "".join(f"{v:.3f}\n" for v in values))  # under 1 kB
    page.goto(url)
    page.set_input_files("input[type=file]", csv)
    page.locator("a[download]").first.wait_for(timeout=120_000)  # the upload finished
    page.get_by_role("button", name="Find the anomaly").click()
    answer = page.locator("#answer-class textarea")
    page.wait_for_function(
        "e => e.value.length > 0 || document.body.innerText.includes('Error')",
        arg=answer.element_handle(),
        timeout=240_000,
    )
    assert answer.input_value() == "global point", page.inner_text("body")[-2000:]
    assert "[6" in page.locator("#answer-where textarea").input_value()  # an interval near 60
    assert "noise level" in page.locator("#answer-reasoning textarea").input_value()
    assert page.locator("img").count() >= 2  # the model's view and the answer
    assert inked_share(page.screenshot(full_page=True)) > 0.05
    assert all(u.startswith(url) or u.startswith(("data:", "blob:")) for u in page.requests)

    page.locator("button[aria-label='Clear']").first.click()  # drop the upload, paste instead
    page.locator("textarea").first.fill("1\n" * 600)
    page.get_by_role("button", name="Find the anomaly").click()
    page.get_by_text("1,200 bytes, over the limit of 1,000").first.wait_for(timeout=60_000)
    assert page.errors == []
