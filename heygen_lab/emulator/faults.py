"""Fault injection: added latency, server errors, 429 + Retry-After, dropped connections.

Spec syntax (``parse_faults``)::

    SPEC   := FAULT (";" FAULT)*
    FAULT  := KIND [":" OPTION ("," OPTION)*]
    KIND   := latency | error | rate_limit | drop
    OPTION := rate=<0..1> | route=</path/prefix> | seconds=<0..600> | status=<500..599>
              | retry_after=<0..86400> | times=<int >= 1>

Each kind takes only its own options: ``latency`` seconds, ``error`` status, ``rate_limit``
retry_after, and every kind rate, route and times. A bad spec is a ValueError naming the token.

e.g. ``"rate_limit:route=/v3/assets,retry_after=2,times=1;error:status=503,rate=0.5"``.

Faults are evaluated in order for each request whose path starts with ``route`` (no route: every
HeyGen route; the emulator's own ``/_storage`` and ``/_files`` paths only when named explicitly).
Each fault draws from one RNG seeded by the emulator's ``seed``, so a sequence of requests sees
the same faults on every run. ``latency`` sleeps real seconds (cut short when the emulator
stops) and lets the request go on; the first ``error`` / ``rate_limit`` / ``drop`` that fires
answers instead of the route.
"""

from __future__ import annotations

import math
import random
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal

__all__ = ["FAULT_KINDS", "SYNTAX", "Fault", "FaultInjector", "parse_faults"]

FaultKind = Literal["latency", "error", "rate_limit", "drop"]
FAULT_KINDS: Final[tuple[str, ...]] = ("latency", "error", "rate_limit", "drop")
SYNTAX: Final = ("KIND[:key=value,...][;KIND...] with KIND in latency|error|rate_limit|drop and "
                 "keys rate (0..1), route (/prefix), times (>= 1), plus seconds (latency, "
                 "0..600), status (error, 500..599), retry_after (rate_limit, 0..86400) "
                 "(e.g. 'rate_limit:route=/v3/assets,retry_after=2,times=1;error:status=503')")
_INTERNAL_PREFIXES: Final = ("/_storage", "/_files")
MAX_SECONDS: Final = 600.0
MAX_RETRY_AFTER: Final = 86_400
#: The options each kind takes besides rate, route and times.
_OWN_OPTIONS: Final = {"latency": {"seconds"}, "error": {"status"},
                       "rate_limit": {"retry_after"}, "drop": set()}


@dataclass(frozen=True)
class Fault:
    """One fault rule. ``times=None`` means unlimited; ``route`` is a path prefix."""

    kind: FaultKind
    rate: float = 1.0
    route: str | None = None
    seconds: float = 1.0
    status: int = 500
    retry_after: int = 1
    times: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"fault kind {self.kind!r} is not one of {', '.join(FAULT_KINDS)}")
        for name in ("rate", "seconds"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"fault {name} must be a number, got {value!r}")
        for name in ("status", "retry_after", "times"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                raise ValueError(f"fault {name} must be an integer, got {value!r}")
        if not 0.0 <= self.rate <= 1.0:  # also refuses nan
            raise ValueError(f"fault rate must be within 0..1, got {self.rate!r}")
        if self.route is not None and (
                not isinstance(self.route, str) or not self.route.startswith("/")
                or any(c.isspace() or not c.isprintable() for c in self.route)):
            raise ValueError(f"fault route must be a path prefix starting with '/', got "
                             f"{self.route!r}")
        if not (math.isfinite(self.seconds) and 0 <= self.seconds <= MAX_SECONDS):
            raise ValueError(f"fault seconds must be within 0..{MAX_SECONDS:g}, got "
                             f"{self.seconds!r}")
        if not 500 <= self.status <= 599:
            raise ValueError(f"fault status must be a server error within 500..599, got "
                             f"{self.status!r}")
        if not 0 <= self.retry_after <= MAX_RETRY_AFTER:
            raise ValueError(f"fault retry_after must be within 0..{MAX_RETRY_AFTER}, got "
                             f"{self.retry_after!r}")
        if self.times is not None and self.times < 1:
            raise ValueError(f"fault times must be >= 1, got {self.times!r}")

    def matches(self, path: str) -> bool:
        """Whether this fault applies to a request for ``path``."""
        if self.route is None:
            return not path.startswith(_INTERNAL_PREFIXES)
        return path.startswith(self.route)


_CONVERTERS: Final = {"rate": float, "route": str, "seconds": float, "status": int,
                      "retry_after": int, "times": int}


def parse_faults(spec: str) -> tuple[Fault, ...]:
    """Parse a fault spec (see the module docstring); ValueError names the bad token."""
    faults: list[Fault] = []
    for token in (t.strip() for t in spec.split(";")):
        if not token:
            continue
        kind, _, opts = token.partition(":")
        kind = kind.strip()
        if kind not in FAULT_KINDS:
            raise ValueError(f"bad fault {token!r}: unknown kind {kind!r}; syntax: {SYNTAX}")
        values: dict[str, float | int | str] = {}
        for opt in (o.strip() for o in opts.split(",")):
            if not opt:
                continue
            key, eq, value = opt.partition("=")
            key = key.strip()
            if not eq or key not in _CONVERTERS:
                raise ValueError(f"bad fault option {opt!r} in {token!r}: unknown key "
                                 f"{key!r}; syntax: {SYNTAX}")
            if key not in {"rate", "route", "times"} | _OWN_OPTIONS[kind]:
                raise ValueError(f"bad fault option {opt!r} in {token!r}: {kind} does not take "
                                 f"{key!r}; syntax: {SYNTAX}")
            if key in values:
                raise ValueError(f"bad fault option {opt!r} in {token!r}: {key!r} is given "
                                 f"twice; syntax: {SYNTAX}")
            try:
                values[key] = _CONVERTERS[key](value.strip())
            except ValueError:
                raise ValueError(f"bad value in {opt!r} of fault {token!r}: expected "
                                 f"{_CONVERTERS[key].__name__}; syntax: {SYNTAX}") from None
        try:
            faults.append(Fault(kind, **values))  # type: ignore[arg-type]
        except ValueError as exc:
            raise ValueError(f"bad fault {token!r}: {exc}; syntax: {SYNTAX}") from None
    return tuple(faults)


class FaultInjector:
    """Decides, deterministically per seed and request order, which faults hit a request."""

    def __init__(self, faults: str | Sequence[Fault], seed: int = 0) -> None:
        self.faults: tuple[Fault, ...] = (
            parse_faults(faults) if isinstance(faults, str) else tuple(faults))
        self._left = [f.times for f in self.faults]
        self._rng = random.Random(seed)
        self._lock = threading.Lock()

    def decide(self, path: str) -> tuple[float, Fault | None]:
        """(seconds of latency to add, the terminal fault that answers, if any)."""
        delay = 0.0
        with self._lock:
            for i, fault in enumerate(self.faults):
                left = self._left[i]
                if not fault.matches(path) or left == 0:
                    continue
                if self._rng.random() >= fault.rate:
                    continue
                if left is not None:
                    self._left[i] = left - 1
                if fault.kind == "latency":
                    delay += fault.seconds
                else:
                    return delay, fault
        return delay, None
