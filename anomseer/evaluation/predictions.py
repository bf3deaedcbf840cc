"""``predictions.jsonl``: the resumable record of an evaluation run.

One JSON line per completion (``id``, ``sample`` index, raw ``output`` or ``error``, parsed
``answer``, ``scores``). Each batch is appended with one ``O_APPEND`` write followed by fsync,
so a run killed midway leaves complete lines and at most one torn last line; opening the log
drops that line (rewriting the file atomically) and the rerun answers those rows again.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path

from anomseer.atomic_files import write_atomic

PREDICTIONS_FILE = "predictions.jsonl"


class PredictionLog:
    """The records of a run so far, and atomic appends of new ones."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self.records: list[dict] = []
        if self.path.is_file():
            self.records = self._load()

    def _load(self) -> list[dict]:
        """Complete records in file order; a torn tail is cut off the file."""
        data = self.path.read_bytes()
        records, kept = [], 0
        for line in data.splitlines(keepends=True):
            if not line.endswith(b"\n"):
                break
            try:
                record = json.loads(line)
            except ValueError:
                break
            if not isinstance(record, dict) or "id" not in record:
                break
            records.append(record)
            kept += len(line)
        if kept < len(data):
            write_atomic(self.path, data[:kept])
        return records

    def append(self, records: Iterable[dict]) -> None:
        """Append records as complete lines (one write, then fsync)."""
        records = list(records)
        lines = [json.dumps(record, allow_nan=False) + "\n" for record in records]
        if not lines:
            return
        data = memoryview("".join(lines).encode("utf-8"))
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            while data:
                data = data[os.write(fd, data) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        self.records.extend(records)

    def latest(self) -> dict[tuple[str, int], dict]:
        """The last record of each (id, sample): a retried failure is replaced by its retry."""
        return {(record["id"], record.get("sample", 0)): record for record in self.records}
