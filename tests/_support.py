"""Helpers shared by test modules (pytest puts tests/ on sys.path: it has no __init__.py)."""

from __future__ import annotations

import threading
from typing import IO


def read_lines(stream: IO[str], count: int, timeout: float = 60.0) -> list[str]:
    """``count`` lines from a child's pipe, or fail (instead of hanging) after ``timeout``."""
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(stream.readline()
                                                          for _ in range(count)), daemon=True)
    reader.start()
    reader.join(timeout)
    assert not reader.is_alive(), f"no {count} lines within {timeout:g}s; got {lines!r}"
    return lines
