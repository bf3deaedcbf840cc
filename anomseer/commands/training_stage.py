"""What the training commands (``sft``, ``timerpo``) share, as their ``add_arguments`` and
``run``: a ``--config`` recipe, the rest of the command line passed to the stage's ``main`` as
overrides, and a closing line. Standard library only at the top, like every command module."""

from __future__ import annotations

import argparse
import importlib

ACCEPTS_EXTRA_ARGS = True
TITLES = {"sft": "SFT", "timerpo": "TimerPO"}
"""Each training command (a module of ``anomseer.trainers`` of the same name) and its title."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The required ``--config`` recipe of the command's stage."""
    stage = parser.prog.split()[-1]
    parser.add_argument(
        "--config",
        required=True,
        help=f"YAML recipe, e.g. recipes/tiny-cpu/{stage}/config_default.yaml",
    )


def run(args: argparse.Namespace) -> int:
    """Train with ``anomseer.trainers.<command>.main`` and say where the model is."""
    main = importlib.import_module(f"anomseer.trainers.{args.command}").main
    trainer = main(["--config", args.config, *args.extra_args])
    print(
        f"{TITLES[args.command]} finished after {trainer.state.global_step} steps; model in "
        f"{trainer.args.output_dir}"
    )
    return 0
