import json

import pytest
from helpers.eval_fixtures import UNIVARIATE_ROWS, row_id

from anomseer.cli import main
from anomseer.errors import UserInputError
from anomseer.evaluation import evaluate
from anomseer.evaluation.backends.openai import (
    OpenAIBackend,
    OpenAIOptions,
    chat_messages,
    choice_text,
)
from anomseer.protocol import build_messages, format_answer

FAST = {"timeout": 0.5, "max_retries": 1, "backoff": 0.01, "concurrency": 4}


def script_server(server):
    """Per row: exact, right place wrong class, unparseable, always 500, always too slow,
    normal, and 500 once then exact (the retry succeeds)."""
    server.answers = {
        200: format_answer([[60, 61]], "global point", think="spike"),
        201: format_answer([[120, 125]], "seasonal", think="wrong class"),
        202: "I cannot tell.",
        205: format_answer([], "normal", think="flat"),
        206: format_answer([[90, 91]], "global", think="spike"),
    }
    server.script = {203: ["500"] * 5, 204: ["sleep"] * 5, 206: ["500"]}


def test_openai_backend_scores_answers_and_records_failures(eval_data, chat_server, tmp_path):
    script_server(chat_server)
    out = tmp_path / "run"
    metrics = evaluate(
        eval_data, "eval", "openai", out, model="stand-model", base_url=chat_server.base_url, **FAST
    )
    overall = metrics["overall"]
    # loc: exact 1, right place 1, unparseable 0, two failures 0, normal 1, retried exact 1
    assert overall["count"] == 7 and overall["failures"] == 2
    assert overall["invalid_answers"] == 3  # the unparseable answer and the two failures
    assert overall["aff_f1"] == pytest.approx(4 / 7)
    assert overall["localization"] == pytest.approx(4 / 7)
    assert overall["class_accuracy"] == pytest.approx(3 / 7)
    assert metrics["by_type"]["trend"]["failures"] == 1
    assert metrics["by_family"]["vta-shapelet"]["failures"] == 1
    assert metrics["by_type"]["global point"]["aff_f1"] == 1.0
    assert "failures" in metrics["counting"]

    assert chat_server.attempts[203] == 2 and chat_server.attempts[204] == 2  # 1 + 1 retry
    assert chat_server.attempts[206] == 2 and chat_server.attempts[200] == 1
    assert set(chat_server.image_sizes) == {(1000, 150)}
    body = chat_server.bodies[0]
    assert body["model"] == "stand-model" and body["temperature"] == 0.0
    assert body["max_completion_tokens"] == 1024 and "n" not in body and "seed" not in body

    records = {r["id"]: r for r in map(json.loads, (out / "predictions.jsonl").open())}
    failed = records[row_id("trend", 3)]
    assert failed["output"] is None and failed["error"].startswith("HTTP 500")
    assert "2 attempt(s)" in failed["error"]
    assert "timed out" in records[row_id("vta-shapelet", 4)]["error"]
    assert records[row_id("freq", 2)]["output"] == "I cannot tell."
    assert not records[row_id("freq", 2)]["answer"]["answer_valid"]
    assert records[row_id("irregular-vta-global", 6)]["answer"]["label"] == "global point"
    assert json.loads((out / "metrics.json").read_text()) == metrics


def test_retry_failed_asks_again_and_replaces_the_failures(eval_data, chat_server, tmp_path):
    script_server(chat_server)
    out = tmp_path / "run"
    options = dict(model="stand-model", base_url=chat_server.base_url, figures=False, **FAST)
    evaluate(eval_data, "eval", "openai", out, **options)
    chat_server.script = {}
    chat_server.answers[203] = format_answer([[100, 150]], "trend", think="ramp")
    again = evaluate(eval_data, "eval", "openai", out, **options)
    assert again["overall"]["failures"] == 2  # a plain rerun skips recorded rows
    retried = evaluate(eval_data, "eval", "openai", out, retry_failed=True, **options)
    assert retried["overall"]["failures"] == 0
    assert retried["overall"]["aff_f1"] == pytest.approx(5 / 7)
    assert chat_server.attempts[203] == 3 and chat_server.attempts[200] == 1


def test_sampling_n_sends_n_and_scores_every_choice(eval_data, chat_server, tmp_path):
    script_server(chat_server)
    chat_server.script = {}
    metrics = evaluate(
        eval_data,
        "eval",
        "openai",
        tmp_path / "run",
        model="stand-model",
        base_url=chat_server.base_url,
        temperature=0.7,
        n=3,
        seed=5,
        limit=2,
    )
    assert metrics["completions_per_sample"] == 3 and metrics["overall"]["count"] == 6
    assert {b["n"] for b in chat_server.bodies} == {3}
    assert {b["seed"] for b in chat_server.bodies} == {5}


def test_api_key_comes_from_the_named_environment_variable(chat_server, monkeypatch):
    monkeypatch.setenv("MY_KEY", "sekret")
    backend = OpenAIBackend("m", OpenAIOptions(base_url=chat_server.base_url, api_key_env="MY_KEY"))
    assert backend._headers["Authorization"] == "Bearer sekret"
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    plain = OpenAIBackend("m", OpenAIOptions(base_url=chat_server.base_url))
    assert "Authorization" not in plain._headers


def test_chat_messages_turn_the_image_part_into_a_png_data_url():
    from PIL import Image

    messages = chat_messages(build_messages(100), Image.new("RGB", (8, 4)))
    image_part, text_part = messages[0]["content"]
    assert image_part["image_url"]["url"].startswith("data:image/png;base64,iVBOR")
    assert text_part == {"type": "text", "text": build_messages(100)[0]["content"][1]["text"]}
    assert choice_text({"message": {"content": [{"type": "text", "text": "a"}, {"text": "b"}]}})
    assert choice_text({"message": {"content": None}}) == ""


def test_unreachable_server_is_one_line_and_writes_nothing(eval_data, tmp_path, capsys):
    import socket

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    out = tmp_path / "run"
    code = main(
        [
            "eval",
            "--data",
            str(eval_data),
            "--backend",
            "openai",
            "--model",
            "gpt-4o",
            "--base-url",
            f"http://127.0.0.1:{port}/v1",
            "--out",
            str(out),
        ]
    )
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1
    assert "cannot reach the OpenAI-compatible server" in err and "--base-url" in err
    assert not (out / "metrics.json").exists()


def test_rejected_key_and_all_failing_first_batch_are_clear_errors(
    eval_data, chat_server, tmp_path, monkeypatch
):
    chat_server.script = {length: ["500"] * 9 for _, _, length, _ in UNIVARIATE_ROWS}
    with pytest.raises(UserInputError, match="failed on every row of the first batch"):
        evaluate(
            eval_data,
            "eval",
            "openai",
            tmp_path / "run",
            model="m",
            base_url=chat_server.base_url,
            **FAST,
        )
    assert not (tmp_path / "run" / "metrics.json").exists()
    assert not (tmp_path / "run" / "predictions.jsonl").exists()
    chat_server.required_key = "right"
    monkeypatch.setenv("OPENAI_API_KEY", "wrong")
    with pytest.raises(UserInputError, match=r"rejected the API key \(HTTP 401\).*OPENAI_API_KEY"):
        OpenAIBackend("m", OpenAIOptions(base_url=chat_server.base_url))


def test_evaluate_accepts_a_dataset_object_and_honours_retry_after(
    eval_data, chat_server, tmp_path
):
    import datasets

    dataset = datasets.load_dataset(str(eval_data), split="eval")
    chat_server.answers = {200: format_answer([[60, 61]], "global point", think="spike")}
    chat_server.script = {200: ["429", "429"]}
    metrics = evaluate(
        dataset,
        backend="openai",
        out=tmp_path / "run",
        model="m",
        base_url=chat_server.base_url,
        backoff=30.0,  # Retry-After: 0 overrides the backoff, so this stays fast
        limit=1,
        figures=False,
    )
    assert metrics["overall"]["aff_f1"] == 1.0 and chat_server.attempts[200] == 3
    assert metrics["run"]["data"].startswith("<datasets.Dataset")
