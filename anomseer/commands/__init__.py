"""One module per ``anomseer`` command: ``NAME``, ``HELP``, ``add_arguments`` and ``run``."""


def flag(option: str) -> str:
    """The command-line flag of a library option: ``max_new_tokens`` -> ``--max-new-tokens``."""
    return "--" + option.replace("_", "-")
