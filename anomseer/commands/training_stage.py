"""What the training commands (``sft``, ``timerpo``) share: a ``--config`` recipe, the rest of
the command line passed to the stage's ``main`` as overrides, and a closing line. Standard
library only at the top, like every command module."""

from __future__ import annotations

import argparse
import importlib


def add_recipe_argument(parser: argparse.ArgumentParser, stage: str) -> None:
    """The required ``--config`` recipe of ``stage`` (a module of ``anomseer.trainers``)."""
    parser.add_argument(
        "--config",
        required=True,
        help=f"YAML recipe, e.g. recipes/tiny-cpu/{stage}/config_default.yaml",
    )


def run_stage(stage: str, title: str, args: argparse.Namespace) -> int:
    """Train with ``anomseer.trainers.<stage>.main`` and say where the model is."""
    main = importlib.import_module(f"anomseer.trainers.{stage}").main
    trainer = main(["--config", args.config, *args.extra_args])
    print(
        f"{title} finished after {trainer.state.global_step} steps; model in "
        f"{trainer.args.output_dir}"
    )
    return 0
