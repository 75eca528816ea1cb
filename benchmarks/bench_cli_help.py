"""``heygen-lab --help`` start-up time: median of 15 runs of ``python -m heygen_lab --help``
against ``python -c pass`` (the interpreter's own start-up), each in a fresh process."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

RUNS = 15


def median_ms(argv: list[str]) -> float:
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


if __name__ == "__main__":
    bare = median_ms([sys.executable, "-c", "pass"])
    helped = median_ms([sys.executable, "-m", "heygen_lab", "--help"])
    print(f"python -c pass:               {bare:6.1f} ms (median of {RUNS})")
    print(f"python -m heygen_lab --help:  {helped:6.1f} ms (median of {RUNS}), "
          f"+{helped - bare:.1f} ms")
