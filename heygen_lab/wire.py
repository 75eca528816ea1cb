"""The wire vocabulary every layer shares, one definition each.

``Sent`` is what a request was on the wire (route, host, path, encoding, parts), as far as it
is known: the body builders make it, ``diagnose()`` reads it.

A ``Host`` is which of HeyGen's base URLs a request goes to (``storage``: a signed upload URL);
a ``Style`` is which envelope an answer comes in; an ``Encoding`` is how a request body is
built. The client, ``diagnose()``, the contracts, the cassettes and the emulator all speak in
these words.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["HEYGEN_HOSTS", "Encoding", "Host", "Sent", "ServedHost", "Style"]

#: Where a request goes: HeyGen's API host, its legacy upload host, or a signed storage URL.
Host = Literal["api", "upload", "storage"]
#: The two hosts HeyGen serves its API on (and the emulator plays).
ServedHost = Literal["api", "upload"]
#: HeyGen's public host names, and which of its hosts each is (the defaults of the settings).
HEYGEN_HOSTS: dict[str, ServedHost] = {"api.heygen.com": "api", "upload.heygen.com": "upload"}
#: The envelope of an answer: v1 ``{"code": 100, ...}``, v2 ``{"error", "data"}``, v3
#: ``{"data"}`` / ``{"error"}``, storage's XML, or no envelope at all.
Style = Literal["v1", "v2", "v3", "storage", "none"]
#: How a request body is built.
Encoding = Literal["raw", "multipart", "json", "empty"]


@dataclass(frozen=True)
class Sent:
    """What was sent, as far as it is known (all optional: the CLI may only know the endpoint)."""

    route: str | None = None  # a route id from heygen_lab.routes (e.g. "v1-upload")
    host: Host | None = None
    path: str | None = None  # URL path without query, e.g. "/v1/asset"
    encoding: Encoding | None = None
    parts: tuple[str, ...] = ()  # multipart part names in order, e.g. ("type", "asset")
    content_type: str | None = None
    size: int | None = None
    keyed: bool = False  # the request carried an Idempotency-Key (so repeating it is safe)
    origin: str | None = None  # scheme://host[:port] when host is None: a URL's own host as given

    def describe(self) -> str:
        """What the body was, in a few words."""
        if self.encoding == "empty" or (self.encoding == "raw" and self.size == 0):
            return "an empty body"
        if self.encoding == "multipart":
            return f"multipart with parts {list(self.parts)}" if self.parts else "multipart"
        if self.encoding == "json":
            return "a JSON body"
        if self.encoding == "raw":
            return f"raw bytes with Content-Type {self.content_type or '(none)'}"
        return "unknown"
