"""Dataset presets: YAML files naming the families, counts, lengths, seeds and plot style.

A preset is ``recipes/data/<name>.yaml`` or any YAML path::

    name: anomllm
    description: AnomLLM-style families, the AnomSeer paper's training set.
    style: paper                 # paper | visualtimeanomaly | a mapping of PlotStyle fields
    expcot: full                 # full | brief (data_gen.expcot.EXPCOT_STYLES)
    rows_per_shard: 400
    splits:
      train: {seed: 3407, num_per_family: 400}
      eval: {seed: 42, num_per_family: 400}
    families:
      range: {}                  # defaults from the SPEC
      noisy-point: {noise_std: 0.1, num_per_family: 200}
      irregular-vta-global: {length: 400, drop_ratio: [0.1, 0.2]}

A family entry may set ``length``, ``num_per_family`` and any parameter of its generator
(``data_gen.synthetic.families.tunable_parameters`` lists them). One preset holds univariate or
multivariate families, not both (a dataset column has one type).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from anomseer.errors import UserInputError
from anomseer.recipes import read_yaml, recipes_dir
from data_gen.expcot import EXPCOT_STYLES
from data_gen.render import PAPER_STYLE, VISUALTIMEANOMALY_STYLE, PlotStyle
from data_gen.synthetic.families import family_of, resolve_parameters

NAMED_STYLES = {"paper": PAPER_STYLE, "visualtimeanomaly": VISUALTIMEANOMALY_STYLE}
DATA_VERSION = 1
"""Bumped whenever generated rows change for the same preset and seed (recorded per split)."""


@dataclass(frozen=True)
class FamilySpec:
    """One family of a preset: its length, resolved generator parameters and optional count."""

    name: str
    length: int
    parameters: dict
    num_per_family: int | None = None


@dataclass(frozen=True)
class SplitSpec:
    """One split of a preset: its default seed and rows per family."""

    seed: int
    num_per_family: int


@dataclass(frozen=True)
class Preset:
    """A named data recipe: plot style, ExpCoT style, shard size, splits and families (all
    univariate or all multivariate)."""

    name: str
    description: str
    style: PlotStyle
    rows_per_shard: int
    splits: dict[str, SplitSpec]
    families: tuple[FamilySpec, ...]
    expcot: str = "full"

    @property
    def multivariate(self) -> bool:
        return family_of(self.families[0].name).multivariate

    def counts(self, split: str, num_per_family: int | None = None) -> dict[str, int]:
        """Rows per family in ``split``; ``num_per_family`` overrides every family's count."""
        spec = self.split(split)
        if num_per_family is not None:
            if num_per_family < 1:
                raise UserInputError(f"num_per_family must be positive, got {num_per_family}")
            return {f.name: num_per_family for f in self.families}
        return {f.name: f.num_per_family or spec.num_per_family for f in self.families}

    def split(self, split: str) -> SplitSpec:
        if split not in self.splits:
            raise UserInputError(
                f"preset {self.name!r} has no split {split!r}; it has: {', '.join(self.splits)}"
            )
        return self.splits[split]

    def family(self, name: str) -> FamilySpec:
        return next(f for f in self.families if f.name == name)

    def recipe(self, split: str, seed: int, counts: dict[str, int]) -> dict:
        """Everything the rows of a split depend on (recorded with the shards)."""
        return {
            "preset": self.name,
            "split": split,
            "seed": seed,
            "data_version": DATA_VERSION,
            "style": dataclasses.asdict(self.style),
            "expcot": self.expcot,
            "families": {
                f.name: {"count": counts[f.name], "length": f.length, **f.parameters}
                for f in self.families
            },
        }


def preset_dir() -> Path:
    """The folder of the shipped presets (``recipes/data``, inside the package when installed)."""
    return recipes_dir() / "data"


def available_presets() -> list[str]:
    return sorted(p.stem for p in preset_dir().glob("*.yaml"))


def load_preset(name_or_path: str) -> Preset:
    """A preset by name (``recipes/data/<name>.yaml``) or YAML path; ``UserInputError`` names
    the problem for an unknown preset, a missing or unreadable file, or a bad field."""
    path = Path(name_or_path)
    if not path.is_file():
        if path.suffix in (".yaml", ".yml") or len(path.parts) > 1:
            raise UserInputError(
                f"preset file {name_or_path!r} does not exist; check the path or use a shipped "
                f"preset: {', '.join(available_presets())}"
            )
        path = preset_dir() / f"{name_or_path}.yaml"
    if not path.is_file():
        raise UserInputError(
            f"unknown preset {name_or_path!r}; use one of {', '.join(available_presets())} "
            "or a path to a YAML file"
        )
    return parse_preset(read_yaml(path, "preset"), source=str(path))


def parse_preset(raw: object, source: str = "preset") -> Preset:
    """Validate a preset mapping (as read from YAML)."""
    if not isinstance(raw, dict):
        raise UserInputError(f"{source}: a preset must be a mapping")
    known = {"name", "description", "style", "expcot", "rows_per_shard", "splits", "families"}
    _no_unknown(raw, known, source)
    name = raw.get("name") or Path(source).stem
    if not isinstance(name, str) or not name.replace("-", "").replace("_", "").isalnum():
        raise UserInputError(f"{source}: name must be letters, digits, '-' and '_'")
    rows_per_shard = _positive_int(raw.get("rows_per_shard", 400), f"{source}: rows_per_shard")
    splits = _parse_splits(raw.get("splits"), source)
    families = _parse_families(raw.get("families"), source)
    expcot = raw.get("expcot", "full")
    if expcot not in EXPCOT_STYLES:
        raise UserInputError(
            f"{source}: unknown expcot style {expcot!r}; use one of {', '.join(EXPCOT_STYLES)}"
        )
    preset = Preset(
        name=name,
        description=str(raw.get("description", "")).strip(),
        style=_parse_style(raw.get("style", "paper"), source),
        rows_per_shard=rows_per_shard,
        splits=splits,
        families=families,
        expcot=expcot,
    )
    kinds = {family_of(f.name).multivariate for f in families}
    if len(kinds) > 1:
        raise UserInputError(
            f"{source}: mixes univariate and multivariate families; put them in separate "
            "presets (a dataset column holds one kind of series)"
        )
    return preset


def _parse_splits(raw: object, source: str) -> dict[str, SplitSpec]:
    if not isinstance(raw, dict) or not raw:
        raise UserInputError(f"{source}: splits must map split names to {{seed, num_per_family}}")
    splits = {}
    for split, spec in raw.items():
        where = f"{source}: split {split!r}"
        if not isinstance(split, str) or not split.replace("_", "").isalnum():
            raise UserInputError(f"{where}: a split name is letters, digits and '_'")
        if not isinstance(spec, dict):
            raise UserInputError(f"{where} must be a mapping with seed and num_per_family")
        _no_unknown(spec, {"seed", "num_per_family"}, where)
        seed = spec.get("seed")
        if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
            raise UserInputError(f"{where}: seed must be a non-negative integer, got {seed!r}")
        count = _positive_int(spec.get("num_per_family"), f"{where}: num_per_family")
        splits[split] = SplitSpec(seed, count)
    return splits


def _parse_families(raw: object, source: str) -> tuple[FamilySpec, ...]:
    if not isinstance(raw, dict) or not raw:
        raise UserInputError(f"{source}: families must map family names to their settings")
    families = []
    for name, settings in raw.items():
        settings = settings or {}
        if not isinstance(settings, dict):
            raise UserInputError(f"{source}: family {name!r} settings must be a mapping")
        family = family_of(str(name))
        length = settings.get("length", family.length)
        count = settings.get("num_per_family")
        if count is not None:
            count = _positive_int(count, f"{source}: family {name!r} num_per_family")
        overrides = {k: v for k, v in settings.items() if k not in {"length", "num_per_family"}}
        parameters = resolve_parameters(str(name), length, overrides)
        families.append(FamilySpec(str(name), length, parameters, count))
    return tuple(families)


def _parse_style(raw: object, source: str) -> PlotStyle:
    if isinstance(raw, str):
        if raw not in NAMED_STYLES:
            raise UserInputError(
                f"{source}: unknown style {raw!r}; use {', '.join(NAMED_STYLES)} or a mapping"
            )
        return NAMED_STYLES[raw]
    if not isinstance(raw, dict):
        raise UserInputError(f"{source}: style must be a name or a mapping of plot settings")
    fields = {f.name for f in dataclasses.fields(PlotStyle)}
    _no_unknown(raw, fields, f"{source}: style")
    values = dict(raw)
    if values.get("ylim") is not None:
        ylim = values["ylim"]
        if not isinstance(ylim, list) or len(ylim) != 2 or ylim[0] >= ylim[1]:
            raise UserInputError(f"{source}: style ylim must be [low, high] or null")
        values["ylim"] = (float(ylim[0]), float(ylim[1]))
    try:
        style = PlotStyle(**values)
    except TypeError as error:
        raise UserInputError(f"{source}: bad style: {error}") from None
    if style.width_in <= 0 or style.height_in <= 0 or style.dpi <= 0:
        raise UserInputError(f"{source}: style sizes and dpi must be positive")
    if style.x_ramp is not None:
        from matplotlib import colormaps

        if style.x_ramp not in colormaps:
            raise UserInputError(
                f"{source}: style x_ramp {style.x_ramp!r} is not a matplotlib colormap; use "
                "e.g. Greys"
            )
    return style


def _positive_int(value: object, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise UserInputError(f"{what} must be a positive integer, got {value!r}")
    return value


def _no_unknown(raw: dict, known: set[str], where: str) -> None:
    unknown = sorted(set(map(str, raw)) - known)
    if unknown:
        names = ", ".join(map(repr, unknown))
        raise UserInputError(f"{where}: unknown field {names}; known: {', '.join(sorted(known))}")
