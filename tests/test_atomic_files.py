"""Atomic outputs: a target is whole or untouched, and no temporary file is left behind."""

import os

import pytest

from anomseer.atomic_files import atomic_folder, atomic_open, write_atomic


def test_write_atomic_replaces_the_file_with_ordinary_permissions(tmp_path):
    target = tmp_path / "metrics.json"
    target.write_text("old")
    write_atomic(target, "néw\n")
    assert target.read_bytes() == "néw\n".encode()
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask
    assert os.listdir(tmp_path) == ["metrics.json"]


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "shard.parquet"
    target.write_bytes(b"complete")
    with pytest.raises(RuntimeError), atomic_open(target, "wb") as stream:
        stream.write(b"half")
        raise RuntimeError("killed")
    assert target.read_bytes() == b"complete"
    assert os.listdir(tmp_path) == ["shard.parquet"]


def test_atomic_folder_appears_whole_or_not_at_all(tmp_path):
    target = tmp_path / "nested" / "model"
    with pytest.raises(RuntimeError), atomic_folder(target) as folder:
        (folder / "config.json").write_text("{}")
        raise RuntimeError("killed")
    assert not target.exists() and os.listdir(tmp_path / "nested") == []
    target.mkdir()  # an empty folder made beforehand is replaced
    with atomic_folder(target) as folder:
        (folder / "config.json").write_text("{}")
    assert os.listdir(target) == ["config.json"]
    assert os.listdir(tmp_path / "nested") == ["model"]


def test_atomic_folder_does_not_replace_a_folder_with_files(tmp_path):
    target = tmp_path / "model"
    target.mkdir()
    (target / "weights").write_text("keep")
    with pytest.raises(OSError), atomic_folder(target) as folder:
        (folder / "config.json").write_text("{}")
    assert os.listdir(target) == ["weights"]
    assert os.listdir(tmp_path) == ["model"]
