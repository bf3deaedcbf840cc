"""The one exception type for bad user input: the CLI prints its message as a single line."""

from __future__ import annotations

from collections.abc import Callable, Iterable


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


class OptionError(UserInputError):
    """Bad input about named options. The message names them as the library does
    (``max_new_tokens``); a front end names them its own way with :meth:`naming` (the CLI:
    ``--max-new-tokens``).

    ``template`` holds ``$placeholder`` fields (``string.Template``); each keyword gives an
    option name or a list of them (joined with ``, ``).
    """

    def __init__(self, template: str, **options: str | Iterable[str]) -> None:
        self.template = template
        self.options = {
            key: (value,) if isinstance(value, str) else tuple(value)
            for key, value in options.items()
        }
        super().__init__(self.naming(str))

    def naming(self, name: Callable[[str], str]) -> str:
        """The message with every option written as ``name(option)``."""
        from string import Template

        names = {key: ", ".join(map(name, values)) for key, values in self.options.items()}
        return Template(self.template).safe_substitute(names)
