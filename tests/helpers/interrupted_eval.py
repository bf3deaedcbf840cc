"""``anomseer eval`` with a Ctrl-C landing inside STUMPY's compiled matrix profile: at the
``STUMP_CALL``-th call of ``stumpy.stump`` a timer fires a third of the way into the call (the
duration of the calls before it sets the delay), and its handler is Python's SIGINT handler.
Writes ``landed`` (inside, or after, the compiled call) to the file named by ``MARKER``.

Usage: python interrupted_eval.py STUMP_CALL MARKER -- ANOMSEER-ARGS...
"""

import signal
import sys
import time
from pathlib import Path


def main() -> int:
    from anomseer.cli import main as anomseer
    from data_gen.expert import panel

    stump_call, marker = int(sys.argv[1]), Path(sys.argv[2])
    stumpy = panel._stumpy()
    real_stump = stumpy.stump
    calls, durations = [0], []

    def stump(*args, **kwargs):
        calls[0] += 1
        if calls[0] != stump_call:
            start = time.perf_counter()
            result = real_stump(*args, **kwargs)
            durations.append(time.perf_counter() - start)
            return result
        signal.signal(signal.SIGALRM, signal.default_int_handler)
        signal.setitimer(signal.ITIMER_REAL, max(min(durations) / 3, 1e-4))
        try:
            result = real_stump(*args, **kwargs)
        except BaseException as error:
            marker.write_text(f"inside: {type(error).__name__}")
            raise
        marker.write_text("after")
        return result

    stumpy.stump = stump
    return anomseer(sys.argv[sys.argv.index("--") + 1 :])


if __name__ == "__main__":
    sys.exit(main())
