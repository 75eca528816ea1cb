"""Decode HeyGen's three response envelopes (v1, v2, v3) into data or an error record.

- v1: ``{"code": 100, "data": {...}}``; error ``{"code": <int>, "message": "..."}``.
  Only code 100 is a success, even on HTTP 200.
- v2: ``{"error": null, "data": {...}}``; error ``{"error": {"code": "<str>", "message"}}``.
- v3: ``{"data": {...}}``; error ``{"error": {"code", "message", "param", "doc_url"}}``.

Bodies that are not envelopes at all (a gateway's HTML, an empty body, truncated JSON) decode to
an error record whose code is ``None`` when the status is not 2xx: the status alone then says
what went wrong. A 2xx without an envelope (object storage's empty 200) is a success.
The decoder recognises the envelope by its shape, not by the URL, because HeyGen's own guides
disagree on which envelope some legacy routes use.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

Style = Literal["v1", "v2", "v3", "none"]

V1_SUCCESS = 100


@dataclass(frozen=True)
class ErrorRecord:
    """What a response said when it said no, normalised across envelopes."""

    status: int | None
    code: str | int | None = None
    message: str | None = None
    param: str | None = None
    doc_url: str | None = None
    request_id: str | None = None
    style: Style = "none"
    raw: Any = field(default=None, compare=False, repr=False)

    def describe(self) -> str:
        """One line: HeyGen's code and message, or what the body looked like."""
        if self.code is None and self.message is None:
            return "no HeyGen error envelope in the body"
        parts = [f"code {self.code!r}" if self.code is not None else "", self.message or ""]
        if self.param:
            parts.append(f"(param {self.param!r})")
        return " ".join(p for p in parts if p)


@dataclass(frozen=True)
class Decoded:
    """A decoded response: ``data`` when it succeeded, ``error`` when it did not."""

    style: Style
    data: Any = None
    error: ErrorRecord | None = None
    body: Any = field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        return self.error is None


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def parse_json(content: bytes) -> Any:
    """Parse a body as JSON, or return ``None`` when it is empty or not JSON."""
    if not content or not content.strip():
        return None
    try:
        return json.loads(content)
    except (ValueError, UnicodeDecodeError):
        return None


def decode(status: int, content: bytes, *, request_id: str | None = None) -> Decoded:
    """Decode one response body (bytes) with its HTTP status into data or an ErrorRecord."""
    return decode_body(status, parse_json(content), request_id=request_id)


def decode_body(status: int, body: Any, *, request_id: str | None = None) -> Decoded:
    """Like :func:`decode`, for a body that is already parsed JSON (or ``None``)."""
    http_ok = 200 <= status < 300

    def fail(style: Style, code: Any = None, message: Any = None, err: Any = None) -> Decoded:
        extra = err if isinstance(err, dict) else {}
        record = ErrorRecord(
            status=status,
            code=code if isinstance(code, int | str) and not isinstance(code, bool)
            else _text(code),
            message=_text(message),
            param=_text(extra.get("param")),
            doc_url=_text(extra.get("doc_url")),
            request_id=request_id,
            style=style,
            raw=body,
        )
        return Decoded(style=style, error=record, body=body)

    if not isinstance(body, dict):
        if http_ok:  # e.g. object storage answering a PUT with an empty 200
            return Decoded(style="none", data=body, body=body)
        return fail("none")

    # v1: an integer ``code`` at the top; only 100 means success, whatever the HTTP status.
    if "code" in body and "error" not in body:
        code = body.get("code")
        message = body.get("message") or body.get("msg")
        if code == V1_SUCCESS and http_ok:
            return Decoded(style="v1", data=body.get("data"), body=body)
        return fail("v1", code, message)

    error = body.get("error")
    if error is not None:
        style: Style = "v2" if "data" in body else "v3"
        if isinstance(error, dict):
            return fail(style, error.get("code"), error.get("message"), error)
        return fail(style, None, error)
    if "error" in body:  # ``"error": null`` is the v2 success shape
        if http_ok:
            return Decoded(style="v2", data=body.get("data"), body=body)
        return fail("v2")
    if "data" in body and http_ok:
        return Decoded(style="v3", data=body["data"], body=body)
    if http_ok:
        return Decoded(style="none", data=body, body=body)
    return fail("none", None, body.get("message"))
