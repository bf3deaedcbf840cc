"""The one exception type for bad user input: the CLI prints its message as a single line."""


class UserInputError(ValueError):
    """Bad input from a user (a path, a config, a dataset); the message names the fix."""


def first_line(error: BaseException) -> str:
    """The first line of ``error``'s message (its type name when the message is empty), for a
    one-line :class:`UserInputError` that wraps a library's exception."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
