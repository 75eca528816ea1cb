"""Say why HeyGen said no: a rule table from an error and what was sent to a cause and a remedy.

``diagnose(record, sent)`` walks ``RULES`` in order and the first rule whose predicate holds
builds the :class:`Diagnosis`. A rule looks at :class:`Facts`: the HTTP status, HeyGen's code
(compared as lower-case text, so ``40001`` and ``"40001"`` are the same), the message, the param,
the route the request went to and what its body was. The order is the contract:

* **request shape first** (``wrong-host``, ``wrong-encoding``): HeyGen's answer to these looks like
  something else (a 404, a "missing params" code that users read as a permission problem);
* **account and key** (``invalid-key`` before anything keyed on a legacy ``internal_error``,
  ``insufficient-credit``, ``tier-not-supported``, ``storage-signature``, ``forbidden``);
* **limits** (``trial-cap`` before the generic ``rate-limited`` 429);
* **wrong ids, sizes and timing** (``*-not-found``, ``too-large``, ``request-in-progress``,
  ``upload-not-found-yet``), then **malformed requests** (``missing-file-part``, ``missing-params``,
  ``render-failed``);
* **server side last** (``gateway`` when a 502/503/504 body is not a HeyGen envelope, then
  ``server-error`` for any 5xx).

Nothing matching returns ``None``: the table only speaks when the facts support it. A cause is
one sentence without a trailing period, because error messages append ``". Fix: <remedy>"``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from heygen_lab.envelopes import ErrorRecord
from heygen_lab.media import V3_MAX_BYTES
from heygen_lab.routes import ROUTES, Route, match
from heygen_lab.settings import DEFAULT_API_BASE, DEFAULT_UPLOAD_BASE

LEGACY_UPLOAD_PATHS = frozenset({"/v1/asset", "/v1/talking_photo"})
LEGACY_UPLOAD_ROUTES = frozenset({"v1-upload", "v1-talking-photo"})
_HOSTS = {"api": DEFAULT_API_BASE, "upload": DEFAULT_UPLOAD_BASE}


@dataclass(frozen=True)
class Sent:
    """What was sent, as far as it is known (all optional: the CLI may only know the endpoint)."""

    route: str | None = None  # a route id from heygen_lab.routes (e.g. "v1-upload")
    host: Literal["api", "upload", "storage"] | None = None
    path: str | None = None  # URL path without query, e.g. "/v1/asset"
    encoding: Literal["raw", "multipart", "json", "empty"] | None = None
    parts: tuple[str, ...] = ()  # multipart part names in order, e.g. ("type", "asset")
    content_type: str | None = None
    size: int | None = None

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


@dataclass(frozen=True)
class Diagnosis:
    """What an error means: a stable id, the cause, the remedy and the facts behind them."""

    id: str
    cause: str
    remedy: str
    evidence: tuple[str, ...]
    retryable: bool = False

    def to_dict(self) -> dict[str, object]:
        return {"id": self.id, "cause": self.cause, "remedy": self.remedy,
                "evidence": list(self.evidence), "retryable": self.retryable}


@dataclass(frozen=True)
class Facts:
    """An error and its request, normalised once for the rules' predicates."""

    record: ErrorRecord
    sent: Sent
    route: Route | None
    path: str | None
    status: int  # 0 when unknown
    code: str  # lower-case text, "" when absent
    message: str  # lower-case, "" when absent

    @classmethod
    def of(cls, record: ErrorRecord, sent: Sent) -> Facts:
        path = (sent.path or "").split("?", 1)[0].rstrip("/") or None
        found = ROUTES.get(sent.route) if sent.route else None
        if found is None and sent.host == "storage":
            found = ROUTES["direct-put"]
        # Writes first: /v3/assets with a body is the upload, and a 5xx then counts as a POST.
        for method in ("POST", "GET", "DELETE", "PUT"):
            if found is None and path:
                found = match(method, None, path)
        if path is None and found is not None and "{" not in found.path:
            path = found.path
        status = record.status if isinstance(record.status, int) else 0
        code = "" if record.code is None else str(record.code).strip().lower()
        return cls(record, sent, found, path, status, code, (record.message or "").lower())

    def route_is(self, *ids: str) -> bool:
        return self.route is not None and self.route.id in ids

    def evidence(self) -> tuple[str, ...]:
        r = self.record
        items = [f"HTTP {r.status}" if r.status is not None else "HTTP status unknown"]
        items += [f"code {r.code!r}"] if r.code is not None else []
        items += [f"message {r.message!r}"] if r.message else []
        items += [f"param {r.param!r}"] if r.param else []
        if self.route is not None:
            items.append(f"endpoint {self.route.id} ({self.route.method} {self.route.path})")
        if self.sent.host == "storage":
            items.append("sent to the signed storage URL")
        elif self.sent.host or self.path:
            items.append(f"sent to {_HOSTS.get(self.sent.host or '', '(host unknown) ')}"
                         f"{self.path or ''}")
        items.append(f"sent: {self.sent.describe()}")
        items += [f"size {self.sent.size} bytes"] if self.sent.size is not None else []
        return tuple(items)


Text = str | Callable[[Facts], str]


@dataclass(frozen=True)
class Rule:
    """One row of the table: a predicate over the facts and the diagnosis it builds."""

    id: str
    applies: Callable[[Facts], bool]
    cause: Text
    remedy: Text
    retryable: bool | Callable[[Facts], bool] = False

    def build(self, facts: Facts) -> Diagnosis:
        def text(value: Text) -> str:
            return value if isinstance(value, str) else value(facts)

        retry = self.retryable if isinstance(self.retryable, bool) else self.retryable(facts)
        return Diagnosis(self.id, text(self.cause), text(self.remedy), facts.evidence(), retry)


def _code(*codes: str | int) -> Callable[[Facts], bool]:
    wanted = {str(c).lower() for c in codes}
    return lambda f: f.code in wanted


# -- predicates and texts that need more than one line ---------------------------------------

_ASSET_MESSAGE = "asset data must be provided"


def _legacy_upload(f: Facts) -> bool:
    return f.route_is(*LEGACY_UPLOAD_ROUTES) or f.path in LEGACY_UPLOAD_PATHS


def _wrong_encoding(f: Facts) -> bool:
    asset_message = _ASSET_MESSAGE in f.message
    unknown_route = f.route is None and f.path is None
    return (f.code == "40001" or asset_message) and (
        _legacy_upload(f) or (unknown_route and asset_message))


def _wrong_encoding_cause(f: Facts) -> str:
    where = f"POST {f.path}" if f.path else "POST /v1/asset"
    s = f.sent
    if s.encoding == "raw" and s.size != 0:
        got = (f"a raw body it did not take for the file (Content-Type "
               f"{s.content_type or 'not set'}), so the body or its Content-Type is wrong")
    elif s.encoding is None:
        got = "a body that is not the raw file (what was sent is unknown)"
    else:
        got = f"{s.describe()} instead of the raw file bytes"
    return (f"The legacy upload endpoint {where} got {got}; this is NOT a plan or permission "
            "problem but a request-encoding problem")


def _not_found(kind: str) -> str:
    return f"The key works, but no {kind} with that {kind}_id is visible to this account"


def _too_large(f: Facts) -> bool:
    if f.status == 413 or f.code == "payload_too_large":
        return True
    big = f.sent.size is not None and f.sent.size > V3_MAX_BYTES
    named_ok = not f.sent.parts or "file" in f.sent.parts
    return f.status == 400 and f.route_is("v3-upload") and big and named_ok


def _missing_file_part_cause(f: Facts) -> str:
    sent = f" (sent parts: {list(f.sent.parts)})" if f.sent.parts else ""
    return f"The v3 upload found no multipart file part named 'file'{sent}"


def _idempotent(f: Facts) -> bool:
    return f.route is not None and f.route.idempotent


def _server_remedy(f: Facts) -> str:
    if _idempotent(f):
        return "Retry after a short backoff; this request is idempotent, so retrying is safe"
    return ("Retry after a short backoff only if the request is idempotent or carries an "
            "Idempotency-Key; a POST without one may already have taken effect, so check first")


RULES: tuple[Rule, ...] = (
    Rule("wrong-host",
         lambda f: f.status == 404 and f.sent.host == "api" and f.path in LEGACY_UPLOAD_PATHS,
         "The legacy upload was sent to the API host, which has no such route",
         "Send legacy uploads to https://upload.heygen.com (HEYGEN_UPLOAD_BASE), not "
         "https://api.heygen.com; or use v3 POST https://api.heygen.com/v3/assets"),
    Rule("wrong-encoding", _wrong_encoding, _wrong_encoding_cause,
         "Send the raw file bytes as the whole request body with Content-Type set to the file's "
         "MIME type (e.g. image/jpeg), with no multipart and no form fields; or upload through "
         "v3 instead: POST /v3/assets with one multipart part named file"),
    Rule("invalid-key",
         lambda f: f.status == 401 or f.code in {"400112", "40009", "authentication_failed",
                                                 "unauthorized"},
         "HeyGen refused the API key: it is wrong, revoked, or belongs to a web plan without "
         "API access",
         "Check HEYGEN_API_KEY (copy it again from HeyGen's API settings, without quotes or "
         "spaces) and check that the plan includes API access"),
    Rule("insufficient-credit", lambda f: f.status == 402 or f.code == "insufficient_credit",
         "The account has run out of API credit",
         "Add credit or change plan, then retry; GET /v3/users/me shows the balance"),
    Rule("tier-not-supported", _code(400599, "tier_not_support"),
         "The plan does not include this feature (TIER_NOT_SUPPORT); this IS a plan problem, "
         "not a fault in the request",
         "Upgrade to a plan that includes the feature, or leave the feature out of the request"),
    Rule("storage-signature",
         lambda f: f.status == 403 and (f.sent.host == "storage" or f.route_is("direct-put")),
         "Storage rejected the direct-upload PUT: the signed URL expired or the request carried "
         "headers other than the signed upload_headers",
         "Start a new direct upload and PUT the bytes with exactly the returned upload_headers, "
         "no API key and no extra headers, before the URL expires"),
    Rule("forbidden",
         lambda f: f.status == 403 or f.code in {"400562", "forbidden", "resource_access_denied"},
         "The key is valid but may not use this resource or action",
         "Use a resource id that belongs to this account, and check the plan and role allow it"),
    Rule("trial-cap", _code("trial_video_limit_exceeded"),
         "The daily video cap of a free or trial key has been reached",
         "Retrying today will not help: wait for the daily reset, or use a paid plan with API "
         "access"),
    Rule("rate-limited", lambda f: f.status == 429 or f.code == "rate_limit_exceeded",
         "Too many requests, or more concurrent jobs than the plan allows",
         "Wait for the Retry-After delay (seconds) and retry; lower the concurrency if it "
         "keeps happening", retryable=True),
    Rule("avatar-not-found", _code("avatar_not_found"), _not_found("avatar"),
         "List the avatars with GET /v2/avatars and use one of their avatar_id values "
         "(photo avatars are under talking_photos)"),
    Rule("voice-not-found", _code("voice_not_found"), _not_found("voice"),
         "List the voices with GET /v2/voices and use one of their voice_id values"),
    Rule("video-not-found", _code("video_not_found", 40104), _not_found("video"),
         "Use the video_id returned when the video was created, with the same account's key"),
    Rule("too-large", _too_large,
         "The file is over the 32 MB limit of a single-request upload",
         'Use the direct upload (upload_asset(..., via="direct") or heygen-lab upload FILE '
         "--via direct), which PUTs the bytes straight to storage"),
    Rule("request-in-progress", _code("request_in_progress"),
         "A request with the same Idempotency-Key is still being processed",
         "Wait a few seconds and retry with the same Idempotency-Key; a new key could do the "
         "work twice", retryable=True),
    Rule("upload-not-found-yet", lambda f: f.status == 409 and f.route_is("direct-complete"),
         "Storage has not registered the PUT bytes yet, so complete found no uploaded object",
         "Retry complete after a short delay (it is idempotent); if it keeps failing, check "
         "that the PUT to upload_url returned 2xx", retryable=True),
    Rule("missing-file-part",
         lambda f: f.code == "invalid_parameter" and (f.record.param or "").lower() == "file"
         and (f.route is None or f.route_is("v3-upload")),
         _missing_file_part_cause,
         "Send multipart/form-data with exactly one file part named file (with a filename); "
         "the MIME type is read from the bytes"),
    Rule("missing-params", _code(40001),
         "HeyGen says a required parameter is missing from the request (MISSING_PARAMS)",
         "Compare the body with the endpoint's documented fields and add the missing one"),
    Rule("render-failed", _code(40119),
         "The video failed to render because it is longer than the plan allows",
         "Shorten the script or audio, or use a plan with a longer video limit"),
    Rule("gateway", lambda f: f.record.code is None and f.status in {502, 503, 504},
         lambda f: (f"A gateway in front of HeyGen answered HTTP {f.status} with a body that is "
                    "not a HeyGen envelope, so HeyGen was unreachable or overloaded"),
         _server_remedy, retryable=_idempotent),
    Rule("server-error", lambda f: 500 <= f.status <= 599,
         lambda f: f"HeyGen failed on its side (HTTP {f.status})",
         _server_remedy, retryable=_idempotent),
)


def diagnose(record: ErrorRecord, sent: Sent | None = None) -> Diagnosis | None:
    """The first rule in ``RULES`` that matches the error and what was sent, or ``None``."""
    facts = Facts.of(record, sent or Sent())
    for rule in RULES:
        if rule.applies(facts):
            return rule.build(facts)
    return None
