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


def test_tiny_model_command_builds_a_loadable_folder(tmp_path, capsys):
    assert main(["tiny-model", str(tmp_path / "m")]) == 0
    assert (tmp_path / "m" / "config.json").is_file()
    assert "ready" in capsys.readouterr().out
