"""Telling a Ctrl-C apart from a failure. A SIGINT that lands inside numba-compiled code (STUMPY's
matrix profile) can surface as ``SystemError: CPUDispatcher(...) returned a result with an
exception set`` with the ``KeyboardInterrupt`` only in its chain; code that records a failed
row and goes on must re-raise such an error instead. Standard library only."""

from __future__ import annotations


def is_interrupt(error: BaseException) -> bool:
    """Whether ``error`` is a ``KeyboardInterrupt`` or has one in its cause/context chain."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, KeyboardInterrupt):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


def reraise_interrupt(error: BaseException) -> None:
    """Raise ``KeyboardInterrupt`` (from ``error``) when ``error`` is an interrupt in disguise."""
    if is_interrupt(error) and not isinstance(error, KeyboardInterrupt):
        raise KeyboardInterrupt from error
