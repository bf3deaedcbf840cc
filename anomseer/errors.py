"""The one exception type for bad user input: the CLI prints its message as a single line."""


class UserInputError(ValueError):
    """Bad input from a user (a path, a config, a dataset); the message names the fix."""
