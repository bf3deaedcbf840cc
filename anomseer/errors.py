"""The one exception type for bad user input: the CLI prints its message as a single line."""

from __future__ import annotations

from collections.abc import Iterable


class UserInputError(ValueError):
    """Bad input from a user (a path, a config, a dataset); the message names the fix."""


def first_line(error: BaseException) -> str:
    """The first line of ``error``'s message (its type name when the message is empty), for a
    one-line :class:`UserInputError` that wraps a library's exception."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the choice closest to a misspelled ``word``, else ``""``."""
    import difflib

    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""
