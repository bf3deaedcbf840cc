"""Fixtures of the evaluation tests (data and server helpers live in helpers/eval_fixtures.py)."""

import threading
from pathlib import Path

import pytest
from helpers.dataset_files import save_rows
from helpers.eval_fixtures import ChatServer, multivariate_rows, univariate_rows


@pytest.fixture(scope="session")
def eval_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A univariate eval split: one row per anomaly type, a normal row and an irregular row."""
    return save_rows(tmp_path_factory.mktemp("eval-data"), univariate_rows())


@pytest.fixture(scope="session")
def multivariate_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_rows(tmp_path_factory.mktemp("multi-data"), multivariate_rows(), multivariate=True)


@pytest.fixture
def chat_server():
    server = ChatServer()
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
