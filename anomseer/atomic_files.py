"""Atomic outputs: a file or a folder is written under a hidden temporary name next to its
target and renamed into place, so the target is whole or absent, never half-written.

Standard library only, so every layer (``data_gen`` included) may use it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO


@contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "wb") -> Iterator[IO]:
    """A stream (``mode`` ``"wb"`` or ``"w"``, UTF-8) on a hidden temporary sibling of ``path``,
    synced and renamed onto ``path`` when the block ends without error, removed otherwise. The
    file gets the permissions of any new file (0666 minus the umask)."""
    path = Path(path)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as stream:
            yield stream
            stream.flush()
            os.fsync(stream.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_atomic(path: str | os.PathLike, data: bytes | str) -> None:
    """Write ``data`` (text as UTF-8) to ``path`` through :func:`atomic_open`."""
    with atomic_open(path, "wb") as stream:
        stream.write(data.encode("utf-8") if isinstance(data, str) else data)


@contextmanager
def atomic_folder(path: str | os.PathLike) -> Iterator[Path]:
    """A hidden temporary sibling folder of ``path`` to fill; renamed onto ``path`` (which may be
    an empty folder made beforehand) when the block ends without error, removed otherwise.
    Missing parent folders are made."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}-")
    try:
        yield Path(temporary)
        if target.exists():
            target.rmdir()
        os.replace(temporary, target)
    finally:
        shutil.rmtree(temporary, ignore_errors=True)
