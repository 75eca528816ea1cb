"""Say why HeyGen said no: a rule table from an error and what was sent to a cause and a remedy.

``diagnose(record, sent)`` walks ``RULES`` in order and the first rule whose predicate holds
builds the :class:`Diagnosis`. A rule looks at :class:`Facts`: the HTTP status, HeyGen's code
(compared as lower-case text, so ``40001`` and ``"40001"`` are the same), the message, the param,
the route the request went to and what its body was. The order is the contract:

* **request shape first** (``wrong-host``, ``not-heygen``, ``wrong-encoding``): HeyGen's answer to
  these looks like something else (a 404, an HTML 200 that reads as success, a "missing params"
  code that users read as a permission problem);
* **then end of life** (``endpoint-retired``): a v1/v2 route answering 410, a bare 404 or a
  message saying it was removed, once its announced date (:data:`heygen_lab.routes.LEGACY_SUNSET`)
  has passed. It comes after ``wrong-host`` because a legacy upload sent to the API host never
  had a route there, before or after the date (and that remedy already names v3); it comes
  before everything else because no other legacy fix (key, encoding, ids) helps an endpoint
  that is gone. A 404 that carries a specific HeyGen code or message (40104 "video not found")
  is still read as that not-found, not as a removal;
* **account and key** (``invalid-key`` before anything keyed on a legacy ``internal_error``,
  ``account-suspended`` before ``forbidden`` and the not-found rules it would read as,
  ``insufficient-credit``, ``tier-not-supported``; then the direct-upload PUT's storage errors,
  most specific first: ``storage-clock-skew``, ``storage-expired``, ``storage-signature``,
  ``storage-denied``, all before the generic ``forbidden``);
* **limits** (``trial-cap`` before the generic ``rate-limited`` 429);
* **wrong ids, sizes and timing** (``*-not-found``, ``too-large``, ``request-in-progress``,
  ``upload-not-found-yet``), then **malformed requests** (``download-failed``,
  ``missing-file-part``, ``missing-params``, ``render-failed``);
* **server side last** (``gateway`` when a 502/503/504 body is not a HeyGen envelope, then
  ``server-error`` for any 5xx).

When the status is unknown (the CLI without ``--status``), rules that need it fall back on what
the body itself says: a v2 ``internal_error`` whose message is "Unauthorized" is a refused key.

Nothing matching returns ``None``: the table only speaks when the facts support it. A cause is
one sentence without a trailing period, because error messages append ``". Fix: <remedy>"``.

Sources: HeyGen's error reference (https://docs.heygen.com/reference/errors,
https://developers.heygen.com/docs/error-codes), limits page
(https://docs.heygen.com/reference/limits), S3's error responses
(https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html) and Cloud Storage's
(https://cloud.google.com/storage/docs/xml-api/reference-status).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from heygen_lab import routes
from heygen_lab.envelopes import SHAPE_WORDS, ErrorRecord
from heygen_lab.media import V3_MAX_BYTES
from heygen_lab.routes import ROUTES, Route, match
from heygen_lab.settings import DEFAULT_API_BASE, DEFAULT_UPLOAD_BASE
from heygen_lab.wire import Sent as Sent  # re-exported: part of what diagnose() reads

LEGACY_UPLOAD_PATHS = frozenset({"/v1/asset", "/v1/talking_photo"})
LEGACY_UPLOAD_ROUTES = frozenset({"v1-upload", "v1-talking-photo"})
_HOSTS = {"api": DEFAULT_API_BASE, "upload": DEFAULT_UPLOAD_BASE}


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
    today: date  # the day sunset dates are judged against

    @classmethod
    def of(cls, record: ErrorRecord, sent: Sent, today: date | None = None) -> Facts:
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
        return cls(record, sent, found, path, status, code, (record.message or "").lower(),
                   today or routes.today())

    def route_is(self, *ids: str) -> bool:
        return self.route is not None and self.route.id in ids

    def evidence(self) -> tuple[str, ...]:
        r = self.record
        items = [f"HTTP {r.status}" if r.status is not None else "HTTP status unknown"]
        items += [f"code {r.code!r}"] if r.code is not None else []
        items += [f"message {r.message!r}"] if r.message else []
        items += [f"details {r.detail!r}"] if r.detail else []
        items += [f"param {r.param!r}"] if r.param else []
        if r.code is None and r.message is None:
            items.append(f"body: {SHAPE_WORDS[r.shape]}, not a HeyGen envelope")
        elif r.style == "storage":
            items.append("body: an object-storage XML error")
        if self.route is not None:
            items.append(f"endpoint {self.route.id} ({self.route.method} {self.route.path})")
        if self.sent.host == "storage":
            items.append("sent to the signed storage URL")
        elif self.sent.host is None and self.sent.origin:
            items.append(f"sent to {self.sent.origin}{self.path or ''} (as given: not a "
                         "HeyGen host)")
        elif self.sent.host or self.path:
            items.append(f"sent to {_HOSTS.get(self.sent.host or '', '(host unknown) ')}"
                         f"{self.path or ''}")
        items.append(f"sent: {self.sent.describe()}")
        items += [f"size {self.sent.size} bytes"] if self.sent.size is not None else []
        items += ["carried an Idempotency-Key"] if self.sent.keyed else []
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


def _too_large_cause(f: Facts) -> str:
    if _legacy_upload(f):
        # v1 documents no limit; one HeyGen guide says 10 MB [once] (docs.heygen.com guides).
        return ("The legacy upload refused the body as too large; HeyGen documents no size "
                "limit for it (one HeyGen guide says 10 MB), so the limit is not v3's 32 MB")
    if _storage(f):
        return "Storage refused the PUT body as larger than the size signed into the upload URL"
    return "The file is over the 32 MB limit of a single-request upload"


def _too_large_remedy(f: Facts) -> str:
    if _legacy_upload(f):
        return ('Upload through v3 instead (upload_asset(..., via="v3"), up to 32 MB, or '
                'via="auto", which takes the direct upload above that)')
    if _storage(f):
        return ("Start a new direct upload whose size_bytes is the file's exact size, and PUT "
                "exactly those bytes")
    return ('Use the direct upload (upload_asset(..., via="direct") or heygen-lab upload FILE '
            "--via direct), which PUTs the bytes straight to storage")


# -- the direct-upload PUT: object storage's own XML errors (S3 and Google Cloud Storage) --------

def _storage(f: Facts) -> bool:
    return f.sent.host == "storage" or f.route_is("direct-put") or f.record.style == "storage"


def _storage_text(f: Facts) -> str:
    return f"{f.message} {(f.record.detail or '').lower()}"


def _storage_expired(f: Facts) -> bool:
    # S3: AccessDenied "Request has expired"; GCS: ExpiredToken (or "expired" in Details).
    return _storage(f) and (f.code == "expiredtoken" or (
        f.code in {"accessdenied", ""} and "expired" in _storage_text(f)))


def _storage_signature(f: Facts) -> bool:
    if not _storage(f):
        return False
    header = f.code == "accessdenied" and "header" in _storage_text(f)
    return f.code == "signaturedoesnotmatch" or header or (f.status == 403 and f.code == "")


def _storage_signature_cause(f: Facts) -> str:
    if f.code == "":
        return ("Storage rejected the direct-upload PUT: the signed URL expired or the request "
                "carried headers other than the signed upload_headers")
    return ("Storage says the PUT does not match the signed URL: the request carried extra or "
            "changed headers (the API key, an Authorization header, another Content-Type than "
            "the signed one) or the URL's query string was altered")


def _server_remedy(f: Facts) -> str:
    if f.sent.keyed:
        return ("The request carried an Idempotency-Key, so it was already retried with the same "
                "key; retry later with that same key (HeyGen replays the first result for 24 h), "
                "never with a new one")
    if _idempotent(f):
        return "Retry after a short backoff; this request is idempotent, so retrying is safe"
    return ("Retry after a short backoff only if the request is idempotent or carries an "
            "Idempotency-Key; a POST without one may already have taken effect, so check first")


def _repeatable(f: Facts) -> bool:
    return _idempotent(f) or f.sent.keyed


# -- a body that is not HeyGen's at all --------------------------------------------------------

def _not_heygen(f: Facts) -> bool:
    r = f.record
    if r.style != "none" or r.code is not None or r.message is not None or _storage(f):
        return False
    return 200 <= f.status < 300 or (f.status == 0 and r.shape in {"html", "xml", "text"})


def _not_heygen_cause(f: Facts) -> str:
    shape = SHAPE_WORDS[f.record.shape]
    if f.status == 0:
        return (f"The body is {shape}, not a HeyGen envelope: something other than HeyGen's API "
                "answered (a wrong base URL, a proxy or a captive portal, or a gateway error page)")
    return (f"HTTP {f.status} with {shape} is not a HeyGen envelope, so this is not a success: "
            "the base URL does not look like HeyGen (another site, a proxy or a captive portal "
            "answered)")


def _not_heygen_remedy(f: Facts) -> str:
    api = (f"set HEYGEN_API_BASE (or api_base=) to {DEFAULT_API_BASE}")
    upload = (f"set HEYGEN_UPLOAD_BASE (or upload_base=) to {DEFAULT_UPLOAD_BASE}")
    host = f.sent.host or (f.route.host if f.route is not None else None)
    if host == "upload" or _legacy_upload(f):
        which = upload
    elif host == "api":
        which = api
    else:
        which = f"{api}; for the legacy uploads {upload}"
    return (f"Check the base URL the client was given: {which}, or to your emulator's or "
            "proxy's address if you meant one")


_AUTH_MESSAGES = frozenset({"unauthorized", "invalid api key", "invalid credentials",
                            "invalid_credentials", "authentication failed"})


def _invalid_key(f: Facts) -> bool:
    if f.status == 401 or f.code in {"400112", "40009", "authentication_failed", "unauthorized"}:
        return True
    # Legacy v2 says "internal_error" even for a refused key; without a status (the CLI, a
    # pasted body) or on a v1-style 200, the message is what says it.
    unknown = f.status == 0 or 200 <= f.status < 300
    return unknown and f.message.strip(" .!") in _AUTH_MESSAGES


# -- a legacy endpoint past its announced end of life ----------------------------------------

_REMOVED = re.compile(r"\b(removed|retired|end[- ]of[- ]life|sunset|"
                      r"no longer (available|supported))\b")
_BARE_NOT_FOUND = frozenset({"", "not found", "404 not found", "404 page not found",
                             "404 - not found", "page not found"})


def says_removed(status: int, code: str, message: str) -> bool:
    """Whether an answer reads as "this endpoint was removed": 410 Gone, a 404 with no specific
    HeyGen code or message, or any error (status unknown: 0) whose message says removed,
    retired or end of life."""
    if status == 410 or ((status >= 400 or status == 0) and _REMOVED.search(message)):
        return True
    return status == 404 and code in {"", "404", "not_found"} and (
        message.strip(" .!") in _BARE_NOT_FOUND)


def _retired(f: Facts) -> bool:
    sunset = f.route.sunset if f.route is not None else None
    return (sunset is not None and sunset.passed(f.today)
            and says_removed(f.status, f.code, f.message))


def _retired_cause(f: Facts) -> str:
    r, sunset = f.route, f.route.sunset if f.route is not None else None
    assert r is not None and sunset is not None
    return (f"The legacy endpoint {r.method} {r.path} has reached its end of life (announced "
            f"{sunset.label}), and HeyGen now answers it as removed")


def _retired_remedy(f: Facts) -> str:
    assert f.route is not None
    return f"Move to the v3 replacement: {f.route.successor}"


def _missing_file_part_cause(f: Facts) -> str:
    sent = f" (sent parts: {list(f.sent.parts)})" if f.sent.parts else ""
    return f"The v3 upload found no multipart file part named 'file'{sent}"


def _idempotent(f: Facts) -> bool:
    return f.route is not None and f.route.idempotent


RULES: tuple[Rule, ...] = (
    Rule("wrong-host",
         lambda f: f.status == 404 and f.sent.host == "api" and f.path in LEGACY_UPLOAD_PATHS,
         "The legacy upload was sent to the API host, which has no such route",
         "Send legacy uploads to https://upload.heygen.com (HEYGEN_UPLOAD_BASE), not "
         "https://api.heygen.com; or use v3 POST https://api.heygen.com/v3/assets"),
    Rule("not-heygen", _not_heygen, _not_heygen_cause, _not_heygen_remedy),
    Rule("wrong-encoding", _wrong_encoding, _wrong_encoding_cause,
         "Send the raw file bytes as the whole request body with Content-Type set to the file's "
         "MIME type (e.g. image/jpeg), with no multipart and no form fields; or upload through "
         "v3 instead: POST /v3/assets with one multipart part named file"),
    Rule("endpoint-retired", _retired, _retired_cause, _retired_remedy),
    Rule("invalid-key", _invalid_key,
         "HeyGen refused the API key: it is wrong, revoked, or belongs to a web plan without "
         "API access",
         "Check HEYGEN_API_KEY (copy it again from HeyGen's API settings, without quotes or "
         "spaces) and check that the plan includes API access"),
    # 400631 USER_BLOCKED: HeyGen's numeric error table (https://docs.heygen.com/reference/errors)
    Rule("account-suspended", _code(400631, "user_blocked"),
         "HeyGen has blocked (suspended) this account (USER_BLOCKED); the request, the ids and "
         "the key's format are not the problem",
         "Contact HeyGen support (and look for a notice in the account's email) to have the "
         "account restored; retrying, or another key of the same account, will not help"),
    Rule("insufficient-credit", lambda f: f.status == 402 or f.code == "insufficient_credit",
         "The account has run out of API credit",
         "Add credit or change plan, then retry; GET /v3/users/me shows the balance"),
    Rule("tier-not-supported", _code(400599, "tier_not_support"),
         "The plan does not include this feature (TIER_NOT_SUPPORT); this IS a plan problem, "
         "not a fault in the request",
         "Upgrade to a plan that includes the feature, or leave the feature out of the request"),
    Rule("storage-clock-skew", lambda f: _storage(f) and f.code == "requesttimetooskewed",
         "Storage refused the PUT because the request's time is too far from its own clock "
         "(RequestTimeTooSkewed, S3 allows 15 minutes)",
         "Sync this machine's clock (NTP), drop any Date or X-Amz-Date header of your own, then "
         "start a new direct upload and PUT again; if the clock is right, the signer's is not: "
         "report it to HeyGen with the request id"),
    Rule("storage-expired", _storage_expired,
         "The signed upload URL has expired (it is valid for expires_in_seconds after the "
         "direct upload was started)",
         "Start a new direct upload (POST /v3/assets/direct-uploads) and PUT the bytes at once; "
         "a signed URL cannot be renewed or reused"),
    Rule("storage-signature", _storage_signature, _storage_signature_cause,
         "Start a new direct upload and PUT the bytes to upload_url exactly as returned, with "
         "exactly the returned upload_headers: no X-Api-Key, no Authorization, no extra or "
         "changed headers"),
    Rule("storage-denied", lambda f: _storage(f) and (f.code == "accessdenied" or f.status == 403),
         "Storage denied the PUT: the URL does not grant writing this object (not a signed "
         "URL any more, its query string lost or re-encoded, or already used)",
         "PUT to upload_url exactly as returned, query string intact and not re-encoded, once; "
         "if it still fails, start a new direct upload"),
    Rule("forbidden",
         lambda f: f.status == 403 or f.code in {"400562", "forbidden", "resource_access_denied"},
         "The key is valid but may not use this resource or action",
         "Use a resource id that belongs to this account, and check the plan and role allow it"),
    # Daily trial caps count in a rolling 24 h window from the first request
    # (https://docs.heygen.com/reference/limits); 400664 is the numeric form [one source].
    Rule("trial-cap", _code("trial_video_limit_exceeded", 400664),
         "The daily video cap of a free or trial key has been reached",
         "Retrying now will not help (the toolkit does not retry it): the cap counts videos in "
         "a rolling 24-hour window from the window's first request, so try again 24 hours "
         "after that first video, or use a paid plan with API access"),
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
    Rule("too-large", _too_large, _too_large_cause, _too_large_remedy),
    Rule("request-in-progress", _code("request_in_progress"),
         "A request with the same Idempotency-Key is still being processed",
         "Wait a few seconds and retry with the same Idempotency-Key; a new key could do the "
         "work twice", retryable=True),
    Rule("upload-not-found-yet", lambda f: f.status == 409 and f.route_is("direct-complete"),
         "Storage has not registered the PUT bytes yet, so complete found no uploaded object",
         "Retry complete after a short delay (it is idempotent); if it keeps failing, check "
         "that the PUT to upload_url returned 2xx", retryable=True),
    # download_failed: v3, HTTP 400, added 2026-05-18 (https://developers.heygen.com/changelog,
    # https://developers.heygen.com/docs/error-codes)
    Rule("download-failed", _code("download_failed"),
         "HeyGen could not download the file from the URL given in the request",
         "Use a URL that is publicly reachable (no login, cookies or expired signature; not "
         "localhost or a private network), that serves the file itself rather than an HTML "
         "page, and whose extension matches the real format (.mp4 for MP4 bytes, .png for "
         "PNG); or upload the file first and pass its asset id"),
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
         _server_remedy, retryable=_repeatable),
    Rule("server-error", lambda f: 500 <= f.status <= 599,
         lambda f: f"HeyGen failed on its side (HTTP {f.status})",
         _server_remedy, retryable=_repeatable),
)


def diagnose(record: ErrorRecord, sent: Sent | None = None, *,
             today: date | None = None) -> Diagnosis | None:
    """The first rule in ``RULES`` that matches the error and what was sent, or ``None``.
    Sunset dates are judged as of ``today`` (default :func:`heygen_lab.routes.today`)."""
    facts = Facts.of(record, sent or Sent(), today)
    for rule in RULES:
        if rule.applies(facts):
            return rule.build(facts)
    return None
