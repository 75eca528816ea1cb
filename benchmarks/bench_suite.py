"""The test suite's wall time: the README's test command, run several times back to back.

Runs ``python -m pytest -q`` in the checkout ``--runs`` times and prints, per run, the wall
time and (on Linux, from ``/proc/stat``) the whole machine's busy and idle CPU-seconds over it,
then the median against the 40 s goal. The machine's CPU is the suite's limit: on 2 cores a run
is about its busy CPU-seconds over two plus its idle ones over two, and this virtual machine's
speed drifts by ~10% within an hour, so compare medians of runs made side by side, not single
runs. Not part of ``run.py`` (each run takes ~45 s)::

    python benchmarks/bench_suite.py [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

from _common import ROOT, median, table

GOAL_S = 40.0


def machine_cpu() -> tuple[float, float] | None:
    """(busy, idle) CPU-seconds of the whole machine since boot, or None off Linux."""
    stat = Path("/proc/stat")
    if not stat.exists():
        return None
    user, nice, system, idle, iowait, irq, softirq, steal = (
        int(v) for v in stat.read_text().split("\n", 1)[0].split()[1:9])
    tick = os.sysconf("SC_CLK_TCK")  # what /proc/stat counts in
    return (user + nice + system + irq + softirq + steal) / tick, (idle + iowait) / tick


def one_run() -> tuple[float, float | str, float | str, str]:
    """Wall seconds, busy and idle CPU-seconds ("n/a" off Linux), and pytest's last line."""
    before, start = machine_cpu(), time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q"], cwd=ROOT,
                          capture_output=True, text=True)
    wall, after = time.perf_counter() - start, machine_cpu()
    last = (proc.stdout.strip().splitlines() or ["(no output)"])[-1].strip("= ")
    if proc.returncode != 0:
        raise RuntimeError(f"the suite failed (exit {proc.returncode}): {last}")
    if before is None or after is None:
        return wall, "n/a", "n/a", last
    return wall, after[0] - before[0], after[1] - before[1], last


def run(runs: int) -> str:
    rows, walls = [], []
    for n in range(1, runs + 1):
        wall, busy, idle, last = one_run()
        walls.append(wall)
        rows.append([str(n), wall, busy, idle, last])
        print(f"run {n}: {wall:.1f} s ({last})", file=sys.stderr, flush=True)
    text = table(f"test suite, {runs} runs back to back (python -m pytest -q)",
                 ["run", "wall s", "busy CPU-s", "idle CPU-s", "pytest"], rows)
    mid = median(walls)
    verdict = "holds" if mid <= GOAL_S else "does not hold"
    return (text + f"\nmin {min(walls):.1f} s, median {mid:.1f} s, max {max(walls):.1f} s"
            f"\ngoal median <= {GOAL_S:.0f} s: {verdict}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    try:
        print(run(args.runs), flush=True)
    except RuntimeError as exc:
        print(f"bench_suite: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
