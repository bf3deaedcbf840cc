import subprocess
import sys

from anomseer.cli import COMMAND_MODULES, main


def test_help_lists_every_command_without_heavy_imports():
    code = (
        "import sys; from anomseer.cli import build_parser; build_parser();"
        "heavy = {'torch', 'transformers', 'trl', 'matplotlib', 'datasets'} & set(sys.modules);"
        "print(sorted(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    help_text = subprocess.run(
        [sys.executable, "-m", "anomseer.cli", "--help"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert len(COMMAND_MODULES) >= 2
    assert "demo" in help_text and "tiny-model" in help_text


def test_demo_answers_one_plot(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path), "--max-new-tokens", "4"]) == 0
    out = capsys.readouterr().out
    assert "parsed:" in out and "random weights" in out
    assert (tmp_path / "plot.png").is_file()


def test_bad_model_path_is_one_line(tmp_path, capsys):
    from anomseer.commands import demo  # noqa: F401

    code = main(["tiny-model", str(tmp_path / "m")])
    assert code == 0 and (tmp_path / "m" / "config.json").is_file()
