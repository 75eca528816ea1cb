"""The :class:`Emulator`: two werkzeug servers (API host, upload host), one daemon thread."""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import io
import logging
import selectors
import shutil
import socket
import tempfile
import threading
import time
import weakref
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, cast

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from .clock import Clock, ManualClock
from .faults import Fault, FaultInjector
from .http import Service
from .payloads import validate_overrides
from .plans import PlanProfile, resolve_plan
from .state import EmulatorState

if TYPE_CHECKING:
    from heygen_lab.client import HeyGenClient

__all__ = ["DEMO_KEY", "Emulator", "HeldAsset"]

#: The API key every emulator accepts unless told otherwise.
DEMO_KEY: Final = "emulator-demo-key"
_log = logging.getLogger("heygen_lab.emulator")


@dataclass(frozen=True)
class HeldAsset:
    """An asset the emulator holds, as :meth:`Emulator.assets` lists it."""

    asset_id: str
    name: str
    mime_type: str
    size_bytes: int
    status: str
    """``ready``, or ``pending_upload`` for a direct upload not completed."""
    sha256: str | None
    """Of the stored bytes (``None`` while a direct upload's PUT has not arrived)."""


class _Connections:
    """The open connections of one emulator's servers, so that stop() can end kept-alive ones."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: dict[socket.socket, threading.Thread] = {}
        self._closed = False

    def add(self, conn: socket.socket) -> None:
        with self._lock:
            self._open[conn] = threading.current_thread()
            if self._closed:  # accepted just before stop(): serve nothing more on it
                _end_reading(conn)

    def discard(self, conn: socket.socket) -> None:
        with self._lock:
            self._open.pop(conn, None)

    def close(self, timeout: float) -> None:
        """End every connection's reading side (a response being written still completes, an
        idle connection's thread wakes and ends) and wait up to ``timeout`` for their threads."""
        with self._lock:
            self._closed = True
            open_now = list(self._open.items())
        for conn, _ in open_now:
            _end_reading(conn)
        deadline = time.monotonic() + timeout
        for _, thread in open_now:
            if thread is not threading.current_thread():  # stop() called from a handler
                thread.join(max(0.0, deadline - time.monotonic()))


def _end_reading(conn: socket.socket) -> None:
    with contextlib.suppress(OSError):
        conn.shutdown(socket.SHUT_RD)


class _RequestBody(io.RawIOBase):
    """What is left of one request's body (its Content-Length) on a connection: reads end at
    its last byte, so neither the app nor werkzeug's drain after the response can take bytes of
    the next request on a kept-alive connection."""

    def __init__(self, rfile: Any, length: int) -> None:
        self._rfile, self.left = rfile, length

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        want = min(len(buffer), self.left)
        got = self._rfile.readinto(memoryview(buffer)[:want]) if want else 0
        self.left -= got or 0
        return got or 0

    def read(self, size: int | None = -1) -> bytes:
        want = self.left if size is None or size < 0 else min(size, self.left)
        data: bytes = self._rfile.read(want) if want else b""
        self.left -= len(data)
        return data


class _Handler(WSGIRequestHandler):
    """werkzeug's handler, logging to ``heygen_lab.emulator`` at debug level (not stderr), and
    keeping connections alive (HTTP/1.1's default, which clients rely on). werkzeug closes every
    connection because its drain after a response could read into the next request; here a body
    is read through :class:`_RequestBody`, which stops at its Content-Length, and a connection
    stays open only when the body was read whole before the answer went out (else it closes,
    as before). A chunked body always closes. Per emulator: ``timeout`` (also how long an idle
    connection is kept) and ``connections``."""

    disable_nagle_algorithm = True  # headers and body go out as separate writes
    connections: _Connections
    _body: _RequestBody | None = None

    def setup(self) -> None:
        super().setup()
        self.connections.add(self.connection)

    def finish(self) -> None:
        self.connections.discard(self.connection)
        super().finish()

    def run_wsgi(self) -> None:
        length = self.headers.get("Content-Length", "0")
        rfile = self.rfile
        if "Transfer-Encoding" not in self.headers and length.isascii() and length.isdigit():
            self._body = _RequestBody(rfile, int(length))
            self.rfile = cast(Any, self._body)
        try:
            super().run_wsgi()
        finally:
            self.rfile = rfile
            if self._body is None or self._body.left:
                self.close_connection = True
            self._body = None

    def send_header(self, keyword: str, value: str) -> None:
        if (keyword, value) == ("Connection", "close") and not self.close_connection \
                and self._body is not None and not self._body.left:
            return  # the request was read whole: the connection can carry the next one
        super().send_header(keyword, value)

    def log(self, type: str, message: str, *args: Any) -> None:
        _log.debug(message, *args)


class Emulator:
    """A local HeyGen-compatible server; see the package docstring for routes and profiles.

    ``with Emulator(plan="trial") as emu:`` starts both hosts on free loopback ports;
    ``emu.api_base`` / ``emu.upload_base`` are their URLs. Also: ``complete_race`` (answer the
    first ``complete`` after each PUT with 409, as HeyGen may) and ``read_timeout`` (seconds a
    connection may stall while sending a body). ``legacy="retired"`` answers every v1/v2
    route as removed after its announced end of life (410 Gone in the route's envelope [sim]).
    """

    def __init__(self, *, plan: str | PlanProfile = "pro", faults: str | Sequence[Fault] = (),
                 keys: Iterable[str] = (DEMO_KEY,), clock: Clock | None = None,
                 storage_dir: str | Path | None = None, host: str = "127.0.0.1",
                 api_port: int = 0, upload_port: int = 0, seed: int = 0,
                 payload_overrides: Mapping[str, Mapping[str, Any]] | None = None,
                 complete_race: bool = False, read_timeout: float = 30.0,
                 legacy: str = "available") -> None:
        self.keys = tuple(keys)
        if not self.keys:
            raise ValueError("Emulator needs at least one API key")
        self.plan = resolve_plan(plan)
        injector = FaultInjector(faults, seed)
        overrides = validate_overrides(payload_overrides)
        self.clock: Clock = clock if clock is not None else ManualClock()
        self._reset_with = (clock is None, seed)  # what reset() needs: whose clock, which seed
        self.host = host
        self.read_timeout = read_timeout
        self._ports = (api_port, upload_port)
        self._owned_dir = storage_dir is None
        self.storage_dir = Path(storage_dir) if storage_dir is not None else Path(
            tempfile.mkdtemp(prefix="heygen-emulator-"))
        if self._owned_dir:  # also removed if the emulator is never started or stopped
            weakref.finalize(self, shutil.rmtree, self.storage_dir, True)
        self.state = EmulatorState(self.plan, self.clock, self.storage_dir, seed)
        self.state.complete_race = complete_race
        signing_key = hashlib.sha256(f"heygen-lab-emulator:{seed}".encode()).digest()
        self.service = Service(self.state, self.keys, injector, overrides, signing_key,
                               legacy=legacy)
        self.api_base = ""
        self.upload_base = ""
        self._servers: list[BaseWSGIServer] = []
        self._connections = _Connections()
        self._serving: tuple[threading.Thread, socket.socket] | None = None  # and its wake-up
        self._stopped = False

    # ---------------------------------------------------------------- lifecycle
    def start(self) -> Emulator:
        """Bind both servers and serve them from one daemon thread; returns ``self``."""
        if self._servers or self._stopped:
            raise RuntimeError("this Emulator was already started; create a new one")
        self.state.tmp_dir.mkdir(parents=True, exist_ok=True)
        (self.storage_dir / "objects").mkdir(parents=True, exist_ok=True)
        handler = type("_Handler", (_Handler,), {"timeout": self.read_timeout,
                                                  "connections": self._connections})
        host = f"[{self.host}]" if ":" in self.host else self.host
        for kind, port in zip(("api", "upload"), self._ports, strict=True):
            try:
                server = make_server(self.host, port, self.service.wsgi(kind),  # type: ignore[arg-type]
                                     threaded=True, request_handler=handler)
            except BaseException:  # a port taken: release the other one, start nothing
                for bound in self._servers:
                    bound.server_close()
                self._servers.clear()
                raise
            server.timeout = 0  # handle_request() below never waits: it is called when ready
            self._servers.append(server)
        self.api_base, self.upload_base = (f"http://{host}:{s.server_port}" for s in self._servers)
        self.service.api_base, self.service.upload_base = self.api_base, self.upload_base
        wake, wake_end = socket.socketpair()
        thread = threading.Thread(target=self._serve, args=(wake_end,), name="heygen-emulator",
                                  daemon=True)
        self._serving = (thread, wake)
        thread.start()
        return self

    def _serve(self, wake_end: socket.socket) -> None:
        """Accept on both hosts until stop() writes to the wake socket. Each accepted
        connection is served on a thread of its own (werkzeug's threaded server), so a slow
        request on one host never holds up the other."""
        with selectors.DefaultSelector() as selector, wake_end:
            for server in self._servers:
                selector.register(server, selectors.EVENT_READ)
            selector.register(wake_end, selectors.EVENT_READ)
            while True:
                for key, _ in selector.select():
                    if key.fileobj is wake_end:
                        return
                    key.fileobj.handle_request()  # type: ignore[union-attr]

    def stop(self) -> None:
        """Stop both servers, end injected latency, wait briefly for running requests, remove
        owned storage."""
        if self._stopped:
            return
        self._stopped = True
        if self._serving is not None:
            thread, wake = self._serving
            with wake, contextlib.suppress(OSError):  # (a loop that already ended closed its end)
                wake.send(b"\0")  # the serving loop returns at once: nothing polls
            thread.join(timeout=5)
        for server in self._servers:
            server.server_close()
        self.service.stopping.set()
        self.service.wait_idle(timeout=5)
        self._connections.close(timeout=1)
        if self._owned_dir:
            shutil.rmtree(self.storage_dir, ignore_errors=True)

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
        if exc is None:
            self.check()
        else:
            for error in self.service.take_errors():
                exc.add_note(f"emulator handler error meanwhile: {error!r}")

    def __repr__(self) -> str:
        return (f"Emulator(plan={self.plan.name!r}, api_base={self.api_base!r}, "
                f"upload_base={self.upload_base!r})")

    def reset(self) -> None:
        """Forget what this emulator was told since it started, keeping its ports and keys.

        Clears assets, talking photos, videos, every family's records, idempotency records and
        the plan's counters (credits, videos per day), and the stored files; restarts the ids,
        the fault counters and the request ids from the seed, and the clock when the emulator
        made it (a clock given to it is left alone). Plan, faults, keys, payload overrides and
        ports stay. Waits (up to 5 s) for running requests first: call it between tests.
        """
        own_clock, seed = self._reset_with
        self.service.wait_idle(timeout=5)
        old = self.state
        with old.lock:
            if own_clock:
                self.clock = ManualClock()
            for name in ("objects", "tmp"):
                shutil.rmtree(self.storage_dir / name, ignore_errors=True)
                (self.storage_dir / name).mkdir(parents=True, exist_ok=True)
            self.state = EmulatorState(self.plan, self.clock, self.storage_dir, seed)
            self.state.complete_race = old.complete_race
            self.service.state = self.state
            self.service.faults = FaultInjector(self.service.faults.faults, seed)
            self.service.restart_request_ids()

    # ---------------------------------------------------------------- helpers
    def check(self) -> None:
        """Raise the first exception a handler raised since the last check (then forget all)."""
        errors = self.service.take_errors()
        if errors:
            raise errors[0]

    def assets(self) -> list[HeldAsset]:
        """Every asset the emulator holds, pending direct uploads included, in creation order
        (a snapshot: frozen records, safe to keep while requests go on)."""
        with self.state.lock:
            held = sorted(self.state.assets.values(), key=lambda a: a.seq)
            return [HeldAsset(a.asset_id, a.name, a.mime_type, a.size_bytes, a.status, a.sha256)
                    for a in held]

    def client(self, **kwargs: Any) -> HeyGenClient:
        """A :class:`heygen_lab.client.HeyGenClient` pointed at this emulator."""
        # Imported by name: the client is a separate module and the emulator must not need it.
        client_cls: type[HeyGenClient] = importlib.import_module("heygen_lab.client").HeyGenClient
        defaults = {"api_key": DEMO_KEY if DEMO_KEY in self.keys else self.keys[0],
                    "api_base": self.api_base, "upload_base": self.upload_base, "env": {}}
        return client_cls(**{**defaults, **kwargs})
