"""Every error payload the emulator emits, in one table.

Handlers never write an error body inline: they raise :class:`Refusal` with an identifier from
:data:`PAYLOADS`, and :func:`render` turns it into (status, headers, body). Each row says where it
comes from: ``documented`` (HeyGen's docs / official CLI), ``reported`` (seen by users; ``[once]``
when one source only) or ``simulated`` (the emulator's own choice where public sources say nothing).

``payload_overrides`` (an ``Emulator`` argument) replaces fields of an emitted error: for v1 the
top-level fields, for v2/v3 the fields of the ``error`` object, for storage the XML elements; the
special key ``status`` replaces the HTTP status. This is how a test proves that a drifted payload
is detected.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal
from xml.sax.saxutils import escape

__all__ = ["PAYLOADS", "ErrorPayload", "PayloadStyle", "Provenance", "Refusal", "render",
           "validate_overrides"]

PayloadStyle = Literal["v1", "v2", "v3", "storage", "embedded"]
Provenance = Literal["documented", "reported", "simulated"]


@dataclass(frozen=True)
class ErrorPayload:
    """One pinned error payload: HTTP status, envelope style, code, message template, source."""

    status: int
    style: PayloadStyle
    code: int | str
    message: str
    provenance: Provenance
    note: str = ""


_D: Final = "documented"
_R: Final = "reported"
_S: Final = "simulated"
P = ErrorPayload

PAYLOADS: Final[Mapping[str, ErrorPayload]] = {
    # ---- v1 envelope: {"code": <int>, "message": "..."} ----
    "v1.asset_data_missing": P(400, "v1", 40001, "asset data must be provided", _R,
                               "multipart or empty body on upload host [many]; HTTP 400 [once]"),
    "v1.unauthorized": P(401, "v1", 400112, "Unauthorized", _R, "wrong key [once]"),
    "v1.unsupported_content_type": P(400, "v1", 400175,
                                     "unsupported Content-Type {content_type!r}: send the raw file "
                                     "bytes with Content-Type one of {allowed}", _S,
                                     "code 400175 INVALID_PARAMETER documented; message simulated"),
    "v1.invalid_parameter": P(400, "v1", 400175, "{detail}", _S, "documented code, own message"),
    "v1.tier_not_supported": P(403, "v1", 400599, "{feature} is not supported by plan {plan!r}",
                               _S, "code 400599 TIER_NOT_SUPPORT documented; status, message sim."),
    "v1.video_not_found": P(404, "v1", 40104, "video {video_id} not found", _D,
                            "code documented; message and status simulated"),
    "v1.wrong_host": P(404, "v1", 404, "Not Found", _R,
                       "POST api.heygen.com/v1/asset -> 404 [once]; body simulated"),
    "v1.not_found": P(404, "v1", 404, "Not Found", _S),
    "v1.method_not_allowed": P(405, "v1", 405, "Method Not Allowed", _S),
    "v1.payload_too_large": P(413, "v1", 413, "request body exceeds {limit} bytes", _S,
                              "no documented v1 limit; the emulator refuses absurd sizes"),
    "v1.rate_limited": P(429, "v1", 429, "Too Many Requests", _S),
    "v1.internal_error": P(500, "v1", 500, "Internal Server Error", _S),
    "v1.endpoint_removed": P(410, "v1", 410, "This v1 endpoint is Legacy and was removed on "
                             "{removed_on}; use the v3 API", _S,
                             "Emulator(legacy='retired'): what HeyGen answers after the announced "
                             "end of life is undocumented; 410 Gone (RFC 9110) in the v1 shape"),
    "v1.video_render_failed": P(200, "embedded", 40119,
                                "Video render failed: the video is too long for your plan", _D,
                                "code 40119 documented; carried in data.error of video_status.get"),
    # ---- v2 envelope: {"error": {"code": "<str>", "message": "..."}, "data": null} ----
    "v2.unauthorized": P(401, "v2", "internal_error", "Unauthorized", _R,
                         "legacy v2 uses internal_error even for 401 [many]"),
    "v2.invalid_parameter": P(400, "v2", "invalid_parameter", "{detail}", _S,
                              "reports show internal_error for some v2 400s [many]"),
    "v2.avatar_not_found": P(404, "v2", "avatar_not_found", "{what} {avatar_id!r} not found", _R,
                             "code from a seed report; status 404 from the v3 table"),
    "v2.voice_not_found": P(404, "v2", "voice_not_found", "voice {voice_id!r} not found", _S,
                            "code documented for v3"),
    "v2.not_found": P(404, "v2", "not_found", "{detail}", _S),
    "v2.method_not_allowed": P(405, "v2", "method_not_allowed", "Method Not Allowed", _S),
    "v2.payload_too_large": P(413, "v2", "payload_too_large", "request body exceeds {limit} bytes",
                              _S),
    "v2.trial_video_limit_exceeded": P(429, "v2", "trial_video_limit_exceeded",
                                       "Exceeded the usage limit: daily api trial limit {limit}.",
                                       _R, "[many]; message prefix simulated"),
    "v2.insufficient_credit": P(402, "v2", "insufficient_credit",
                                "insufficient credit: {balance} left, {cost} needed", _S,
                                "v3 code reused in the v2 envelope"),
    "v2.endpoint_removed": P(410, "v2", "internal_error", "This v2 endpoint is Legacy and was "
                             "removed on {removed_on}; use the v3 API", _S,
                             "Emulator(legacy='retired'): undocumented; 410 Gone, v2's habitual "
                             "internal_error code [many], the wording of the deprecation notice "
                             "reported before the date [once, postiz #1838] in the past tense"),
    "v2.rate_limited": P(429, "v2", "rate_limit_exceeded", "Too Many Requests", _S),
    "v2.internal_error": P(500, "v2", "internal_error", "Internal Server Error", _S),
    # ---- v3 envelope: {"error": {"code", "message", "param", "doc_url"}} ----
    "v3.unauthorized": P(401, "v3", "authentication_failed", "invalid or missing API key", _D,
                         "code documented; message simulated"),
    "v3.invalid_parameter": P(400, "v3", "invalid_parameter", "{detail}", _D,
                              "code documented; messages simulated"),
    "v3.payload_too_large": P(413, "v3", "payload_too_large",
                              "file exceeds {limit} bytes; use direct uploads for larger files",
                              _D, "CLI maps 413 to payload_too_large; one guide says 400 [once]"),
    "v3.request_in_progress": P(409, "v3", "request_in_progress",
                                "a request with this Idempotency-Key is still in progress", _D),
    "v3.upload_not_found_yet": P(409, "v3", "conflict", "uploaded object not found yet", _R,
                                 "complete right after the PUT [once]"),
    "v3.forbidden": P(403, "v3", "forbidden", "{feature} is not available on plan {plan!r}", _S,
                      "code documented; tier gating on v3 simulated"),
    "v3.not_found": P(404, "v3", "not_found", "{detail}", _D),
    "v3.public_catalogue": P(403, "v3", "forbidden",
                             "{what} {id!r} belongs to the public catalogue and cannot be "
                             "changed or deleted", _S, "code documented; the refusal simulated"),
    "v3.voice_not_usable": P(400, "v3", "voice_not_usable", "voice {voice_id!r} is {voice_status}",
                             _S, "code documented (CLI codes.go); status and message simulated"),
    "v3.avatar_not_found": P(404, "v3", "avatar_not_found", "{what} {avatar_id!r} not found", _D),
    "v3.voice_not_found": P(404, "v3", "voice_not_found", "voice {voice_id!r} not found", _D),
    "v3.video_not_found": P(404, "v3", "video_not_found", "video {video_id!r} not found", _D),
    "v3.method_not_allowed": P(405, "v3", "method_not_allowed", "Method Not Allowed", _S),
    "v3.insufficient_credit": P(402, "v3", "insufficient_credit",
                                "insufficient credit: {balance} left, {cost} needed", _D),
    "v3.trial_video_limit_exceeded": P(429, "v3", "trial_video_limit_exceeded",
                                       "Exceeded the usage limit: daily api trial limit {limit}.",
                                       _S, "v2 report carried over to v3"),
    "v3.rate_limited": P(429, "v3", "rate_limit_exceeded", "Too Many Requests", _D),
    "v3.internal_error": P(500, "v3", "internal_error", "Internal Server Error", _D),
    "v3.not_implemented": P(501, "v3", "not_implemented",
                            "the emulator does not serve {operation} yet", _S,
                            "the emulator's own answer; HeyGen serves every spec operation"),
    "v3.conflict": P(409, "v3", "conflict", "{detail}", _S,
                     "409 for state conflicts is documented (developers.heygen.com/changelog); "
                     "code as reported for "
                     "complete [once]; when each endpoint answers it is simulated"),
    "v3.job_failed": P(200, "embedded", "job_failed",
                       "{what} failed: the request asked the emulator to fail it ([fail])", _S,
                       "a job's failure_message / error; the emulator's own trigger"),
    "v3.video_render_failed": P(200, "embedded", "video_render_failed",
                                "Video render failed: the video is too long for your plan", _S),
    # ---- object storage behind direct-upload URLs: XML, never a HeyGen envelope ----
    "storage.signature_mismatch": P(403, "storage", "SignatureDoesNotMatch",
                                    "The request signature does not match ({detail})", _R,
                                    "extra headers break the signature: 403 [once]"),
    "storage.unsigned_header": P(403, "storage", "AccessDenied",
                                 "Header {header} is not allowed on a pre-signed upload", _R,
                                 "API key on the PUT -> 403 [once]"),
    "storage.expired": P(403, "storage", "AccessDenied", "Request has expired", _S),
    "storage.size_mismatch": P(403, "storage", "AccessDenied",
                               "Body size {size} does not match the signed size {signed}", _S),
    "storage.missing_length": P(411, "storage", "MissingContentLength",
                                "You must provide the Content-Length HTTP header.", _S),
    "storage.no_such_upload": P(404, "storage", "NoSuchUpload", "{detail}", _S),
    "storage.incomplete_body": P(400, "storage", "IncompleteBody",
                                 "The request body ended before Content-Length bytes", _S),
    "storage.not_found": P(404, "storage", "NoSuchKey", "The specified key does not exist.", _S),
    "storage.method_not_allowed": P(405, "storage", "MethodNotAllowed", "Method Not Allowed", _S),
    "storage.rate_limited": P(503, "storage", "SlowDown", "Please reduce your request rate.", _S),
    "storage.internal_error": P(500, "storage", "InternalError",
                                "We encountered an internal error.", _S),
}
del P


class Refusal(Exception):
    """Raised inside a handler: refuse the request with payload ``pid`` (formatted with ``fmt``).

    The emulator's own word for an error answer, apart from the client's ``APIError`` (an
    error answer the client received)."""

    def __init__(self, pid: str, *, param: str | None = None, status: int | None = None,
                 headers: Mapping[str, str] | None = None, cacheable: bool = True,
                 **fmt: Any) -> None:
        if pid not in PAYLOADS:
            raise KeyError(f"unknown payload identifier {pid!r}")
        super().__init__(pid)
        self.pid = pid
        self.param = param
        self.status = status
        self.headers = dict(headers or {})
        #: False for transport failures (a body that ended early): not kept for idempotent replay.
        self.cacheable = cacheable
        self.fmt = fmt


def validate_overrides(overrides: Mapping[str, Mapping[str, Any]] | None
                       ) -> dict[str, dict[str, Any]]:
    """Check ``payload_overrides`` names known payloads; return a private copy."""
    result: dict[str, dict[str, Any]] = {}
    for pid, fields in (overrides or {}).items():
        if pid not in PAYLOADS:
            raise ValueError(f"payload_overrides: unknown payload {pid!r}; valid: "
                             + ", ".join(sorted(PAYLOADS)))
        result[pid] = dict(fields)
    return result


def error_object(pid: str, overrides: Mapping[str, Mapping[str, Any]], **fmt: Any
                 ) -> dict[str, Any]:
    """The embedded ``{code, message, detail}`` object of a failed video (no envelope)."""
    p = PAYLOADS[pid]
    message = p.message.format(**fmt)
    obj: dict[str, Any] = {"code": p.code, "detail": message, "message": message}
    obj.update({k: v for k, v in overrides.get(pid, {}).items() if k != "status"})
    return obj


def render(err: Refusal, overrides: Mapping[str, Mapping[str, Any]]
           ) -> tuple[int, dict[str, str], bytes]:
    """(status, headers, body) for ``err``, with ``overrides`` applied."""
    p = PAYLOADS[err.pid]
    message = p.message.format(**err.fmt)
    extra = dict(overrides.get(err.pid, {}))
    status = int(extra.pop("status", err.status or p.status))
    headers = dict(err.headers)
    if p.style == "storage":
        fields: dict[str, Any] = {"Code": p.code, "Message": message, **extra}
        xml = "".join(f"<{k}>{escape(str(v))}</{k}>" for k, v in fields.items())
        headers["Content-Type"] = "application/xml"
        body = f'<?xml version="1.0" encoding="UTF-8"?>\n<Error>{xml}</Error>'.encode()
        return status, headers, body
    obj: dict[str, Any]
    if p.style == "v1":
        obj = {"code": p.code, "message": message}
        obj.update(extra)
        envelope: dict[str, Any] = obj
    elif p.style == "v2":
        obj = {"code": p.code, "message": message}
        obj.update(extra)
        envelope = {"error": obj, "data": None}
    else:
        obj = {"code": p.code, "message": message, "param": err.param, "doc_url": None}
        obj.update(extra)
        envelope = {"error": obj}
    headers["Content-Type"] = "application/json"
    return status, headers, json.dumps(envelope).encode()
