"""Uploads under faults: how many succeed, and what does the emulator hold afterwards?

For each route (``v1``, ``v3``, ``direct``) a fresh, seeded emulator injects faults into about
30 % of requests, and ``--n`` distinct small JPEGs are uploaded one after another with
``HeyGenClient`` (its default upload retries, backoff sleeps counted instead of slept):

- before the server acts: 503 (10 %), 429 with ``Retry-After: 1`` (10 %), a dropped
  connection (10 %), and a little latency (5 %), the emulator's own fault specs; the direct
  upload's PUT to storage also gets 503 (10 %);
- after the server acted: the response is lost (5 %), the connection closed instead of
  answering, which is what an ``Idempotency-Key`` exists for.

Prints one row per route: attempted, succeeded, assets the emulator holds, pending direct
uploads, duplicated uploads (the same bytes held twice), retries, and failures by class::

    python benchmarks/bench_faults.py [--n 100] [--seed 7]

Exits 0 (it measures; ``tests/test_faults_and_recovery.py`` asserts). Creates nothing outside
the emulators' temporary storage, removed on exit, also on Ctrl-C and SIGTERM.
"""

from __future__ import annotations

import argparse
import contextlib
import random
import socket
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # runs from a checkout, installed or not
    sys.path.insert(0, str(ROOT))

from heygen_lab._signals import sigterm_unwinds  # noqa: E402
from heygen_lab.emulator import Emulator  # noqa: E402
from heygen_lab.errors import HeyGenError  # noqa: E402

ROUTES = ("v1", "v3", "direct")
FAULTS = ("latency:seconds=0.001,rate=0.05;error:status=503,rate=0.1;"
          "rate_limit:rate=0.1,retry_after=1;drop:rate=0.1;"
          "error:route=/_storage,status=503,rate=0.1")
LOST_RATE = 0.05
JPEG = (ROOT / "contracts" / "media" / "tiny.jpg").read_bytes()


def photo(i: int) -> bytes:
    """A distinct small JPEG (the sniffer reads the head; the tail makes the bytes unique)."""
    return JPEG + f"heygen-lab-bench-{i:06d}".encode()


class LoseResponses:
    """WSGI middleware: after the app has answered (the server acted), close the connection
    instead of sending the answer, for a seeded fraction of requests. Counts what it lost."""

    def __init__(self, app: Any, rate: float, rng: random.Random, lock: threading.Lock,
                 lost: Counter[str]) -> None:
        self.app, self.rate, self.rng, self.lock, self.lost = app, rate, rng, lock, lost

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]
                 ) -> Iterable[bytes]:
        path = str(environ.get("PATH_INFO", ""))
        if path.startswith("/_files"):
            return self.app(environ, start_response)  # type: ignore[no-any-return]
        captured: list[Any] = []
        body = b"".join(self.app(environ, lambda *a: captured.append(a)))
        with self.lock:
            lose = self.rng.random() < self.rate
        if lose:
            with self.lock:
                self.lost[path.split("/")[-1] if path.endswith("/complete") else path] += 1
            sock = environ.get("werkzeug.socket")
            if isinstance(sock, socket.socket):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
            raise ConnectionAbortedError("bench fault: the response was lost")
        start_response(*captured[0])
        return [body]


def faulty_emulator(seed: int, lost: Counter[str], *, faults: str = FAULTS,
                    lost_rate: float = LOST_RATE) -> Emulator:
    """An emulator (not started) with ``faults`` and lost responses at ``lost_rate``."""
    emu = Emulator(faults=faults, seed=seed)
    rng, lock, make = random.Random(seed), threading.Lock(), emu.service.wsgi
    emu.service.wsgi = lambda kind: LoseResponses(  # type: ignore[method-assign]
        make(kind), lost_rate, rng, lock, lost)
    return emu


@dataclass
class Row:
    route: str
    attempted: int = 0
    succeeded: int = 0
    held: int = 0
    pending: int = 0
    duplicates: int = 0
    retries: int = 0
    lost_responses: int = 0
    failures: Counter[str] = field(default_factory=Counter)
    errors: list[HeyGenError] = field(default_factory=list)
    sent: set[str] = field(default_factory=set)
    held_sha256: list[str] = field(default_factory=list)


def run_route(route: str, n: int, seed: int = 7) -> Row:
    """Upload ``n`` distinct files by ``route`` under faults; what came of it."""
    import hashlib

    row, lost, sleeps = Row(route), Counter[str](), []
    with faulty_emulator(seed, lost) as emu, \
            emu.client(sleep=sleeps.append, seed=seed, timeout=30) as client:
        for i in range(n):
            data = photo(i)
            row.attempted += 1
            row.sent.add(hashlib.sha256(data).hexdigest())
            try:
                client.upload_asset(data, via=route, name=f"photo-{i}.jpg")
            except HeyGenError as exc:
                row.failures[type(exc).__name__] += 1
                row.errors.append(exc)
            else:
                row.succeeded += 1
        held = emu.assets()
    row.held = len(held)
    row.pending = sum(a.status != "ready" for a in held)
    row.held_sha256 = [a.sha256 or "" for a in held]
    row.duplicates = len(row.held_sha256) - len(set(row.held_sha256))
    row.retries = len(sleeps)
    row.lost_responses = sum(lost.values())
    return row


def table(rows: Iterable[Row]) -> str:
    head = (f"{'route':<7}{'attempted':>10}{'succeeded':>10}{'held':>6}{'pending':>8}"
            f"{'dupes':>6}{'retries':>8}{'lost':>6}  failures")
    lines = [head, "-" * len(head)]
    for r in rows:
        fails = ", ".join(f"{k} {v}" for k, v in sorted(r.failures.items())) or "-"
        lines.append(f"{r.route:<7}{r.attempted:>10}{r.succeeded:>10}{r.held:>6}{r.pending:>8}"
                     f"{r.duplicates:>6}{r.retries:>8}{r.lost_responses:>6}  {fails}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=100, help="uploads per route (default 100)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    started = time.monotonic()
    try:
        with sigterm_unwinds():
            rows = [run_route(route, args.n, args.seed) for route in ROUTES]
    except KeyboardInterrupt:
        print("interrupted; temporary files removed", file=sys.stderr)
        return 130
    print(f"{args.n} uploads per route, seed {args.seed}; faults {FAULTS}; "
          f"lost responses {LOST_RATE:.0%} (after the server acted)")
    print(table(rows))
    print(f"({time.monotonic() - started:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
