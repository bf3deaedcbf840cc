"""A wheel built from the repository, installed into a fresh venv, runs gen and a reduced demo
from another folder: presets, recipes and accelerate configs ship inside the package.

The venv gets the wheel alone (``--no-deps``, offline); its dependencies are those of the
project's .venv, made visible through a ``.pth`` line (not an install of the project: the
project's own editable hook is not read), so the test needs no network and takes seconds.
"""

import os
import shutil
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import pytest
from helpers.cli_run import anomseer, assert_one_line_error

ROOT = Path(__file__).resolve().parents[1]


def _uv() -> list[str] | None:
    """The uv command line, as the Makefile finds it."""
    if shutil.which("uv"):
        return [shutil.which("uv")]
    python3 = shutil.which("python3")
    if (
        python3
        and subprocess.run([python3, "-m", "uv", "--version"], capture_output=True).returncode == 0
    ):
        return [python3, "-m", "uv"]
    return None


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(the venv's ``anomseer`` script, seconds to build and install the wheel)."""
    uv = _uv()
    if uv is None:
        pytest.skip("uv is not installed (make test installs it)")
    base = tmp_path_factory.mktemp("wheel")
    start = time.perf_counter()
    env = dict(os.environ, UV_OFFLINE="1")

    def run(*args: str) -> None:
        subprocess.run([*uv, *args], cwd=ROOT, check=True, capture_output=True, env=env)

    run("build", "--wheel", "--out-dir", str(base / "dist"))
    run("venv", "--quiet", "--python", sys.executable, str(base / "venv"))
    python = base / "venv" / "bin" / "python"
    purelib = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    Path(purelib, "project-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    (wheel,) = (base / "dist").glob("anomseer-*.whl")
    run("pip", "install", "--quiet", "--no-deps", "--python", str(python), str(wheel))
    return base / "venv" / "bin" / "anomseer", time.perf_counter() - start


@pytest.mark.slow
def test_installed_wheel_runs_gen_and_demo_from_another_folder(installed, tmp_path):
    script, seconds = installed
    print(f"wheel built and installed in {seconds:.1f} s")
    python = script.with_name("python")
    where = subprocess.run(
        [python, "-c", "import anomseer.recipes as r; print(r.recipes_dir())"],
        cwd=tmp_path, check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    assert Path(where).is_relative_to(script.parent.parent), where
    assert (Path(where) / "accelerate" / "zero3.yaml").is_file()

    gen = anomseer("gen", "--preset", "tiny", "--split", "eval", "--num-per-family", "1",
                   "--out", "data", "--no-progress", cwd=tmp_path, prefix=(script,))  # fmt: skip
    assert gen.returncode == 0, gen.stderr[-3000:]
    assert len(list((tmp_path / "data" / "data").glob("eval-*.parquet"))) == 1

    shipped = anomseer("sft", "--config", "tiny-cpu/sft/config_default.yaml", "--max_stepz", "1",
                       cwd=tmp_path, prefix=(script,))  # fmt: skip
    assert_one_line_error(shipped, "did you mean '--max_steps'?")

    demo = anomseer("demo", "--out", "demo", "--size", "ci", "--train-per-family", "1",
                    "--eval-per-family", "1", "--sft-steps", "1", "--timerpo-steps", "1",
                    "--max-new-tokens", "4",
                    cwd=tmp_path, prefix=(script,), timeout=1200)  # fmt: skip
    assert demo.returncode == 0, demo.stderr[-3000:]
    assert (tmp_path / "demo" / "report.md").is_file()
    assert (tmp_path / "demo" / "sft" / "training_curves.png").is_file()
