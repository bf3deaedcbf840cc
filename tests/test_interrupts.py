"""Ctrl-C stops every command cleanly, never as a failed row, and a rerun resumes to the result
of an uninterrupted run."""

import json
import signal
import sys
from pathlib import Path

import pytest
from helpers.cli_run import anomseer

from anomseer.interrupts import is_interrupt

DRIVER = Path(__file__).parent / "helpers" / "interrupted_eval.py"


def _raised_inside_a_handler() -> SystemError:
    """A SystemError carrying a KeyboardInterrupt in its chain, as numba's dispatcher raises."""
    try:
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt as interrupt:
            raise SystemError("CPUDispatcher(<function _stump>) returned a result with an "
                              "exception set") from interrupt  # fmt: skip
    except SystemError as error:
        return error


def test_is_interrupt_follows_the_exception_chain():
    assert is_interrupt(KeyboardInterrupt())
    assert is_interrupt(_raised_inside_a_handler())
    assert not is_interrupt(SystemError("a real bug"))
    looped = ValueError("loop")
    looped.__context__ = ValueError("back")
    looped.__context__.__context__ = looped
    assert not is_interrupt(looped)


def test_expert_backend_stops_on_an_interrupt_in_disguise(expert_ready):
    from anomseer.evaluation.backends.base import EvalRequest
    from anomseer.evaluation.backends.expert import ExpertBackend

    backend = ExpertBackend()
    request = EvalRequest(id="a", length=64, series=[0.0] * 64, prompt=None, image=None)

    def detect(series):
        raise _raised_inside_a_handler()

    backend._detect = detect
    with pytest.raises(KeyboardInterrupt):
        backend.generate([request])

    def buggy(series):
        raise SystemError("a real bug")

    backend._detect = buggy
    [generation] = backend.generate([request])
    assert "SystemError: a real bug" in generation.error


@pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="needs POSIX interval timers")
def test_eval_interrupted_inside_stumpy_stops_cleanly_and_resumes(tmp_path, tiny_eval_data):
    args = ["eval", "--data", str(tiny_eval_data), "--backend", "expert", "--batch-size", "1",
            "--no-figures"]  # fmt: skip
    marker = tmp_path / "landed"
    interrupted = anomseer(
        "7", marker, "--", *args, "--out", "run", cwd=tmp_path,
        prefix=(sys.executable, str(DRIVER)),
    )  # fmt: skip
    assert interrupted.returncode == 130, interrupted.stderr[-3000:]
    assert interrupted.stderr.strip().splitlines()[-1] == "anomseer eval: interrupted"
    assert marker.read_text().startswith("inside"), marker.read_text()
    records = [json.loads(line) for line in (tmp_path / "run" / "predictions.jsonl").open()]
    assert 0 < len(records) < 10
    assert all(record["error"] is None for record in records)
    assert not (tmp_path / "run" / "metrics.json").exists()

    assert anomseer(*args, "--out", "run", cwd=tmp_path).returncode == 0
    assert anomseer(*args, "--out", "straight", cwd=tmp_path).returncode == 0
    resumed = json.loads((tmp_path / "run" / "metrics.json").read_text())
    straight = json.loads((tmp_path / "straight" / "metrics.json").read_text())
    assert resumed == straight
    assert resumed["overall"]["failures"] == 0


@pytest.mark.parametrize("raised", [KeyboardInterrupt, _raised_inside_a_handler], ids=str)
def test_every_command_ends_an_interrupt_with_one_line(raised, monkeypatch, tmp_path, capsys):
    import anomseer.evaluation
    from anomseer.cli import main

    def load_run(folder):
        raise raised()

    monkeypatch.setattr(anomseer.evaluation, "load_run", load_run)
    assert main(["report", str(tmp_path)]) == 130
    assert capsys.readouterr().err == "anomseer report: interrupted\n"
