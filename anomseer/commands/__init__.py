"""One module per ``anomseer`` command: ``NAME``, ``HELP``, ``add_arguments`` and ``run``."""
