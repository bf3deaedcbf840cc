"""Size and speed of report.html for many rows: real expert answers and scores on random series.

Each row is a length-L sine with noise and a painted spike, answered by the expert detector
(so the reasoning text and its numbers vary row to row, as in a real run) and scored as the
evaluator scores it. Reports the page size (and the size of the same rows as plain JSON), the
seconds to build it, and the seconds the system's headless Chromium takes to open it and show
the first page of 50 rows and then all rows of one type.

    .venv/bin/python scripts/bench_html_report.py --rows 10000 --length 1000
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import machine_line, parse_flags  # scripts/ is on sys.path when run as a script

from anomseer.evaluation.backends import EvalRequest, load_backend
from anomseer.evaluation.html_report import HtmlRun, page_rows, render_page
from anomseer.evaluation.runner import prediction_records

TYPES = ("global point", "contextual point", "seasonal", "trend", "shapelet", "normal")


def rows_and_records(count: int, length: int) -> tuple[dict[str, list], dict]:
    rng = np.random.default_rng(0)
    expert = load_backend("expert")
    series, records = {}, {}
    for k in range(count):
        values = np.sin(2 * np.pi * np.arange(length) / rng.uniform(20, 200))
        values += 0.05 * rng.standard_normal(length)
        start = int(rng.integers(0, length - 10))
        values[start : start + 3] += rng.uniform(1, 3)
        label = TYPES[k % len(TYPES)]
        row = {
            "id": f"bench/{k}",
            "family": f"family-{k % 5}",
            "anomaly_type": label,
            "length": length,
            "series": values.tolist(),
            "intervals": [] if label == "normal" else [[start, start + 3]],
        }
        (generation,) = expert.generate([EvalRequest(row["id"], length, row["series"])])
        (record,) = prediction_records(row, generation, 1)
        series[row["id"]] = row["series"]
        records[(row["id"], 0)] = record
    return series, records


def open_in_chromium(page_path: Path) -> tuple[float, float]:
    from playwright.sync_api import sync_playwright

    executable = shutil.which("chromium") or sys.exit("no chromium on PATH")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        page = browser.new_page()
        start = time.perf_counter()
        page.goto(page_path.as_uri())
        page.wait_for_selector("body[data-ready='1']", timeout=300_000)
        ready = time.perf_counter() - start
        start = time.perf_counter()
        page.select_option("#type", "trend")
        page.select_option("#page-size", "0")
        page.wait_for_selector(".row")
        filtered = time.perf_counter() - start
        browser.close()
    return ready, filtered


def main() -> None:
    flags = parse_flags(__doc__, rows=(10_000, "rows"), length=(1000, "points per series"))
    start = time.perf_counter()
    series, records = rows_and_records(flags.rows, flags.length)
    print(f"{flags.rows} expert answers in {time.perf_counter() - start:.1f} s")
    runs = [HtmlRun("expert", {"run": {"backend": "expert"}}, records)]
    start = time.perf_counter()
    html = render_page(runs, series)
    built = time.perf_counter() - start
    plain = len(json.dumps(page_rows(runs, series), separators=(",", ":")))
    reasoning = np.mean([len(r["output"]) for r in records.values()])
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "report.html"
        path.write_text(html)
        ready, filtered = open_in_chromium(path)
    print(f"rows {flags.rows}, length {flags.length}, mean output {reasoning:.0f} chars")
    print(f"page {len(html) / 1e6:.2f} MB (rows as plain JSON {plain / 1e6:.2f} MB), built in "
          f"{built:.1f} s")  # fmt: skip
    print(f"chromium: first 50 rows shown {ready:.1f} s after opening; type filter + all "
          f"rows of it {filtered:.1f} s")  # fmt: skip
    print(machine_line())


if __name__ == "__main__":
    main()
