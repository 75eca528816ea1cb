"""Run every speed benchmark and print every table (charts go to docs/benchmarks/)::

    python benchmarks/run.py            # pip install -e '.[bench]' for the charts

Each benchmark runs in its own process, one after another (they time wall clocks: running
them side by side would skew each other). The memory benchmarks (bench_*_memory.py) and the
test suite's (bench_suite.py, ~45 s a run) are separate and not run here. Exits non-zero if any
benchmark failed.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHMARKS = ("bench_replay.py", "bench_check_modes.py", "bench_upload_throughput.py",
              "bench_help.py")


def main() -> int:
    failed = []
    for name in BENCHMARKS:
        print(f"== {name}", flush=True)
        start = time.perf_counter()
        code = subprocess.call([sys.executable, str(HERE / name)], cwd=HERE)
        print(f"({name}: {time.perf_counter() - start:.0f} s{', FAILED' if code else ''})\n",
              flush=True)
        if code:
            failed.append(name)
    if failed:
        print("failed: " + ", ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
