"""Start-up cost: ``heygen-lab --help`` against ``python -c pass``, median of 15 each.

Runs the two commands alternately (so drift hits both alike) and prints their medians, the
ratio, and the difference (what importing the CLI costs)::

    python benchmarks/bench_help.py [--runs 15]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from _common import ROOT, chart, median, table


def command() -> list[str]:
    script = Path(sys.executable).parent / "heygen-lab"
    if script.exists():
        return [str(script), "--help"]
    found = shutil.which("heygen-lab")
    return [found, "--help"] if found else [sys.executable, "-m", "heygen_lab", "--help"]


def timed(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   check=True)
    return (time.perf_counter() - start) * 1000


def run(runs: int) -> str:
    cli, bare = command(), [sys.executable, "-c", "pass"]
    timed(cli), timed(bare)  # warm the file cache
    help_ms: list[float] = []
    bare_ms: list[float] = []
    for _ in range(runs):
        help_ms.append(timed(cli))
        bare_ms.append(timed(bare))
    h, b = median(help_ms), median(bare_ms)
    text = table(f"start-up: median of {runs} runs, ms",
                 ["command", "median ms", "min ms", "vs python -c pass"],
                 [["heygen-lab --help", h, min(help_ms), h / b],
                  ["python -c pass", b, min(bare_ms), 1.0]])
    text += f"\nimporting the CLI costs {h - b:.0f} ms over the bare interpreter"

    def draw(plt: Any) -> None:
        plt.bar(["python -c pass", "heygen-lab --help"], [b, h], color=["#999999", "#3366cc"])
        plt.ylabel(f"ms (median of {runs})")
        plt.title("Start-up time")

    return text + "\n" + chart("help", draw)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args(argv)
    print(run(args.runs), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
