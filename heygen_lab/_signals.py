"""SIGTERM unwinds like Ctrl-C, so ``with`` blocks and ``finally`` clauses clean up."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

__all__ = ["sigterm_unwinds"]


@contextmanager
def sigterm_unwinds() -> Iterator[None]:
    """Inside, SIGTERM raises ``KeyboardInterrupt`` (temporary media, emulator storage and
    servers are removed instead of the process vanishing mid-write); restored on exit. Outside
    the main thread no handler can be installed, and this does nothing."""
    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    try:
        previous = signal.signal(signal.SIGTERM, interrupt)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
