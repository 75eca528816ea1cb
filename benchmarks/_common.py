"""What the speed benchmarks share: a scratch directory that never outlives the run (success,
failure, Ctrl-C or SIGTERM), a plain-text table, and an optional matplotlib chart.

Charts need the ``bench`` extra (``pip install -e '.[bench]'``); without it a benchmark still
prints its table and says that the chart was skipped.
"""

from __future__ import annotations

import contextlib
import shutil
import statistics
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CHARTS = ROOT / "docs" / "benchmarks"
if str(ROOT) not in sys.path:  # runs from a checkout, installed or not
    sys.path.insert(0, str(ROOT))


@contextlib.contextmanager
def scratch(prefix: str) -> Iterator[Path]:
    """A private temp directory, removed however the run ends (SIGTERM unwinds like Ctrl-C)."""
    from heygen_lab._signals import sigterm_unwinds

    with sigterm_unwinds():
        path = Path(tempfile.mkdtemp(prefix=prefix))
        try:
            yield path
        finally:
            shutil.rmtree(path, ignore_errors=True)


def table(title: str, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A right-aligned text table (first column left-aligned), with a title line."""
    cells = [[str(h) for h in header], *[[_cell(c) for c in row] for row in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = [title]
    for n, row in enumerate(cells):
        lines.append("  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                               for i, (c, w) in enumerate(zip(row, widths, strict=True))))
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 100 else f"{value:.0f}"
    return str(value)


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def chart(name: str, draw: Callable[[Any], None]) -> str:
    """Draw with ``draw(pyplot)`` into ``docs/benchmarks/<name>.png``; say where, or why not."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "chart skipped: matplotlib is not installed (pip install -e '.[bench]')"
    CHARTS.mkdir(parents=True, exist_ok=True)
    path = CHARTS / f"{name}.png"
    fig = plt.figure(figsize=(7, 4.2), dpi=110)
    try:
        draw(plt)
        plt.grid(True, which="both", alpha=0.3)
        plt.tight_layout()
        fig.savefig(path)
    finally:
        plt.close(fig)
    return f"chart: {path.relative_to(ROOT)}"
