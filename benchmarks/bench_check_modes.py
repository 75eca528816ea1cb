"""Contract check wall time: ``heygen-lab check --mode emulator`` against ``--mode replay``.

Runs both on the shipped contracts and cassettes, alternately, ``--rounds`` times each, in
child processes (start-up included, as a person runs them). Prints min and median seconds and
the ratio emulator / replay (issue 11's goal: at most 1.5x)::

    python benchmarks/bench_check_modes.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from typing import Any

from _common import ROOT, chart, median, table

GOAL = 1.5


def timed(mode: str) -> float:
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "heygen_lab", "check", "--mode", mode],
                          cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"check --mode {mode} failed ({proc.returncode}):\n{proc.stdout[-2000:]}")
    return elapsed


def run(rounds: int) -> str:
    times: dict[str, list[float]] = {"replay": [], "emulator": []}
    for _ in range(rounds):
        for mode in times:
            times[mode].append(timed(mode))
    rep, emu = median(times["replay"]), median(times["emulator"])
    text = table(f"check wall time, seconds ({rounds} rounds, alternating)",
                 ["mode", "min s", "median s", "vs replay"],
                 [["replay", min(times["replay"]), rep, 1.0],
                  ["emulator", min(times["emulator"]), emu, emu / rep]])
    text += (f"\ngoal emulator <= {GOAL}x replay: {emu / rep:.2f}x, "
             f"{'holds' if emu / rep <= GOAL else 'does not hold'}")

    def draw(plt: Any) -> None:
        plt.bar(["--mode replay", "--mode emulator"], [rep, emu], color=["#3366cc", "#cc6633"])
        plt.axhline(rep * GOAL, color="k", linestyle=":", label=f"goal: {GOAL}x replay")
        plt.ylabel("seconds (median)")
        plt.title("heygen-lab check: every shipped case")
        plt.legend()

    return text + "\n" + chart("check_modes", draw)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    print(run(args.rounds), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
