import json
import os
import signal
import subprocess
import sys
import time

import pytest
from helpers.eval_fixtures import row_id

from anomseer.cli import main
from anomseer.errors import UserInputError
from anomseer.evaluation import evaluate
from anomseer.evaluation.predictions import PredictionLog
from anomseer.protocol import format_answer


def _answers(server):
    server.answers = {
        200: format_answer([[58, 62]], "global point", think="spike"),
        201: format_answer([[120, 130]], "contextual point", think="dip"),
        203: format_answer([[90, 140]], "trend", think="ramp"),
        205: format_answer([], "normal", think="flat"),
    }


@pytest.mark.slow
def test_a_run_killed_midway_resumes_to_the_same_metrics(eval_data, chat_server, tmp_path):
    _answers(chat_server)
    argv = ["eval", "--data", str(eval_data), "--backend", "openai", "--model", "m"]
    argv += ["--base-url", chat_server.base_url, "--batch-size", "1", "--concurrency", "1"]
    argv += ["--no-figures"]
    whole = tmp_path / "whole"
    assert main([*argv, "--out", str(whole)]) == 0

    # a separate process, slowed down by the server, killed with SIGKILL after two batches
    killed = tmp_path / "killed"
    chat_server.delay_s = 0.3
    process = subprocess.Popen(
        [sys.executable, "-m", "anomseer.cli", *argv, "--out", str(killed)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    predictions = killed / "predictions.jsonl"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        if predictions.is_file() and predictions.read_bytes().count(b"\n") >= 2:
            break
        time.sleep(0.05)
    assert process.poll() is None, "the run ended before it could be killed"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    done = predictions.read_bytes().count(b"\n")
    assert 2 <= done < 7 and not (killed / "metrics.json").exists()
    # what a kill in the middle of a write leaves: a torn last line
    with predictions.open("ab") as handle:
        handle.write(b'{"id": "test/trend/eval/3", "sample": 0, "out')

    chat_server.delay_s = 0.0
    before = sum(chat_server.attempts.values())
    assert main([*argv, "--out", str(killed)]) == 0
    assert sum(chat_server.attempts.values()) - before == 7 - done  # only the missing rows
    assert (killed / "metrics.json").read_text() == (whole / "metrics.json").read_text()
    lines = predictions.read_text().splitlines()
    assert len(lines) == 7 and all(json.loads(line) for line in lines)
    assert (killed / "report.md").read_text() == (whole / "report.md").read_text()


def test_torn_tail_is_dropped_and_later_appends_stay_whole(tmp_path):
    path = tmp_path / "predictions.jsonl"
    path.write_bytes(b'{"id": "a", "sample": 0, "error": null}\n{"id": "b", "sam')
    log = PredictionLog(path)
    assert [r["id"] for r in log.records] == ["a"]
    assert path.read_bytes() == b'{"id": "a", "sample": 0, "error": null}\n'
    log.append([{"id": "b", "sample": 0, "error": None}, {"id": "b", "sample": 0, "error": "x"}])
    reopened = PredictionLog(path)
    assert [r["id"] for r in reopened.records] == ["a", "b", "b"]
    assert reopened.latest()[("b", 0)]["error"] == "x"  # the last record of a key wins


def test_rerun_with_other_settings_is_refused(eval_data, chat_server, tmp_path):
    _answers(chat_server)
    out = tmp_path / "run"
    options = dict(model="m", base_url=chat_server.base_url, limit=2, figures=False)
    first = evaluate(eval_data, "eval", "openai", out, **options)
    assert first["samples"] == 2
    with pytest.raises(UserInputError, match=r"another configuration \(changed: temperature\)"):
        evaluate(eval_data, "eval", "openai", out, temperature=0.5, **options)
    # a larger limit continues the same run and recomputes the metrics
    wider = evaluate(eval_data, "eval", "openai", out, **(options | {"limit": 4}))
    assert wider["samples"] == 4 and chat_server.attempts[200] == 1
    assert json.loads((out / "metrics.json").read_text())["samples"] == 4
    records = [json.loads(line) for line in (out / "predictions.jsonl").open()]
    assert [r["id"] for r in records][:2] == [row_id("range", 0), row_id("point", 1)]
