"""Write a dataset split as Hugging Face parquet shards, atomically and resumably.

Layout: ``DIR/data/<split>-<i>-of-<n>.parquet`` (five-digit numbers), a dataset card
``DIR/README.md`` whose YAML header lists the splits (so ``datasets.load_dataset(DIR,
split=...)`` works for any split name), and ``DIR/anomseer-dataset.json``, the record of what
each split was built from. Each shard is written to a hidden temporary file in the same folder
and renamed into place (``anomseer.atomic_files``), so a shard file is either complete or
absent. A rerun skips finished shards; rows must be a pure function of their indices, so a run
killed midway and restarted yields the same bytes as an uninterrupted one. A folder holding a
split built from a different recipe is refused rather than mixed.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from anomseer.atomic_files import atomic_open
from anomseer.columns import COLUMNS
from anomseer.errors import UserInputError, first_line

MANIFEST = "anomseer-dataset.json"
CARD = "README.md"
ROW_GROUP_SIZE = 100
"""Rows per parquet row group (what ``datasets`` uses for image datasets)."""


@dataclass(frozen=True)
class ShardPlan:
    """``num_rows`` rows of ``split`` cut into shards of ``rows_per_shard`` (the last may be
    shorter)."""

    split: str
    num_rows: int
    rows_per_shard: int

    def __post_init__(self) -> None:
        if not self.split.replace("_", "").isalnum():
            raise UserInputError(f"split name {self.split!r} must be letters, digits and '_'")
        if self.num_rows < 1 or self.rows_per_shard < 1:
            raise UserInputError(
                f"split {self.split!r}: rows ({self.num_rows}) and rows per shard "
                f"({self.rows_per_shard}) must be positive"
            )

    @property
    def num_shards(self) -> int:
        return -(-self.num_rows // self.rows_per_shard)

    def rows(self, shard: int) -> range:
        """Row indices of one shard."""
        start = shard * self.rows_per_shard
        return range(start, min(start + self.rows_per_shard, self.num_rows))

    def file_name(self, shard: int) -> str:
        return f"{self.split}-{shard:05d}-of-{self.num_shards:05d}.parquet"


@dataclass(frozen=True)
class SplitSummary:
    """What a finished split holds: rows per family and per anomaly type."""

    split: str
    num_rows: int
    num_shards: int
    families: dict[str, int]
    anomaly_types: dict[str, int]


def write_split(
    out_dir: str | os.PathLike,
    plan: ShardPlan,
    make_rows: Callable[[range], list[dict]],
    features,
    recipe: Mapping,
    *,
    title: str,
    description: str = "",
    workers: int = 1,
    initializer: Callable[[], None] | None = None,
    progress: bool = True,
) -> SplitSummary:
    """Write the shards of ``plan`` that are missing, then the manifest and the card.

    ``make_rows(indices)`` returns the rows of those indices (a picklable, top-level callable
    when ``workers > 1``: shards are built in that many spawned processes, each running
    ``initializer`` first). ``features`` is the ``datasets.Features`` of a row. ``recipe`` is
    a JSON-able description of everything the rows depend on: a folder whose split was built
    from another recipe is refused with a ``UserInputError``. ``title`` and ``description``
    head the dataset card.
    """
    from tqdm.auto import tqdm

    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise UserInputError(f"the output {out} is a file; give a folder for the dataset")
    data = out / "data"
    data.mkdir(parents=True, exist_ok=True)
    manifest = _read_manifest(out)
    entry = {
        "recipe": json.loads(json.dumps(recipe)),
        "num_rows": plan.num_rows,
        "rows_per_shard": plan.rows_per_shard,
        "num_shards": plan.num_shards,
    }
    _check_compatible(out, plan, manifest, entry)
    _remove_stale_temporaries(data, plan.split)
    manifest.setdefault("splits", {})[plan.split] = {
        **manifest.get("splits", {}).get(plan.split, {}),
        **entry,
    }
    _write_text(out / MANIFEST, json.dumps(manifest, indent=2, sort_keys=True) + "\n")

    pending = [i for i in range(plan.num_shards) if not _whole_shard(data, plan, i)]
    if pending:  # until the split is whole, the card keys no cache that later rows could hit
        _write_text(out / CARD, _card(title, description, manifest, f"writing {time.time_ns()}"))
    done_rows = plan.num_rows - sum(len(plan.rows(i)) for i in pending)
    bar = tqdm(
        total=plan.num_rows, initial=done_rows, unit="row", desc=plan.split, disable=not progress
    )
    tasks = [(data / plan.file_name(i), plan.rows(i)) for i in pending]
    with bar:
        if workers <= 1 or len(tasks) <= 1:
            if initializer is not None:
                initializer()
            for path, rows in tasks:
                bar.update(_write_shard(path, rows, make_rows, features))
        else:
            import multiprocessing

            context = multiprocessing.get_context("spawn")
            jobs = [(path, rows, make_rows, features) for path, rows in tasks]
            with context.Pool(min(workers, len(tasks)), initializer=initializer) as pool:
                for count in pool.imap_unordered(_write_shard_job, jobs):
                    bar.update(count)

    summary = _summarize(data, plan)
    manifest["splits"][plan.split].update(
        families=summary.families, anomaly_types=summary.anomaly_types, complete=True
    )
    _write_text(out / MANIFEST, json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    _write_text(out / CARD, _card(title, description, manifest, _shards_digest(data)))
    return summary


def _write_shard_job(job: tuple) -> int:
    return _write_shard(*job)


def _write_shard(path: Path, rows: range, make_rows: Callable, features) -> int:
    """Build one shard's rows and write them atomically; returns the number of rows. The
    Arrow table of ``datasets`` carries the features in its schema metadata, so the file loads
    back with the same features (the image column as ``Image``)."""
    import pyarrow.parquet as pq
    from datasets import Dataset

    table = Dataset.from_list(make_rows(rows), features=features).data.table
    with atomic_open(path, "wb") as stream:
        pq.write_table(table, stream, row_group_size=ROW_GROUP_SIZE)
    return len(rows)


def shard_problem(path: Path, num_rows: int | None = None) -> str | None:
    """Why the parquet shard ``path`` is damaged (unreadable footer, e.g. a truncated file, or
    not ``num_rows`` rows), or None when it is whole. Reads the footer only."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        rows = pq.ParquetFile(path).metadata.num_rows
    except (OSError, pa.ArrowException) as error:
        return first_line(error)
    if num_rows is not None and rows != num_rows:
        return f"{rows} rows instead of {num_rows}"
    return None


def check_shards(folder: str | os.PathLike) -> None:
    """Refuse a dataset folder with a damaged shard in ``data/``, naming it and the fix."""
    for path in sorted(Path(folder).glob("data/*.parquet")):
        problem = shard_problem(path)
        if problem:
            raise UserInputError(
                f"dataset shard {path} is damaged ({problem}); rerun the 'anomseer gen' or "
                "'anomseer convert' command that wrote it to rebuild it, or delete it"
            )


def _whole_shard(data: Path, plan: ShardPlan, shard: int) -> bool:
    """Whether shard ``shard`` exists and is whole; a damaged one is removed to be rebuilt."""
    import sys

    path = data / plan.file_name(shard)
    if not path.exists():
        return False
    problem = shard_problem(path, len(plan.rows(shard)))
    if problem:
        print(f"rebuilding damaged shard {path} ({problem})", file=sys.stderr)
        path.unlink()
    return problem is None


def _read_manifest(out: Path) -> dict:
    path = out / MANIFEST
    if not path.exists():
        return {}
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise UserInputError(
            f"{path} is unreadable ({error}); remove it or write to another folder"
        ) from None
    if not isinstance(manifest, dict):
        raise UserInputError(f"{path} is not an anomseer dataset record; write to another folder")
    return manifest


def _check_compatible(out: Path, plan: ShardPlan, manifest: dict, entry: dict) -> None:
    """Refuse to mix: shards of this split must come from the same recipe and plan. A split
    recorded with another recipe but without any shard left is simply rebuilt."""
    existing = sorted(p.name for p in (out / "data").glob(f"{plan.split}-*.parquet"))
    previous = manifest.get("splits", {}).get(plan.split)
    if not existing:
        return
    if previous is None:
        raise UserInputError(
            f"{out}/data holds {plan.split} shards that anomseer did not record "
            f"({existing[0]}, ...); write to another folder or remove them"
        )
    changed = _differences(previous, entry)
    if changed:
        recipe = previous.get("recipe", {})
        built = ", ".join(f"{k} {recipe[k]!r}" for k in ("preset", "seed") if k in recipe)
        raise UserInputError(
            f"{out} already holds split {plan.split!r} built with a different "
            f"{', '.join(changed)} ({built or 'another recipe'}); write to another folder, or "
            f"delete {out}/data/{plan.split}-* to rebuild it"
        )
    expected = {plan.file_name(i) for i in range(plan.num_shards)}
    foreign = [name for name in existing if name not in expected]
    if foreign:
        raise UserInputError(f"{out}/data holds unexpected shard {foreign[0]}; remove it")


def _differences(previous: Mapping, entry: Mapping) -> list[str]:
    """Names of what differs between a recorded split and the one asked for."""
    before, after = previous.get("recipe", {}), entry["recipe"]
    changed = [k for k in sorted(set(before) | set(after)) if before.get(k) != after.get(k)]
    changed += [k for k in ("num_rows", "rows_per_shard") if previous.get(k) != entry[k]]
    return changed


def _remove_stale_temporaries(data: Path, split: str) -> None:
    """Temporary files left by a killed run (each run writes its own, so none is in use)."""
    for path in data.glob(f".{split}-*.tmp"):
        path.unlink(missing_ok=True)


def _summarize(data: Path, plan: ShardPlan) -> SplitSummary:
    import pyarrow.parquet as pq

    families: Counter = Counter()
    types: Counter = Counter()
    for shard in range(plan.num_shards):
        table = pq.read_table(data / plan.file_name(shard), columns=["family", "anomaly_type"])
        families.update(table.column("family").to_pylist())
        types.update(table.column("anomaly_type").to_pylist())
    return SplitSummary(
        plan.split,
        plan.num_rows,
        plan.num_shards,
        dict(sorted(families.items())),
        dict(sorted(types.items())),
    )


def _shards_digest(data: Path) -> str:
    """sha256 over the name and bytes of every shard in ``data``."""
    digest = hashlib.sha256()
    for path in sorted(data.glob("*.parquet")):
        digest.update(f"\0{path.name}\0".encode())
        with path.open("rb") as stream:
            while chunk := stream.read(1 << 20):
                digest.update(chunk)
    return f"shards sha256 {digest.hexdigest()}"


def _card(title: str, description: str, manifest: dict, cache_key: str) -> str:
    """The dataset card. Its YAML config description is ``cache_key`` (the shards' digest):
    ``datasets`` keys a folder's Arrow cache to the folder name and this header, so the digest
    is what keeps ``load_dataset(folder)`` from returning the rows of an earlier build or of
    another folder with the same name."""
    splits = manifest.get("splits", {})
    lines = ["---", "configs:", "- config_name: default", f"  description: {cache_key}"]
    lines.append("  data_files:")
    for split in sorted(splits):
        lines += [f"  - split: {split}", f"    path: data/{split}-*"]
    lines += ["---", "", f"# {title}", ""]
    if description:
        lines += [description.strip(), ""]
    for split in sorted(splits):
        entry = splits[split]
        lines += [f"## Split `{split}`", ""]
        recipe = entry.get("recipe", {})
        lines += [
            f"- {key}: `{json.dumps(value, sort_keys=True)}`" for key, value in _card_facts(recipe)
        ]
        lines += [f"- rows: {entry.get('num_rows')} in {entry.get('num_shards')} shards", ""]
        lines += _count_table("family", entry.get("families", {}))
        lines += _count_table("anomaly type", entry.get("anomaly_types", {}))
    lines += [
        'Load with `datasets.load_dataset("<this folder>", split="<split>")`. Columns: '
        f"{', '.join(COLUMNS)}. Images are label-free plots; `completion` holds the expert "
        "chain of thought and the truth. The YAML `description` is a digest of the shards: it "
        "keys `datasets`' cache to them, so a rebuilt folder, or another folder of the same "
        "name, never loads stale rows (anomseer's own loader keys the cache to the files "
        "themselves).",
        "",
    ]
    return "\n".join(lines)


def _card_facts(recipe: Mapping) -> Sequence[tuple[str, object]]:
    """Recipe entries for the card, sorted, the long ``families`` entry last."""
    return sorted(recipe.items(), key=lambda item: (item[0] == "families", item[0]))


def _count_table(what: str, counts: Mapping[str, int]) -> list[str]:
    if not counts:
        return []
    rows = [f"| {what} | rows |", "|---|---|"]
    rows += [f"| {name} | {count} |" for name, count in counts.items()]
    return [*rows, ""]


def _write_text(path: Path, text: str) -> None:
    with atomic_open(path, "w") as stream:
        stream.write(text)
