"""Body fingerprints and the boundary-blind body matcher.

A fingerprint describes a request body without holding it: encoding, content type, size,
sha256 and the first bytes; for multipart bodies, each part's name, filename, content type,
size and sha256, and never the boundary (random per request, so it can't be matched on).
Small JSON bodies are kept parsed, so cassettes stay readable and key order doesn't matter.

Speed: a multipart body is walked in place (no slice of it is copied, each part is hashed
through a ``memoryview``), and a request's fingerprint is computed once and remembered for as
long as the request object lives (:func:`request_fingerprint`), so matching one request
against many recorded ones costs one fingerprint each, not one per comparison.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import threading
import weakref
from collections.abc import Iterable
from email.message import Message
from email.utils import collapse_rfc2231_value
from typing import Any

from vcr.request import Request

MATCHER_NAME = "heygen_body"
FINGERPRINT_PREFIX = "heygen-lab-fingerprint/1 "
"""What a fingerprinted body starts with in a cassette; the rest is sorted compact JSON."""

_JSON_LIMIT = 16_384  # larger JSON bodies are fingerprinted like any other bytes
_VALUE_LIMIT = 256  # text form fields up to this size are kept readable in the fingerprint
_MAX_DIFF_LINES = 12


def _sha(data: bytes | memoryview) -> str:
    return hashlib.sha256(data).hexdigest()


def _mime(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def fingerprint(content_type: str | None, body: bytes | str | None) -> dict[str, Any]:
    """Describe a request body by its encoding, sizes and hashes; never raises."""
    data = body.encode("utf-8") if isinstance(body, str) else bytes(body or b"")
    ct = content_type.strip() if content_type else None
    mime = _mime(ct)
    if mime.startswith("multipart/"):
        return _multipart(ct or "", mime, data)
    if data and (mime == "application/json" or mime.endswith("+json")) and (
        len(data) <= _JSON_LIMIT
    ):
        try:
            return {"encoding": "json", "content_type": ct, "json": json.loads(data)}
        except ValueError:
            pass
    return _opaque(ct, mime, len(data), _sha(data), data[:16])


def _opaque(ct: str | None, mime: str, size: int, sha256: str, head: bytes) -> dict[str, Any]:
    """The fingerprint of a body kept only by size, hash and its first bytes."""
    if not size:
        encoding = "empty"
    elif mime.startswith("text/") or mime == "application/x-www-form-urlencoded":
        encoding = "text"
    else:
        encoding = "raw"
    return {"encoding": encoding, "content_type": ct, "size": size, "sha256": sha256,
            "head": head[:16].hex()}


def _multipart(content_type: str, mime: str, data: bytes) -> dict[str, Any]:
    malformed = {"encoding": "multipart-malformed", "size": len(data), "sha256": _sha(data)}
    header = Message()
    header["Content-Type"] = content_type
    boundary = header.get_param("boundary")
    if not isinstance(boundary, str) or not boundary:
        return malformed
    delimiter = b"--" + boundary.encode("latin-1", "replace")
    start = data.find(delimiter)
    if start < 0 or (start > 0 and data[start - 2:start] != b"\r\n"):
        return malformed
    # Walk the parts by offsets: a 32 MiB part is hashed where it lies, never sliced.
    view = memoryview(data)
    separator = b"\r\n" + delimiter
    parts: list[dict[str, Any]] = []
    pos = start + len(delimiter)
    while True:
        found = data.find(separator, pos)
        end = len(data) if found < 0 else found
        if data.startswith(b"--", pos, end):
            return {"encoding": "multipart", "content_type": mime, "parts": parts}
        while pos < end and data[pos] in b" \t":
            pos += 1
        if data.find(b"\r\n", pos, end) != pos:  # text after the delimiter, or no line end
            return malformed
        pos += 2
        if data.startswith(b"\r\n", pos, end):
            raw_headers, pos = b"", pos + 2
        else:
            blank = data.find(b"\r\n\r\n", pos, end)
            if blank < 0:
                return malformed
            raw_headers, pos = data[pos:blank], blank + 4
        parts.append(_part(raw_headers, view[pos:end]))
        if found < 0:
            return malformed  # no closing delimiter
        pos = found + len(separator)


def _part(raw_headers: bytes, content: bytes | memoryview) -> dict[str, Any]:
    headers = Message()
    for line in re.split(r"\r\n(?![ \t])", raw_headers.decode("utf-8", "replace")):
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip()] = " ".join(value.split())
    name = headers.get_param("name", header="content-disposition")
    filename = headers.get_filename()
    part: dict[str, Any] = {
        "name": None if name is None else collapse_rfc2231_value(name),
        "filename": filename,
        "content_type": headers.get("content-type"),
        "size": len(content),
        "sha256": _sha(content),
    }
    if filename is None and len(content) <= _VALUE_LIMIT:
        with contextlib.suppress(UnicodeDecodeError):
            part["value"] = bytes(content).decode("utf-8")
    return part


def encode_fingerprint(fp: dict[str, Any]) -> str:
    """The canonical string stored in a cassette in place of a body."""
    # ASCII only: YAML would mangle some characters (U+0085 NEL) in a stored string.
    return FINGERPRINT_PREFIX + json.dumps(fp, sort_keys=True, separators=(",", ":"))


def body_bytes(request: Request) -> bytes:
    """A vcrpy request's body as bytes, whether it was bytes, text, a file or an iterator."""
    body = request.body
    if body is None:
        return b""
    if isinstance(body, str):
        return body.encode("utf-8")
    if isinstance(body, bytes | bytearray):
        return bytes(body)
    if hasattr(body, "read"):
        data = body.read()
        return data.encode("utf-8") if isinstance(data, str) else bytes(data)
    return b"".join(c.encode("utf-8") if isinstance(c, str) else bytes(c) for c in body)


_CACHE: weakref.WeakKeyDictionary[Request, tuple[object, str | None, dict[str, Any]]] = (
    weakref.WeakKeyDictionary())
_CACHE_LOCK = threading.Lock()


def _content_type(request: Request) -> str | None:
    value = request.headers.get("Content-Type")
    return value if value is None or isinstance(value, str) else str(value)


def _remember(request: Request, fp: dict[str, Any]) -> None:
    entry = (getattr(request, "_body", None), _content_type(request), fp)
    with _CACHE_LOCK:
        _CACHE[request] = entry


def request_fingerprint(request: Request) -> dict[str, Any]:
    """The fingerprint of a request, whether its body is stored as one already or not.

    Remembered per request object (weakly: it goes with the request) until its body or its
    Content-Type changes; treat the returned dict as read-only.
    """
    with _CACHE_LOCK:
        cached = _CACHE.get(request)
    if (cached is not None and cached[0] is getattr(request, "_body", None)
            and cached[1] == _content_type(request)):
        return cached[2]
    data = body_bytes(request)
    prefix = FINGERPRINT_PREFIX.encode()
    fp: dict[str, Any] | None = None
    if data.startswith(prefix):
        try:
            stored = json.loads(data[len(prefix):])
        except ValueError:
            stored = None
        if isinstance(stored, dict):
            fp = stored
    if fp is None:
        fp = fingerprint(request.headers.get("Content-Type"), data)
    _remember(request, fp)
    return fp


def _frozen(value: Any) -> Any:
    """A hashable form of a JSON value; equal exactly when the values compare equal."""
    if isinstance(value, dict):
        return ("{", frozenset((k, _frozen(v)) for k, v in value.items()))
    if isinstance(value, list):
        return ("[", tuple(_frozen(v) for v in value))
    return value


def body_key(request: Request) -> Any:
    """A hashable key: two requests pass :func:`body_matcher` exactly when their keys are equal
    (what a replay index buckets recorded requests by)."""
    return _frozen(request_fingerprint(request))


def fingerprint_request(request: Request) -> Request:
    """vcrpy ``before_record_request`` hook: a copy of the request whose body is its fingerprint.

    Returns a new request and leaves the given one untouched (vcrpy forwards the original's
    bytes to the server). Bodies already fingerprinted and empty bodies are kept as they are.
    """
    data = body_bytes(request)
    if not data or data.startswith(FINGERPRINT_PREFIX.encode()):
        body = None if request.body is None else data
        return Request(request.method, request.uri, body, request.headers)
    fp = fingerprint(request.headers.get("Content-Type"), data)
    new = Request(request.method, request.uri, encode_fingerprint(fp), request.headers)
    _remember(new, fp)  # matching it later needn't parse the string back
    return new


def _diff(new: Any, old: Any, path: str) -> list[str]:
    if isinstance(new, dict) and isinstance(old, dict):
        out: list[str] = []
        for key in sorted(set(new) | set(old), key=str):
            sub = f"{path}.{key}" if path else str(key)
            if key not in new:
                out.append(f"{sub}: absent in this request, recorded {old[key]!r}")
            elif key not in old:
                out.append(f"{sub}: this request {new[key]!r}, absent in the recording")
            else:
                out += _diff(new[key], old[key], sub)
        return out
    if isinstance(new, list) and isinstance(old, list):
        out = []
        if len(new) != len(old):
            out.append(f"{path}: {len(new)} items in this request, {len(old)} recorded")
        for i, (a, b) in enumerate(zip(new, old, strict=False)):
            out += _diff(a, b, f"{path}[{i}]")
        return out
    return [] if new == old else [f"{path or 'body'}: this request {new!r}, recorded {old!r}"]


def _order_note(new: dict[str, Any], old: dict[str, Any]) -> list[str]:
    a, b = new.get("parts"), old.get("parts")
    if not (isinstance(a, list) and isinstance(b, list)) or a == b:
        return []
    def key(part: Any) -> str:
        return json.dumps(part, sort_keys=True)

    if sorted(a, key=key) != sorted(b, key=key):
        return []
    names_a = [p.get("name") if isinstance(p, dict) else p for p in a]
    names_b = [p.get("name") if isinstance(p, dict) else p for p in b]
    return [f"part order: this request {names_a}, recorded {names_b}"]


def body_matcher(r1: Request, r2: Request) -> None:
    """vcrpy matcher: bodies match when their fingerprints do (the multipart boundary is ignored).

    vcrpy passes the request being made first and the recorded one second. On a mismatch it
    raises AssertionError naming each field that differs.
    """
    new, old = request_fingerprint(r1), request_fingerprint(r2)
    if new == old:
        return
    lines = _order_note(new, old) + _diff(new, old, "")
    if len(lines) > _MAX_DIFF_LINES:
        lines = [*lines[:_MAX_DIFF_LINES], f"... ({len(lines) - _MAX_DIFF_LINES} more)"]
    raise AssertionError("request body differs: " + "; ".join(lines))


# ---------------------------------------------------------------------- streamed bodies
def stream_fingerprint(content_type: str | None, chunks: Iterable[bytes]) -> dict[str, Any]:
    """:func:`fingerprint` of the concatenated ``chunks``,
    computed without holding them: for any body over the JSON limit, the same dict."""

    ct = content_type.strip() if content_type else None
    mime = _mime(ct)
    whole = hashlib.sha256()
    size = 0
    head = b""
    parser = _MultipartStream(ct or "") if mime.startswith("multipart/") else None
    for chunk in chunks:
        if not chunk:
            continue
        whole.update(chunk)
        size += len(chunk)
        if len(head) < 16:
            head += chunk[:16 - len(head)]
        if parser is not None:
            parser.feed(chunk)
    if parser is not None:
        parts = parser.finish()
        if parts is None:
            return {"encoding": "multipart-malformed", "size": size, "sha256": whole.hexdigest()}
        return {"encoding": "multipart", "content_type": mime, "parts": parts}
    if size and (mime == "application/json" or mime.endswith("+json")) and (
            size <= _JSON_LIMIT):
        raise ValueError("stream_fingerprint: a small JSON body is fingerprinted whole")
    return _opaque(ct, mime, size, whole.hexdigest(), head)


class _Malformed(Exception):
    pass


class _MultipartStream:
    """The multipart half of :func:`stream_fingerprint`: the parse of ``fingerprints._multipart``
    (first delimiter, then pieces split on CRLF + delimiter, a closing ``--``), fed in chunks.
    Holds at most a delimiter's length, a part's headers and 257 bytes of a part's content."""

    def __init__(self, content_type: str) -> None:
        from email.message import Message

        header = Message()
        header["Content-Type"] = content_type
        boundary = header.get_param("boundary")
        self.result: list[dict[str, Any]] | None = None
        self.failed = not isinstance(boundary, str) or not boundary
        self.done = self.failed
        delimiter = b"--" + (boundary.encode("latin-1", "replace")
                             if isinstance(boundary, str) else b"")
        self.delimiter, self.separator = delimiter, b"\r\n" + delimiter
        self.started = False
        self.buffer = b""
        self.seen = 0  # bytes dropped from the front of the buffer before the first delimiter
        self.parts: list[dict[str, Any]] = []
        self.piece: _Piece | None = None

    def feed(self, chunk: bytes) -> None:
        if self.done:
            return
        self.buffer += chunk
        try:
            self._advance(final=False)
        except _Malformed:
            self.failed = self.done = True
            self.buffer = b""

    def finish(self) -> list[dict[str, Any]] | None:
        if not self.done:
            try:
                self._advance(final=True)
                if not self.done:  # the body ended without a closing delimiter
                    self.failed = self.done = True
            except _Malformed:
                self.failed = self.done = True
        return None if self.failed else self.result

    def _advance(self, final: bool) -> None:
        if not self.started:
            at = self.buffer.find(self.delimiter)
            if at < 0:
                if final:
                    raise _Malformed
                keep = len(self.delimiter) + 1
                if len(self.buffer) > keep:
                    self.seen += len(self.buffer) - keep
                    self.buffer = self.buffer[-keep:]
                return
            start = self.seen + at
            if start > 0 and (start < 2 or self.buffer[at - 2:at] != b"\r\n"):
                raise _Malformed
            self.started = True
            self.buffer = self.buffer[at + len(self.delimiter):]
            self.piece = _Piece()
        while not self.done:
            assert self.piece is not None
            at = self.buffer.find(self.separator)
            if at < 0:
                keep = 0 if final else len(self.separator) - 1
                cut = max(len(self.buffer) - keep, 0)
                self._piece_data(self.buffer[:cut])
                self.buffer = self.buffer[cut:]
                if final and not self.done:
                    self._piece_end()
                    if not self.done:
                        raise _Malformed
                return
            self._piece_data(self.buffer[:at])
            self.buffer = self.buffer[at + len(self.separator):]
            if self.done:
                return
            self._piece_end()
            if not self.done:
                self.piece = _Piece()

    def _piece_data(self, data: bytes) -> None:
        assert self.piece is not None
        if self.piece.feed(data):  # a closing delimiter: the parts are complete
            self.result, self.done = self.parts, True

    def _piece_end(self) -> None:
        assert self.piece is not None
        closing, part = self.piece.end()
        if closing:
            self.result, self.done = self.parts, True
        else:
            self.parts.append(part)


class _Piece:
    """One piece between delimiters: ``--`` (closing), or CRLF, headers, CRLF CRLF, content."""

    def __init__(self) -> None:
        self.start = b""  # the first bytes, until it is known whether the piece starts '--'
        self.phase = "start"
        self.head = b""  # after the CRLF: headers until CRLF CRLF
        self.raw_headers = b""
        self.hash = hashlib.sha256()
        self.size = 0
        self.kept = b""

    def feed(self, data: bytes) -> bool:
        """Take ``data``; True when the piece is a closing delimiter."""
        if self.phase == "start":
            self.start += data
            if len(self.start) < 2:
                return False
            if self.start.startswith(b"--"):
                return True
            data, self.start, self.phase = self.start, b"", "strip"
        if self.phase == "strip":
            if not self.start:  # spaces and tabs before the CRLF are skipped
                data = data.lstrip(b" \t")
                if not data:
                    return False
            self.start += data
            if len(self.start) < 2:
                return False
            if not self.start.startswith(b"\r\n"):
                raise _Malformed
            data, self.phase = self.start[2:], "headers"
        if self.phase == "headers":
            searched = max(len(self.head) - 3, 0)
            self.head += data
            if len(self.head) < 2:
                return False
            if self.head.startswith(b"\r\n"):
                data, self.raw_headers = self.head[2:], b""
            else:
                at = self.head.find(b"\r\n\r\n", searched)
                if at < 0:
                    return False
                data, self.raw_headers = self.head[at + 4:], self.head[:at]
            self.head, self.phase = b"", "content"
        self.hash.update(data)
        self.size += len(data)
        if len(self.kept) <= 256:
            self.kept += data[:257 - len(self.kept)]
        return False

    def end(self) -> tuple[bool, dict[str, Any]]:

        if self.phase != "content":
            # Under 2 bytes, no CRLF after the delimiter, or headers that never end.
            raise _Malformed
        if self.size <= 256:
            return False, _part(self.raw_headers, self.kept)
        part = _part(self.raw_headers, b"")
        part.pop("value", None)
        part["size"], part["sha256"] = self.size, self.hash.hexdigest()
        return False, part
