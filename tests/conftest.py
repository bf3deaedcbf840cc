"""Test setup: one CPU thread, no hub, private matplotlib and datasets caches, one tiny model
per run."""

import os
import tempfile

os.environ["OMP_NUM_THREADS"] = "1"
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"
os.environ.setdefault("MPLCONFIGDIR", tempfile.mkdtemp(prefix="anomseer-mpl-"))
os.environ.setdefault("HF_DATASETS_CACHE", tempfile.mkdtemp(prefix="anomseer-datasets-"))

import pytest
from helpers.browser import chromium, page  # noqa: F401 (the browser fixtures)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory):
    """The offline tiny Qwen2.5-VL, built once per test session."""
    from anomseer.modeling import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("models") / "tiny")


@pytest.fixture(scope="session")
def expert_ready():
    """STUMPY's matrix profile compiled once per test session (numba also caches it on disk);
    torch keeps one thread (numba's OpenMP layer raises it to every core)."""
    import torch

    from data_gen.expert.panel import warm_up

    warm_up()
    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def tiny_eval_data(tmp_path_factory: pytest.TempPathFactory, expert_ready):
    """The eval split of the 'tiny' preset, two series per family (10 rows in 2 shards)."""
    from helpers.dataset_files import generate_tiny

    return generate_tiny(tmp_path_factory.mktemp("tiny-eval-data"), "eval", num_per_family=2)


@pytest.fixture(scope="session")
def tiny_train_data(tmp_path_factory: pytest.TempPathFactory, expert_ready):
    """The train split of the 'tiny' preset, two series per family (10 rows)."""
    from helpers.dataset_files import generate_tiny

    return generate_tiny(tmp_path_factory.mktemp("tiny-train-data"), "train", num_per_family=2)
