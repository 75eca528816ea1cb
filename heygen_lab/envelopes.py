"""Decode HeyGen's three response envelopes (v1, v2, v3) into data or an error record.

- v1: ``{"code": 100, "data": {...}}``; error ``{"code": <int>, "message": "..."}``.
  Only code 100 is a success, even on HTTP 200.
- v2: ``{"error": null, "data": {...}}``; error ``{"error": {"code": "<str>", "message"}}``.
- v3: ``{"data": {...}}``; error ``{"error": {"code", "message", "param", "doc_url"}}``.

Bodies that are not envelopes at all (a gateway's HTML, an empty body, truncated JSON) decode to
an error record whose code is ``None`` when the status is not 2xx: the status alone then says
what went wrong, and ``shape`` says what the body looked like (``html``, ``text``, ...).
A 2xx without an envelope is a success only where no envelope is expected (object storage's
empty 200 to the direct-upload PUT); where one is (``expect_envelope=True``: every HeyGen route),
it is an error record with ``style="none"``: something other than HeyGen answered, e.g. a wrong
base URL serving an HTML page.

Object storage (S3, Google Cloud Storage) answers the direct-upload PUT with XML,
``<Error><Code>..</Code><Message>..</Message>...</Error>``; :func:`parse_storage_xml` reads the
code, message and (GCS) details from at most :data:`XML_LIMIT` bytes with the stdlib expat
parser, refusing any DTD or entity declaration, and keeps nothing else (S3 puts the signature it
was given and the string it signed in the same document).

The decoder recognises the envelope by its shape, not by the URL, because HeyGen's own guides
disagree on which envelope some legacy routes use.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Literal
from xml.parsers import expat

from heygen_lab.wire import Style

Shape = Literal["json", "xml", "html", "text", "empty", "binary"]

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
    detail: str | None = None  # storage's <Details> (GCS), when given
    shape: Shape = "json"  # what the body was: json, xml, html, text, empty, binary

    def describe(self) -> str:
        """One line: HeyGen's code and message, or what the body looked like."""
        if self.code is None and self.message is None:
            return f"no HeyGen error envelope in the body ({SHAPE_WORDS[self.shape]})"
        parts = [f"code {self.code!r}" if self.code is not None else "", self.message or ""]
        if self.param:
            parts.append(f"(param {self.param!r})")
        if self.detail:
            parts.append(f"({self.detail})")
        return " ".join(p for p in parts if p)


SHAPE_WORDS: dict[str, str] = {
    "json": "JSON", "xml": "an XML document", "html": "an HTML page", "text": "plain text",
    "empty": "an empty body", "binary": "binary data",
}


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
    """Parse a body as JSON, or return ``None`` when it is empty or not JSON (nor JSON nested
    deeper than Python's parser goes: no HeyGen answer is)."""
    if not content or not content.strip():
        return None
    try:
        return json.loads(content)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None


XML_LIMIT = 64 * 1024
"""At most this many bytes of a body are read as XML (storage error documents are ~1 KB)."""

_STORAGE_FIELDS = {"Code": "code", "Message": "message", "Details": "detail"}
_FIELD_LIMIT = 1000  # characters kept of a field


class _RefusedXML(Exception):
    """The document declares a DTD or entities, or nests deeper than a storage error does."""


def parse_storage_xml(content: bytes) -> dict[str, str] | None:
    """``{"code", "message", "detail"}`` (those present) of an S3/GCS ``<Error>`` document.

    ``None`` when the body is not one: not XML, too long, a root other than ``Error``, or a DTD,
    entity declaration or external reference (refused outright, so no expansion can happen).
    Only ``Code``, ``Message`` and ``Details`` directly under the root are kept.
    """
    if not content or len(content) > XML_LIMIT or content.lstrip()[:1] != b"<":
        return None
    parser = expat.ParserCreate()
    path: list[str] = []
    found: dict[str, list[str]] = {}

    def refuse(*_args: Any) -> None:
        raise _RefusedXML

    def refuse_reference(*_args: Any) -> int:
        raise _RefusedXML

    def start(name: str, _attrs: Any) -> None:
        path.append(name)
        if len(path) > 8 or (len(path) == 1 and name != "Error"):
            raise _RefusedXML

    def end(_name: str) -> None:
        path.pop()

    def chars(data: str) -> None:
        if len(path) == 2 and path[1] in _STORAGE_FIELDS:
            found.setdefault(_STORAGE_FIELDS[path[1]], []).append(data)

    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    parser.UnparsedEntityDeclHandler = refuse
    parser.ExternalEntityRefHandler = refuse_reference
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = chars
    try:
        parser.Parse(content, True)
    except (_RefusedXML, expat.ExpatError, ValueError):
        return None
    fields = {k: " ".join("".join(v).split())[:_FIELD_LIMIT] for k, v in found.items()}
    return {k: v for k, v in fields.items() if v} if fields.get("code") else None


_HTML = re.compile(rb"^\s*(<!doctype\s+html|<html|<head|<body|<title)", re.IGNORECASE)


def body_shape(content: bytes) -> Shape:
    """What a body looks like, in one word."""
    head = content[:512]
    if not content.strip():
        return "empty"
    if _HTML.match(head):
        return "html"
    if head.lstrip()[:1] in {b"{", b"["}:
        return "json"
    if head.lstrip()[:1] == b"<":
        return "xml"
    # A cut through a multi-byte character at the end of the head is not binary.
    text = head.decode("utf-8", "replace").rstrip("\ufffd")
    printable = all(c.isprintable() or c in "\r\n\t" for c in text)
    return "text" if text and printable else "binary"


def decode(status: int, content: bytes, *, request_id: str | None = None,
           expect_envelope: bool = False) -> Decoded:
    """Decode one response body (bytes) with its HTTP status into data or an ErrorRecord.

    A storage ``<Error>`` document becomes a record with ``style="storage"``. With
    ``expect_envelope`` a 2xx whose body is not a HeyGen envelope is an error (see the module
    docstring); an empty 204 is still a success.
    """
    body = parse_json(content)
    if body is None and content.strip():
        storage = parse_storage_xml(content)
        if storage is not None:
            record = ErrorRecord(
                status=status, code=storage["code"], message=storage.get("message"),
                detail=storage.get("detail"), request_id=request_id, style="storage",
                raw=storage, shape="xml")
            return Decoded(style="storage", error=record, body=None)
    shape = body_shape(content)
    decoded = decode_body(status, body, request_id=request_id, shape=shape)
    if (expect_envelope and decoded.ok and decoded.style == "none"
            and not (status == 204 and shape == "empty")):
        record = ErrorRecord(status=status, request_id=request_id, style="none",
                             raw=body, shape=shape)
        return Decoded(style="none", error=record, body=body)
    return decoded


def decode_body(status: int, body: Any, *, request_id: str | None = None,
                shape: Shape | None = None) -> Decoded:
    """Like :func:`decode`, for a body that is already parsed JSON (or ``None``)."""
    http_ok = 200 <= status < 300
    if shape is None:
        shape = "empty" if body is None else "json"

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
            shape=shape,
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
