"""Block the network at the socket level while replaying: only loopback may be reached.

vcrpy intercepts the HTTP libraries it patches (requests, urllib3, httpx, ...); anything else
(``urllib.request``, a raw socket, a gRPC channel) would reach the internet during a replay.
:func:`block_network` closes that gap for the duration of a ``with`` block: ``connect`` and
``connect_ex`` of every ``socket.socket``, ``socket.create_connection`` and name resolution
(``socket.getaddrinfo``) refuse any destination that is not loopback, before a packet leaves,
with :class:`NetworkBlocked` naming the host and the way out. Loopback (``127.0.0.0/8``,
``::1``, ``localhost``) and Unix sockets stay allowed, so a local emulator still answers.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from heygen_lab.errors import HeyGenError

__all__ = ["NetworkBlocked", "block_network", "is_loopback"]

_LOCK = threading.Lock()


class NetworkBlocked(HeyGenError, RuntimeError):
    """A connection to a non-loopback host was attempted while the network is blocked.

    Not an ``OSError`` on purpose: HTTP libraries wrap (and retry) those; this one reaches the
    test as it is.
    """

    def __init__(self, host: str, port: object, hint: str) -> None:
        self.host = host
        self.port = port
        where = f"{host}:{port}" if port is not None else host
        super().__init__(f"heygen-lab blocked a connection to {where}: the network is blocked "
                         f"while replaying (only loopback is allowed); {hint}")


def is_loopback(host: object) -> bool:
    """Whether ``host`` (a name or an address, str or bytes) can only mean this machine."""
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if not isinstance(host, str):
        return False
    name = host.strip("[]").split("%", 1)[0].rstrip(".").lower()
    if name in ("", "localhost") or name.endswith(".localhost"):
        return True  # "" is the wildcard a server binds to
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified  # 0.0.0.0 connects to this host


def _destination(address: Any) -> tuple[str, object] | None:
    """(host, port) of an internet socket address; None for a local (Unix, netlink) one."""
    if isinstance(address, tuple) and address and isinstance(address[0], str | bytes):
        host = address[0]
        port = address[1] if len(address) > 1 else None
        return (host.decode("ascii", "replace") if isinstance(host, bytes) else host), port
    return None


@contextmanager
def block_network(hint: str) -> Iterator[None]:
    """Within the block, connections to anything but loopback raise :class:`NetworkBlocked`
    (whose message ends with ``hint``: how to run with the network). Restored on exit, also when
    the block raises; blocks may nest."""
    def check(host: object, port: object) -> None:
        if host is not None and not is_loopback(host):
            text = host.decode("ascii", "replace") if isinstance(host, bytes) else str(host)
            raise NetworkBlocked(text, port, hint)

    with _LOCK:
        real_connect = socket.socket.connect
        real_connect_ex = socket.socket.connect_ex
        real_create = socket.create_connection
        real_getaddrinfo = socket.getaddrinfo

        def connect(self: socket.socket, address: Any) -> None:
            if self.family in (socket.AF_INET, socket.AF_INET6):
                dest = _destination(address)
                if dest is not None:
                    check(*dest)
            real_connect(self, address)

        def connect_ex(self: socket.socket, address: Any) -> int:
            if self.family in (socket.AF_INET, socket.AF_INET6):
                dest = _destination(address)
                if dest is not None:
                    check(*dest)
            return real_connect_ex(self, address)

        def create_connection(address: tuple[str, int], *args: Any, **kwargs: Any
                              ) -> socket.socket:
            check(address[0], address[1])
            return real_create(address, *args, **kwargs)

        def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
            check(host, port)
            return real_getaddrinfo(host, port, *args, **kwargs)

        socket.socket.connect = connect  # type: ignore[method-assign,assignment]
        socket.socket.connect_ex = connect_ex  # type: ignore[method-assign,assignment]
        socket.create_connection = create_connection  # type: ignore[assignment]
        socket.getaddrinfo = getaddrinfo
    try:
        yield
    finally:
        with _LOCK:
            socket.socket.connect = real_connect  # type: ignore[method-assign]
            socket.socket.connect_ex = real_connect_ex  # type: ignore[method-assign]
            socket.create_connection = real_create
            socket.getaddrinfo = real_getaddrinfo
