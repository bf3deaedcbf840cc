"""Convert a benchmark into AnomSeer dataset rows: read, window, label, render, shard.

:func:`scan` reads every file once and plans the windows (which file, series and offset each
row comes from); :func:`write_dataset` builds the rows with ``data_gen.rows.build_row`` and
writes them with ``data_gen.dataset_writer.write_split``, like ``anomseer gen``. Rows read
their file again when they are built (one file cached per process), so shards can be built by
worker processes and a rerun rebuilds identical bytes. Every row carries ``source_file``,
``source_index`` (the series within that file), ``offset`` (where its window starts in that
series) and ``type_source`` (``source`` or ``expert``, see ``data_gen.benchmarks.expert_label``).
"""

from __future__ import annotations

import csv
import dataclasses
import functools
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from anomseer.columns import converted_features
from anomseer.errors import UserInputError
from anomseer.intervals import clip_intervals
from anomseer.protocol import NORMAL_LABEL
from data_gen.benchmarks import FORMATS, PICKLED_FORMATS, UNTYPED_FORMATS, reader
from data_gen.benchmarks.source import ReadOptions, SourceError, SourceSeries, read_csv_columns
from data_gen.benchmarks.ucr import INDEX_CONVENTIONS
from data_gen.benchmarks.windows import (
    anomaly_aware_windows,
    context_points,
    keep_normal,
    scale_window,
    window_offsets,
)
from data_gen.dataset_writer import ShardPlan, SplitSummary, write_split
from data_gen.expert.panel import MIN_DISCORD_WINDOW, Thresholds
from data_gen.render import PAPER_STYLE, REAL_DATA_STYLE, VISUALTIMEANOMALY_STYLE

MIN_WINDOW = 4 * MIN_DISCORD_WINDOW
"""Shortest window the expert panel analyses."""
CONVERTER_VERSION = 2
"""Bumped whenever converted rows change for the same input and options (recorded per split)."""
STYLES = {
    "paper": PAPER_STYLE,
    "real": REAL_DATA_STYLE,
    "visualtimeanomaly": VISUALTIMEANOMALY_STYLE,
}
SCALES = ("minmax", "none")
WINDOWINGS = ("anomaly-aware", "grid")
THRESHOLD_NAMES = tuple(field.name for field in dataclasses.fields(Thresholds))
TRAIN_SPLIT = "train"
"""The split that takes a source's published train part; every other split starts after it."""
@dataclass(frozen=True)
class ConvertOptions:
    """What a conversion does. ``windowing`` None is anomaly-aware unless a ``stride`` asks for
    the grid (``stride`` None means the window: no overlap); ``normal_ratio`` None keeps every
    anomaly-free window; ``scale`` and ``style`` None pick the format's default (real series
    are min-max scaled to [-1, 1] and drawn in the paper style with a y-margin; pickled layouts
    keep their values, VisualTimeAnomaly in its own style); ``file_list`` is a CSV whose
    ``file_name`` column (TSB-AD's ``File_List/*-Eva.csv``, ``*-Tuning.csv``) selects files."""

    format: str
    split: str = "eval"
    window: int = 1000
    stride: int | None = None
    normal_ratio: float | None = None
    seed: int = 0
    ucr_index: str = "0-half-open"
    scale: str | None = None
    style: str | None = None
    windowing: str | None = None
    file_list: str | None = None

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise UserInputError(f"unknown format {self.format!r}; use {', '.join(FORMATS)}")
        if self.window < MIN_WINDOW:
            raise UserInputError(f"window must be at least {MIN_WINDOW} points, got {self.window}")
        if self.stride is not None and self.stride < 1:
            raise UserInputError(f"stride must be positive, got {self.stride}")
        if self.normal_ratio is not None and not 0.0 <= self.normal_ratio < 1.0:
            raise UserInputError(
                f"normal_ratio must be in [0, 1), got {self.normal_ratio}; leave it unset to "
                "keep every window"
            )
        if self.seed < 0:
            raise UserInputError(f"seed must be non-negative, got {self.seed}")
        if self.ucr_index not in INDEX_CONVENTIONS:
            raise UserInputError(
                f"unknown ucr_index {self.ucr_index!r}; use {', '.join(INDEX_CONVENTIONS)}"
            )
        if self.scale is not None and self.scale not in SCALES:
            raise UserInputError(f"unknown scale {self.scale!r}; use {', '.join(SCALES)}")
        if self.style is not None and self.style not in STYLES:
            raise UserInputError(f"unknown style {self.style!r}; use {', '.join(STYLES)}")
        if self.windowing is not None and self.windowing not in WINDOWINGS:
            raise UserInputError(
                f"unknown windowing {self.windowing!r}; use {', '.join(WINDOWINGS)}"
            )
        if self.stride is not None and self.windowing == "anomaly-aware":
            raise UserInputError(
                "a stride places windows on a grid; leave it unset or choose windowing 'grid'"
            )

    @property
    def effective_windowing(self) -> str:
        if self.windowing is not None:
            return self.windowing
        return "grid" if self.stride is not None else "anomaly-aware"

    @property
    def effective_stride(self) -> int:
        return self.window if self.stride is None else self.stride

    @property
    def effective_scale(self) -> str:
        if self.scale is not None:
            return self.scale
        return "none" if self.format in PICKLED_FORMATS else "minmax"

    @property
    def effective_style(self) -> str:
        if self.style is not None:
            return self.style
        if self.format == "visualtimeanomaly":
            return "visualtimeanomaly"
        return "real" if self.effective_scale == "minmax" else "paper"

    @property
    def read_options(self) -> ReadOptions:
        return ReadOptions(split=self.split, ucr_index=self.ucr_index)


@dataclass(frozen=True)
class BadFile:
    """A file left out, with the reason."""

    path: str
    reason: str


@dataclass(frozen=True)
class WindowRef:
    """One row: ``[offset, offset + length)`` of series ``series`` of file ``file``."""

    file: int
    series: int
    offset: int
    length: int


@dataclass(frozen=True)
class Inventory:
    """What :func:`scan` found: the readable files (relative to ``root``), the windows that
    become rows, the files left out, and the counts the dataset card reports."""

    options: ConvertOptions
    input: Path
    root: Path
    files: tuple[str, ...]
    windows: tuple[WindowRef, ...]
    bad_files: tuple[BadFile, ...]
    multivariate: bool
    series: int
    anomalous_windows: int
    normal_windows: int
    normal_kept: int
    not_listed: tuple[str, ...] = ()
    """Names in ``options.file_list`` with no file under the input."""
    short_series: int = 0
    """Series whose part for this split is too short for a plot (left out)."""
    irregular: tuple[str, ...] = ()
    """Files whose timestamps have gaps or repeats (``SourceSeries.time_gaps``)."""


def scan(
    input_path: str | os.PathLike, options: ConvertOptions, progress: bool = True
) -> Inventory:
    """Read every file of ``input_path`` (a file or a folder in the format's layout) and plan
    the windows. Unreadable files are collected in ``bad_files`` rather than raised; a missing
    input, or one holding no file of the format, raises ``UserInputError``."""
    from tqdm.auto import tqdm

    module = reader(options.format)
    given = Path(input_path).expanduser()
    if not given.exists():
        raise UserInputError(f"the input {given} does not exist")
    given = given.resolve()
    if given.is_dir():
        root, paths = given, module.find(given, options.read_options)
        if not paths:
            raise UserInputError(_nothing_found(given, options))
        paths, not_listed = _listed(paths, options.file_list)
    elif module.FILE_DEPTH is None:
        raise UserInputError(
            f"the input for {options.format} must be a folder in its layout, not the file {given}"
        )
    else:
        root, paths = given.parents[min(module.FILE_DEPTH, len(given.parents)) - 1], [given]
        paths, not_listed = _listed(paths, options.file_list)

    files: list[str] = []
    bad: list[BadFile] = []
    anomalous: list[WindowRef] = []
    normal: list[WindowRef] = []
    multivariate: bool | None = None
    series_count = short = 0
    irregular: list[str] = []
    for path in tqdm(paths, desc="reading", unit="file", disable=not progress):
        name = path.relative_to(root).as_posix()
        try:
            found = _checked(module.read(path, root, options.read_options), multivariate)
            multivariate = found[0].multivariate if found else multivariate
        except (SourceError, OSError, UnicodeDecodeError, csv.Error) as error:
            bad.append(BadFile(name, _reason(error)))
            continue
        if not found:
            bad.append(BadFile(name, "it holds no series"))
            continue
        for position, series in enumerate(found):
            placed = split_windows(series, options, (len(files), position))
            short += not placed
            for offset, length in placed:
                ref = WindowRef(len(files), position, offset, length)
                truth = clip_intervals(series.intervals, offset, ref.length)
                (anomalous if truth or series.variates else normal).append(ref)
        files.append(name)
        series_count += len(found)
        if any(series.time_gaps for series in found):
            irregular.append(name)

    kept = keep_normal(len(anomalous), len(normal), options.normal_ratio, options.seed)
    chosen = [normal[i] for i in kept]
    order = sorted(anomalous + chosen, key=lambda r: (r.file, r.series, r.offset))
    return Inventory(
        options=options,
        input=given,
        root=root,
        files=tuple(files),
        windows=tuple(order),
        bad_files=tuple(bad),
        multivariate=bool(multivariate),
        series=series_count,
        anomalous_windows=len(anomalous),
        normal_windows=len(normal),
        normal_kept=len(chosen),
        not_listed=tuple(not_listed),
        short_series=short,
        irregular=tuple(irregular),
    )


def split_part(series: SourceSeries, split: str) -> tuple[int, int]:
    """The part ``[start, stop)`` of a series that ``split`` takes: the published train part
    for ``train`` (the whole series when there is none), else from ``eval_start`` on."""
    if split == TRAIN_SPLIT:
        return 0, series.reference_end or series.length
    return series.eval_start, series.length


def split_windows(
    series: SourceSeries, options: ConvertOptions, key: tuple[int, int]
) -> list[tuple[int, int]]:
    """``(offset, length)`` of the windows of ``series`` in ``options.split`` (``key`` = file
    and series position seed the anomaly-aware placement); none when its part is too short."""
    start, stop = split_part(series, options.split)
    if stop - start < MIN_WINDOW:
        return []
    if options.effective_windowing == "grid":
        length = min(options.window, stop - start)
        steps = window_offsets(stop - start, options.window, options.effective_stride)
        return [(start + step, length) for step in steps]
    rng = np.random.default_rng([options.seed, *key])
    return anomaly_aware_windows(start, stop, options.window, series.intervals, rng, MIN_WINDOW)


def _listed(paths: list[Path], file_list: str | None) -> tuple[list[Path], list[str]]:
    """The paths whose names ``file_list`` names (all without one), and the listed names that
    are missing."""
    if file_list is None:
        return paths, []
    list_path = Path(file_list).expanduser()
    try:
        names = read_csv_columns(list_path, ("file_name",))["file_name"]
    except OSError as error:
        raise UserInputError(f"the file list {list_path} cannot be read ({error})") from None
    except SourceError as error:
        raise UserInputError(
            f"the file list {list_path}: {error}; it must be a CSV with a file_name column like "
            "TSB-AD's File_List/TSB-AD-U-Eva.csv"
        ) from None
    wanted = {name.strip() for name in names}
    kept = [path for path in paths if path.name in wanted]
    if not kept:
        raise UserInputError(
            f"none of the {len(paths)} files found is named in the file list {list_path}; is it "
            "the list of this benchmark?"
        )
    return kept, sorted(wanted - {path.name for path in kept})


def _checked(found: list[SourceSeries], multivariate: bool | None) -> list[SourceSeries]:
    """Refuse series too short to analyse, and a kind (uni/multivariate) other than the
    dataset's (a dataset column holds one kind; the first series sets it)."""
    if multivariate is None and found:
        multivariate = found[0].multivariate
    for series in found:
        if series.length < MIN_WINDOW:
            raise SourceError(
                f"series {series.index} has {series.length} points; a plot needs at least "
                f"{MIN_WINDOW}"
            )
        if multivariate is not None and series.multivariate != multivariate:
            kinds = ("univariate", "multivariate")
            raise SourceError(
                f"series {series.index} is {kinds[series.multivariate]} but the series before "
                f"it are {kinds[multivariate]}; convert each kind into its own dataset"
            )
    return found


def _reason(error: BaseException) -> str:
    if isinstance(error, SourceError):
        return str(error)
    if isinstance(error, UnicodeDecodeError):
        return "it is not UTF-8 text"
    return f"{type(error).__name__}: {error}"


def _nothing_found(root: Path, options: ConvertOptions) -> str:
    if options.format in PICKLED_FORMATS:
        splits = sorted({p.parent.name for p in root.rglob("data.pkl")})
        found = f" (found split folders: {', '.join(splits)})" if splits else ""
        return (
            f"no <type>/{options.split}/data.pkl under {root}{found}; pick the split folder "
            "as the split, or give a data.pkl as the input"
        )
    pattern = reader(options.format).PATTERN
    return f"no {pattern} files under {root}; is {options.format!r} the right format?"


def write_dataset(
    inventory: Inventory,
    out_dir: str | os.PathLike,
    *,
    rows_per_shard: int = 400,
    workers: int = 1,
    progress: bool = True,
) -> SplitSummary:
    """Write the rows of ``inventory`` as split ``options.split`` of the dataset at
    ``out_dir`` (resumable; see ``data_gen.dataset_writer``)."""
    from data_gen.expert.panel import warm_up

    options = inventory.options
    if not inventory.windows:
        raise UserInputError(_no_rows(inventory))
    plan = ShardPlan(options.split, len(inventory.windows), rows_per_shard)
    return write_split(
        Path(out_dir),
        plan,
        inventory_rows(inventory),
        converted_features(inventory.multivariate, THRESHOLD_NAMES),
        recipe(inventory),
        title=f"AnomSeer dataset converted from {FORMATS[options.format]}",
        description=card_description(options),
        workers=workers,
        initializer=warm_up,
        progress=progress,
    )


def _no_rows(inventory: Inventory) -> str:
    if not inventory.files:
        return f"none of the {len(inventory.bad_files)} files could be read (listed above)"
    return (
        f"no window to write: {inventory.normal_windows} anomaly-free windows and no anomalous "
        "one; leave normal_ratio unset to keep the anomaly-free windows"
    )


def recipe(inventory: Inventory) -> dict:
    """Everything the rows depend on, and the counts the card shows."""
    from data_gen.presets import DATA_VERSION

    options = inventory.options
    source = {
        "format": options.format,
        "input": str(inventory.input),
        "files": len(inventory.files),
        "series": inventory.series,
        "irregularly_sampled_files": len(inventory.irregular),
        "bad_files": {bad.path: bad.reason for bad in inventory.bad_files},
    }
    if options.format == "ucr":
        source["ucr_index"] = options.ucr_index
    if options.format in PICKLED_FORMATS:
        source["split_folder"] = options.split
    if options.file_list is not None:
        source["file_list"] = str(Path(options.file_list).expanduser().resolve())
        source["listed_but_missing"] = list(inventory.not_listed)
    return {
        "source": source,
        "split": options.split,
        "windowing": {
            "placement": options.effective_windowing,
            "window": options.window,
            "stride": options.effective_stride if options.effective_windowing == "grid" else None,
            "context": context_points(options.window)
            if options.effective_windowing == "anomaly-aware"
            else None,
            "series_too_short": inventory.short_series,
            "normal_ratio": options.normal_ratio,
            "seed": options.seed,
            "scale": options.effective_scale,
        },
        "windows": {
            "anomalous": inventory.anomalous_windows,
            "anomaly_free": inventory.normal_windows,
            "anomaly_free_kept": inventory.normal_kept,
        },
        "anomaly_types": "expert" if options.format in UNTYPED_FORMATS else "source",
        "style": dataclasses.asdict(STYLES[options.effective_style]),
        "data_version": DATA_VERSION,
        "converter_version": CONVERTER_VERSION,
    }


def card_description(options: ConvertOptions) -> str:
    """The dataset card's text: where rows come from, how windows are placed, which part of
    each series the split takes, how rows map back, what the types mean."""
    scale = (
        "Each window is min-max scaled to [-1, 1] (the `series` column holds the scaled "
        "values; the original ones are in the source file). "
        if options.effective_scale == "minmax"
        else ""
    )
    text = (
        f"Windows of the {FORMATS[options.format]} series, each drawn as a label-free plot "
        f"with the prompt, the truth clipped to the window, the expert chain of thought and "
        f"the SFT completion. {scale}Extra columns map a row back: `source_file` (relative to "
        "the converted folder), `source_index` (the series within that file), `offset` (where "
        "the window starts in that series: an interval [s, e) of the row is [offset + s, "
        "offset + e) there), `type_source`, `expert_thresholds` (the expert baseline's "
        "thresholds, calibrated on that series: data_gen.expert.calibration.calibrate) and "
        "`time_gaps` (irregular timestamps inside the window; empty for sources without "
        "timestamps)."
    )
    text += "\n\n" + _placement_text(options) + " " + _split_text(options)
    if options.format == "nab":
        text += (
            " Plots use the point index as x: where a file's timestamps jump (or repeat), the "
            "row's `time_gaps` lists the point after the jump and the step in typical steps."
        )
    if options.format in UNTYPED_FORMATS:
        text += (
            "\n\nThe source marks where anomalies are but not their type. An anomalous "
            "window's `anomaly_type` is the expert panel's reading of its labelled intervals "
            '(`type_source` = "expert"; data_gen.benchmarks.expert_label), so class accuracy '
            "on these rows measures agreement with that heuristic and is not a meaningful "
            "score; the localisation scores (affiliation and point F1) are. Anomaly-free "
            'windows are `normal` (`type_source` = "source").'
        )
    else:
        text += (
            "\n\nAnomaly types come from the source's family or type folder (`type_source` = "
            '"source"). Its pre-rendered figures were not used (they show the truth).'
        )
    return text


def _placement_text(options: ConvertOptions) -> str:
    if options.effective_windowing == "grid":
        return (
            f"Windows of {options.window} points start every {options.effective_stride} points, "
            "plus one ending at the last point when the grid leaves a tail (it overlaps the one "
            "before, and an anomaly may be cut at a window edge)."
        )
    return (
        f"Windows of {options.window} points never overlap, so no point is scored twice. Each "
        f"anomaly group of at most {options.window - 2 * context_points(options.window)} "
        f"points lies whole inside one window with at least {context_points(options.window)} "
        "normal points on each side where its neighbours leave room (its position drawn with "
        "the seed); longer anomalies span consecutive windows; the normal stretches between "
        "are tiled with whole windows (a remainder shorter than a window is left out)."
    )


def _split_text(options: ConvertOptions) -> str:
    parts = {
        "ucr": "the train part `[0, trainEnd)` named in each file name",
        "nab": "NAB's probationary period (the first 15 % of each file, which the NAB scorer "
        "ignores)",
        "tsb-ad": "the train part `[0, tr)` named in each file name",
        "tsb-ad-m": "the train part `[0, tr)` named in each file name",
    }
    if options.format not in parts:
        return "This source publishes no train part: every split covers whole series."
    if options.split == TRAIN_SPLIT:
        return f"This `{TRAIN_SPLIT}` split holds only {parts[options.format]}."
    if options.format.startswith("tsb-ad"):
        return (
            f"TSB-AD scores whole series, so this split covers them whole; {parts[options.format]}"
            f" is what split `{TRAIN_SPLIT}` holds and what the expert is calibrated on when it "
            "holds a whole window."
        )
    return f"This split leaves out {parts[options.format]}: split `{TRAIN_SPLIT}` holds it."


def inventory_rows(inventory: Inventory) -> Callable[[range], list[dict]]:
    """The rows of ``inventory`` as a function of their indices (a picklable partial of
    :func:`window_rows`, so pool workers can build shards)."""
    options = inventory.options
    return functools.partial(
        window_rows,
        (options.format, inventory.root, inventory.files, options.read_options),
        inventory.windows,
        options.split,
        options.effective_scale,
        options.effective_style,
    )


def window_rows(
    source: tuple[str, Path, tuple[str, ...], ReadOptions],
    windows: tuple[WindowRef, ...],
    split: str,
    scale: str,
    style: str,
    indices: range,
) -> list[dict]:
    """The dataset rows ``indices`` (``source`` = format, root, files, read options)."""
    from data_gen.benchmarks.expert_label import expert_label, expert_variates
    from data_gen.build import renderer_for
    from data_gen.rows import build_row

    format_name, root, files, read_options = source
    renderer = renderer_for(STYLES[style])
    rows = []
    for k in indices:
        ref = windows[k]
        series = read_file(format_name, root, files[ref.file], read_options)[ref.series]
        values = series.values[..., ref.offset : ref.offset + ref.length]
        if scale == "minmax":
            values = scale_window(values)
        intervals = clip_intervals(series.intervals, ref.offset, ref.length)
        variates = series.variates
        if not (intervals or variates):
            label, type_source = NORMAL_LABEL, "source"
        elif series.anomaly_type is None:
            if values.ndim == 2 and not variates:
                variates = expert_variates(values, intervals)
            reading = values[variates[0]] if values.ndim == 2 else values
            label, type_source = expert_label(reading, intervals), "expert"
        else:
            label, type_source = series.anomaly_type, "source"
        thresholds = window_thresholds(source, ref.file, ref.series, ref)
        row = build_row(
            id=f"{format_name}/{series.family}/{split}/{k}",
            family=series.family,
            series=values,
            intervals=intervals,
            variates=variates or None,
            anomaly_type=label,
            renderer=renderer,
            thresholds=thresholds,
        )
        row.update(
            source_file=files[ref.file],
            source_index=series.index,
            offset=ref.offset,
            type_source=type_source,
            expert_thresholds=dataclasses.asdict(thresholds),
            time_gaps=[
                {"index": i - ref.offset, "steps": steps}
                for i, steps in series.time_gaps
                if ref.offset < i < ref.offset + ref.length
            ],
        )
        rows.append(row)
    return rows


def window_thresholds(
    source: tuple[str, Path, tuple[str, ...], ReadOptions], file: int, index: int, ref: WindowRef
) -> Thresholds:
    """The expert's thresholds for window ``ref`` of series ``index`` of file ``file``:
    calibrated on the series' published train part when that holds a whole window, else on
    the rest of the series (``data_gen.expert.calibration.Reference.thresholds`` leaves out
    the reference windows overlapping ``ref``). Pickled layouts (synthetic series) and
    multivariate series keep the defaults."""
    from data_gen.expert.panel import DEFAULT_THRESHOLDS

    if source[0] in PICKLED_FORMATS:
        return DEFAULT_THRESHOLDS
    return series_reference(source, file, index, ref.length).thresholds(
        (ref.offset, ref.offset + ref.length)
    )


@functools.lru_cache(maxsize=8)
def series_reference(
    source: tuple[str, Path, tuple[str, ...], ReadOptions], file: int, index: int, window: int
):
    """``data_gen.expert.calibration.reference_peaks`` of one series (cached: rows of a series
    share it)."""
    from data_gen.expert.calibration import reference_peaks

    format_name, root, files, read_options = source
    series = read_file(format_name, root, files[file], read_options)[index]
    end = series.reference_end if series.reference_end >= window else series.length
    return reference_peaks(series.values[..., :end], window)


@functools.lru_cache(maxsize=2)
def read_file(
    format_name: str, root: Path, name: str, read_options: ReadOptions
) -> list[SourceSeries]:
    """The series of one source file (cached: consecutive rows mostly share a file). A file
    that changed since the scan is a ``UserInputError``."""
    try:
        return reader(format_name).read(root / name, root, read_options)
    except (SourceError, OSError, UnicodeDecodeError, csv.Error) as error:
        raise UserInputError(
            f"{root / name} could not be read again ({_reason(error)}); did it change during "
            "the conversion?"
        ) from None
