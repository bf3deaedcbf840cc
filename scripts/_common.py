"""What the benchmark scripts share: their numeric flags and the line that says which machine
(and how busy it was) a result comes from. Scripts import it as ``_common`` (scripts/ is on
sys.path when one runs as a script)."""

from __future__ import annotations

import argparse
import os
import platform

Flag = int | float | tuple[int | float, str]


def parse_flags(doc: str, **flags: Flag) -> argparse.Namespace:
    """Parse ``--name`` flags (underscores written as dashes), each typed by its default: a
    keyword gives the default, or ``(default, help)``. ``doc``'s first line describes the
    script."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    for name, flag in flags.items():
        default, text = flag if isinstance(flag, tuple) else (flag, None)
        flag_name = f"--{name.replace('_', '-')}"
        parser.add_argument(flag_name, type=type(default), default=default, help=text)
    return parser.parse_args()


def machine_line() -> str:
    """The processor, its core count and the one-minute load average (the machine is shared, so
    only ratios measured in the same run compare)."""
    processor = platform.processor() or platform.machine()
    return f"machine: {processor}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}"
