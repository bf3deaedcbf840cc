"""The ``anomseer`` command line. Each command lives in ``anomseer.commands.<module>``; the
command modules import only the standard library at the top so ``--help`` stays fast.

A command module that sets ``ACCEPTS_EXTRA_ARGS = True`` receives the arguments its parser does
not know as ``args.extra_args`` (training commands hand them to ``TrlParser`` as overrides)."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from anomseer.errors import UserInputError

COMMAND_MODULES = (
    "demo",
    "tiny_model",
    "gen",
    "convert",
    "sft",
    "timerpo",
    "export",
    "eval",
    "report",
)


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with one sub-parser per command."""
    parser = argparse.ArgumentParser(
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
            handler=module.run, accepts_extra_args=getattr(module, "ACCEPTS_EXTRA_ARGS", False)
        )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; bad input ends with a one-line error and exit status 2."""
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and not args.accepts_extra_args:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    args.extra_args = extra
    try:
        return int(args.handler(args) or 0)
    except UserInputError as error:
        print(f"anomseer {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"anomseer {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
