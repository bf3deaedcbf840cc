"""Where the shipped recipes live: training recipes, data presets (``data/``) and accelerate
configs (``accelerate/``). A wheel carries them inside the package (``anomseer/recipes``); a
source checkout reads the repository's ``recipes/``. Standard library only."""

from __future__ import annotations

from pathlib import Path

PACKAGED = Path(__file__).resolve().parent / "recipes"
CHECKOUT = Path(__file__).resolve().parent.parent / "recipes"


def recipes_dir() -> Path:
    """The folder of shipped recipes, from any working directory."""
    return PACKAGED if PACKAGED.is_dir() else CHECKOUT


def shipped_recipe(name: str) -> Path | None:
    """``name`` (e.g. ``tiny-cpu/sft/config_default.yaml``, with or without ``recipes/`` in
    front) as a shipped recipe file, or None when no shipped file has that name."""
    relative = Path(name)
    if relative.is_absolute():
        return None
    if relative.parts[:1] == ("recipes",):
        relative = Path(*relative.parts[1:])
    candidate = recipes_dir() / relative
    return candidate if relative.parts and candidate.is_file() else None


def read_yaml(path: Path, what: str) -> object:
    """The YAML document in ``path``; ``UserInputError`` (naming ``what``, e.g. ``recipe``) for
    a file that is not UTF-8 text or not valid YAML, with the line and column of the fault."""
    import yaml

    from anomseer.errors import UserInputError

    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise UserInputError(
            f"{what} {str(path)!r} is not a text file (an image or binary?); pass a YAML file"
        ) from None
    except OSError as error:
        raise UserInputError(f"cannot read {what} {str(path)!r}: {error.strerror}") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        fault = _yaml_fault(error)
        raise UserInputError(f"{what} {str(path)!r} is not valid YAML: {fault}") from None


def _yaml_fault(error: Exception) -> str:
    """``line L, column C: problem`` from a PyYAML error (1-based, as editors count)."""
    mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
    problem = getattr(error, "problem", None) or str(error).splitlines()[0]
    if mark is None:
        return problem
    return f"line {mark.line + 1}, column {mark.column + 1}: {problem}"
