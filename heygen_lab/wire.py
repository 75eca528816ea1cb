"""The wire vocabulary every layer shares, one definition each.

A ``Host`` is which of HeyGen's base URLs a request goes to (``storage``: a signed upload URL);
a ``Style`` is which envelope an answer comes in; an ``Encoding`` is how a request body is
built. The client, ``diagnose()``, the contracts, the cassettes and the emulator all speak in
these words.
"""

from __future__ import annotations

from typing import Literal

__all__ = ["Encoding", "Host", "ServedHost", "Style"]

#: Where a request goes: HeyGen's API host, its legacy upload host, or a signed storage URL.
Host = Literal["api", "upload", "storage"]
#: The two hosts HeyGen serves its API on (and the emulator plays).
ServedHost = Literal["api", "upload"]
#: The envelope of an answer: v1 ``{"code": 100, ...}``, v2 ``{"error", "data"}``, v3
#: ``{"data"}`` / ``{"error"}``, storage's XML, or no envelope at all.
Style = Literal["v1", "v2", "v3", "storage", "none"]
#: How a request body is built.
Encoding = Literal["raw", "multipart", "json", "empty"]
