"""The ``anomseer`` command line. Each command lives in ``anomseer.commands.<module>``; the
command modules import only the standard library at the top so ``--help`` stays fast.

A command module that sets ``ACCEPTS_EXTRA_ARGS = True`` receives the arguments its parser does
not know as ``args.extra_args`` (training commands hand them to ``TrlParser`` as overrides).

Every failure a user can fix ends with one line on stderr and exit status 2 (the options a
library error names are written as this command line's flags); Ctrl-C ends with
``anomseer <command>: interrupted`` and status 130.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import NoReturn

from anomseer.commands import flag
from anomseer.errors import OptionError, UserInputError, did_you_mean
from anomseer.import_notices import quiet_cpu_import_notices
from anomseer.interrupts import is_interrupt

COMMAND_MODULES = (
    "demo",
    "tiny_model",
    "gen",
    "convert",
    "sft",
    "timerpo",
    "export",
    "eval",
    "detect",
    "report",
    "app",
)


class OneLineParser(argparse.ArgumentParser):
    """An argument parser whose errors are one line (no usage dump) and suggest the closest
    option for a misspelled flag."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")

    def refuse_unknown(self, extra: Sequence[str]) -> NoReturn:
        """Fail on arguments no option takes, naming the closest option of each flag."""
        flags = [s for action in self._actions for s in action.option_strings]
        named = [f"{arg}{did_you_mean(arg.split('=')[0], flags)}" for arg in extra]
        self.error(f"unrecognized arguments: {' '.join(named)}")


def build_parser() -> OneLineParser:
    """The top-level parser with one sub-parser per command."""
    parser = OneLineParser(
        prog="anomseer",
        description="Teach Qwen2.5-VL to find, locate, classify and explain anomalies in "
        "plots of time series.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module_name in COMMAND_MODULES:
        module = importlib.import_module(f"anomseer.commands.{module_name}")
        sub = commands.add_parser(
            module.NAME,
            help=module.HELP,
            description=module.__doc__,
            formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        )
        module.add_arguments(sub)
        sub.set_defaults(
            handler=module.run,
            parser=sub,
            accepts_extra_args=getattr(module, "ACCEPTS_EXTRA_ARGS", False),
        )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; bad input ends with a one-line error and exit status 2."""
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and not args.accepts_extra_args:
        args.parser.refuse_unknown(extra)
    args.extra_args = extra
    quiet_cpu_import_notices()
    try:
        return int(args.handler(args) or 0)
    except UserInputError as error:
        message = error.naming(flag) if isinstance(error, OptionError) else str(error)
        print(f"anomseer {args.command}: error: {message}", file=sys.stderr)
        return 2
    except BaseException as error:
        if not is_interrupt(error):
            raise
        print(f"anomseer {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
