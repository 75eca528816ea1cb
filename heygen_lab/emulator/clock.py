"""Clocks for the emulator: everything time-driven (video lifecycle, trial days, URL expiry,
idempotency windows, ``created_ts``) reads the emulator's clock, never the wall clock."""

from __future__ import annotations

import threading
import time
from typing import Protocol, runtime_checkable

__all__ = ["DEFAULT_EPOCH", "Clock", "ManualClock", "SystemClock"]

#: Where a :class:`ManualClock` starts by default: 2026-01-01T00:00:00Z.
DEFAULT_EPOCH = 1_767_225_600.0


@runtime_checkable
class Clock(Protocol):
    """Anything with ``now()`` returning unix seconds."""

    def now(self) -> float:
        """Current time in unix seconds."""
        ...


class ManualClock:
    """A clock that moves only when told to: ``advance(seconds)``. Thread-safe."""

    def __init__(self, start: float = DEFAULT_EPOCH) -> None:
        self._now = float(start)
        self._lock = threading.Lock()

    def now(self) -> float:
        """Current (manual) time in unix seconds."""
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> float:
        """Move time forward by ``seconds`` (>= 0) and return the new time."""
        if seconds < 0:
            raise ValueError(f"ManualClock.advance: seconds must be >= 0, got {seconds!r}")
        with self._lock:
            self._now += float(seconds)
            return self._now

    def __repr__(self) -> str:
        return f"ManualClock(now={self.now()!r})"


class SystemClock:
    """The wall clock (``time.time()``); what ``heygen-lab serve`` uses."""

    def now(self) -> float:
        """Current wall-clock time in unix seconds."""
        return time.time()

    def __repr__(self) -> str:
        return "SystemClock()"
