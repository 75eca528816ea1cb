"""The exception tree. Every error the toolkit raises on purpose is a ``HeyGenError``::

    HeyGenError
    ├── ConfigurationError        a setting is missing or malformed (no key, bad base URL)
    ├── MediaError                pre-flight: the file cannot be sent as asked (nothing was sent)
    ├── InvalidRequestError       pre-flight: the request breaks HeyGen's v3 spec (nothing was sent)
    ├── TransportError            no response arrived
    │   ├── ConnectError          could not connect: nothing was sent
    │   ├── ResponseLost          the connection broke after the request was sent: it may have
    │   │                         been acted on (an upload without Idempotency-Key: the asset
    │   │                         may exist)
    │   └── RequestTimeout        no answer in time (a write "may have been submitted")
    └── APIError                  a response arrived and said no
        ├── BadRequestError           400 (and v1 errors on a 200)
        ├── AuthenticationError       401
        ├── InsufficientCreditError   402
        ├── PermissionDeniedError     403
        ├── NotFoundError             404
        ├── ConflictError             409
        ├── PayloadTooLargeError      413
        ├── RateLimitError            429 (``retry_after`` in seconds when given)
        ├── ServerError               5xx
        └── UnexpectedResponseError   a 2xx that is not a HeyGen envelope (wrong base URL)

``error_for()`` is the one place that maps a response to a class. Messages name the method, the
URL (never the key), the status, HeyGen's code and message, the request id, and a hint.

Redaction: a :class:`Redactor` built from the API key masks the key (raw, URL-encoded and
base64, in any alignment) and :func:`scrub_signed` masks a presigned URL's signature and
credential (``X-Amz-Signature``, ``X-Goog-Credential``, ``sig``, ...) and the signing material
storage echoes in its XML (``SignatureProvided``, ``StringToSign``, ...). Every error applies
both to its message, ``args``, ``repr``, record, diagnosis and notes, whatever a server echoed.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, quote_plus

from heygen_lab.envelopes import ErrorRecord

if TYPE_CHECKING:
    from heygen_lab.diagnose import Diagnosis
    from heygen_lab.spec import Violation

MASK = "***"

SIGNED_PARAMS = ("X-Amz-Signature", "X-Amz-Credential", "X-Amz-Security-Token", "Signature",
                 "GoogleAccessId", "X-Goog-Signature", "X-Goog-Credential", "sig")
"""Query parameters of a presigned URL that sign or identify (S3, GCS, Azure, the emulator)."""

SIGNING_ELEMENTS = ("SignatureProvided", "StringToSign", "StringToSignBytes", "CanonicalRequest",
                    "CanonicalRequestBytes", "AWSAccessKeyId", "Signature", "GoogleAccessId")
"""XML elements in which storage echoes what was signed and with what (S3, GCS)."""

_SIGNED_PARAM = re.compile(
    r"(?<![A-Za-z0-9_.~-])(" + "|".join(map(re.escape, SIGNED_PARAMS)) + r")(=|%3D)"
    r"(?:(?!%26)[^&\s\"'<>#;])*", re.IGNORECASE)
_SIGNING_ELEMENT = re.compile(
    r"(<(?:" + "|".join(SIGNING_ELEMENTS) + r")>)[^<]*", re.IGNORECASE)


def scrub_signed(text: str) -> str:
    """``text`` with presigned-URL signatures and credentials (and storage's echo of them)
    masked; the rest of the URL stays, so the host, path and expiry remain readable."""
    text = _SIGNED_PARAM.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}", text)
    return _SIGNING_ELEMENT.sub(lambda m: f"{m.group(1)}{MASK}", text)


def _b64_forms(raw: bytes) -> set[str]:
    """The key base64-encoded on its own and inside a longer encoded run (every alignment):
    the characters that depend on the key's bytes alone."""
    forms: set[str] = set()
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + raw).decode()
        start = -(-offset * 8 // 6)  # first character made only of key bits
        stop = (offset + len(raw)) * 8 // 6
        for text in (encoded, encoded.rstrip("=")) if offset == 0 else ():
            forms.update({text, text.replace("+", "-").replace("/", "_")})
        core = encoded[start:stop]
        if len(core) >= 8:
            forms.update({core, core.replace("+", "-").replace("/", "_")})
    return forms


@dataclass(frozen=True)
class Redactor:
    """Masks secrets in text: the forms of each secret, then presigned-URL signatures."""

    forms: tuple[str, ...] = ()
    _pattern: re.Pattern[str] | None = field(default=None, repr=False, compare=False)

    def __repr__(self) -> str:
        return f"Redactor({len(self.forms)} forms)"

    @classmethod
    def for_secrets(cls, *secrets: str | None) -> Redactor:
        forms: set[str] = set()
        for secret in secrets:
            if not secret:
                continue
            forms |= {secret, quote(secret, safe=""), quote(secret), quote_plus(secret)}
            forms |= _b64_forms(secret.encode())
        ordered = tuple(sorted((f for f in forms if f), key=lambda f: (-len(f), f)))
        pattern = (re.compile("|".join(map(re.escape, ordered)), re.IGNORECASE)
                   if ordered else None)
        return cls(ordered, pattern)

    def text(self, value: str) -> str:
        # Again while it shrinks the text: a mask next to what is left could spell a secret
        # again (a secret made of the mask's own characters only grows, so it stops).
        while True:
            masked = scrub_signed(value if self._pattern is None
                                  else self._pattern.sub(MASK, value))
            if len(masked) >= len(value):
                return masked
            value = masked

    def maybe(self, value: str | None) -> str | None:
        return None if value is None else self.text(value)

    def value(self, value: Any) -> Any:
        """A parsed body (JSON-like) with every string in it redacted, keys included."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return {self.value(k): self.value(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return type(value)(self.value(v) for v in value)
        return value

    def record(self, record: ErrorRecord) -> ErrorRecord:
        code = record.code if not isinstance(record.code, str) else self.text(record.code)
        return replace(record, code=code, message=self.maybe(record.message),
                       param=self.maybe(record.param), doc_url=self.maybe(record.doc_url),
                       request_id=self.maybe(record.request_id),
                       detail=self.maybe(record.detail), raw=self.value(record.raw))

    def diagnosis(self, diagnosis: Diagnosis) -> Diagnosis:
        return replace(diagnosis, cause=self.text(diagnosis.cause),
                       remedy=self.text(diagnosis.remedy),
                       evidence=tuple(self.text(e) for e in diagnosis.evidence))


NO_SECRETS = Redactor()
"""Masks presigned-URL signatures only (what every error applies at least)."""


class HeyGenError(Exception):
    """Base class of every error heygen_lab raises on purpose.

    An upload's errors also say how to go on: ``idempotency_key`` (the key the upload sent, to
    retry it without acting twice) and, for a direct upload, ``asset_id`` (the pending asset,
    for ``HeyGenClient.resume_direct_upload``). Both are in the message too.
    """

    redactor: Redactor = NO_SECRETS
    idempotency_key: str | None = None
    asset_id: str | None = None

    def add_note(self, note: str, /) -> None:
        """Notes are shown with the traceback: they are redacted like the message."""
        super().add_note(self.redactor.text(note))

    def add_context(self, text: str, *, idempotency_key: str | None = None,
                    asset_id: str | None = None) -> None:
        """Append ``text`` to the message (redacted) and set the upload attributes given."""
        if idempotency_key is not None:
            self.idempotency_key = idempotency_key
        if asset_id is not None:
            self.asset_id = asset_id
        first = str(self.args[0]) if self.args else ""
        if text and text not in first:
            self.args = (self.redactor.text(f"{first} ({text})"), *self.args[1:])


class ConfigurationError(HeyGenError, ValueError):
    """A setting is missing or malformed."""


class MediaError(HeyGenError, ValueError):
    """The file cannot be uploaded as asked; raised before any byte is sent."""


class InvalidRequestError(HeyGenError, ValueError):
    """The request breaks HeyGen's v3 spec; raised before anything is sent.

    ``violations`` holds each problem (``param``, ``message``) and ``fixes`` the matching next
    step; ``operation`` is the v3 operation's name (``VideoCreate``).
    """

    def __init__(self, operation: str, violations: Sequence[Violation], *,
                 endpoint: str = "", fixes: Sequence[str] = ()) -> None:
        self.operation = operation
        self.endpoint = endpoint
        self.violations = list(violations)
        self.fixes = list(fixes) + [""] * (len(self.violations) - len(fixes))
        where = f"{operation} ({endpoint})" if endpoint else operation
        problems = "; ".join(
            f"{v.param}: {v.message}" + (f" (fix: {fix})" if fix else "")
            for v, fix in zip(self.violations, self.fixes, strict=False)
        )
        super().__init__(f"{where}: the request breaks HeyGen's v3 spec; nothing was sent. "
                         f"{problems}")


class TransportError(HeyGenError):
    """No response arrived."""

    def __init__(self, message: str, *, method: str, url: str,
                 redactor: Redactor | None = None) -> None:
        self.redactor = redactor or NO_SECRETS
        super().__init__(self.redactor.text(message))
        self.method = method
        self.url = self.redactor.text(url)


class ConnectError(TransportError):
    """Connecting failed: no byte of the request reached the server."""


class ResponseLost(TransportError):
    """The connection broke after the request was (at least partly) sent and before a response:
    the server may have acted on it. Not retried unless the request is idempotent or keyed."""


class RequestTimeout(TransportError):
    """No response in time."""


class APIError(HeyGenError):
    """A response arrived and said no. ``record`` is what it said, ``diagnosis`` what it means."""

    def __init__(
        self,
        *,
        method: str,
        url: str,
        record: ErrorRecord,
        diagnosis: Diagnosis | None = None,
        retry_after: float | None = None,
        redactor: Redactor | None = None,
    ) -> None:
        self.redactor = redactor = redactor or NO_SECRETS
        self.method = method
        self.url = redactor.text(url)
        self.record = redactor.record(record)
        self.diagnosis = None if diagnosis is None else redactor.diagnosis(diagnosis)
        self.retry_after = retry_after
        super().__init__(redactor.text(self._message()))

    @property
    def status(self) -> int | None:
        return self.record.status

    @property
    def code(self) -> str | int | None:
        return self.record.code

    def _message(self) -> str:
        r = self.record
        text = f"{self.method} {self.url} -> HTTP {r.status}: {r.describe()}"
        if r.request_id:
            text += f" [request id {r.request_id}]"
        if self.retry_after is not None:
            text += f" (Retry-After {self.retry_after:g}s)"
        if self.diagnosis is not None:
            text += f". {self.diagnosis.cause}. Fix: {self.diagnosis.remedy}"
        else:
            text += f". Hint: {hint_for(effective_status(r))}"
        return text


class BadRequestError(APIError):
    """400: the request was malformed or missing something."""


class AuthenticationError(APIError):
    """401: the key was refused."""


class InsufficientCreditError(APIError):
    """402: the account ran out of credit."""


class PermissionDeniedError(APIError):
    """403: the key may not do this."""


class NotFoundError(APIError):
    """404: no such route or resource."""


class ConflictError(APIError):
    """409: a conflicting request is in progress, or the resource is not ready."""


class PayloadTooLargeError(APIError):
    """413: the body is over the route's limit."""


class RateLimitError(APIError):
    """429: too many requests, or a plan's cap was reached."""


class ServerError(APIError):
    """5xx: HeyGen (or a gateway in front of it) failed."""


class UnexpectedResponseError(APIError):
    """A 2xx whose body is not a HeyGen envelope: something other than HeyGen answered (a wrong
    ``HEYGEN_API_BASE`` / ``HEYGEN_UPLOAD_BASE``, a proxy's or captive portal's page)."""


_BY_STATUS: dict[int, type[APIError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    402: InsufficientCreditError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    413: PayloadTooLargeError,
    429: RateLimitError,
}

# v1 answers some errors with HTTP 200; its numeric code then says which family it is.
_V1_CODE_STATUS = {40009: 401, 400112: 401, 400562: 403, 400599: 403, 40104: 404}


_HINTS = {
    400: "the request does not fit this endpoint; compare it with the endpoint's reference "
         "(heygen-lab diagnose explains known codes)",
    401: "check HEYGEN_API_KEY, and that your plan includes API access",
    402: "add credit to the account",
    403: "this key or plan may not do this",
    404: "check the id and the URL (host and API version)",
    405: "check the HTTP method for this endpoint",
    409: "wait for the conflicting request to finish, then retry",
    413: "the body is too large for this route; use the direct upload",
    429: "slow down and retry after the Retry-After delay",
}


def hint_for(status: int) -> str:
    """A generic next step for a status, used when no diagnose rule matched."""
    if status >= 500:
        return "HeyGen or a gateway failed; retry later (safe for reads and keyed uploads)"
    return _HINTS.get(status, "see HeyGen's error reference for this status")


def effective_status(record: ErrorRecord) -> int:
    """The status that classifies an error: the HTTP one, unless a 2xx carried a v1 error code."""
    status = record.status or 0
    if 200 <= status < 300 or status == 0:
        code = record.code
        return _V1_CODE_STATUS.get(code, 400) if isinstance(code, int) else 400
    return status


def error_for(
    *,
    method: str,
    url: str,
    record: ErrorRecord,
    diagnosis: Diagnosis | None = None,
    retry_after: float | None = None,
    redactor: Redactor | None = None,
) -> APIError:
    """Build the APIError subclass that matches a refused response. Status first, then code;
    a 2xx without any envelope is not HeyGen's answer at all."""
    status = effective_status(record)
    if record.style == "none" and 200 <= (record.status or 0) < 300:
        cls: type[APIError] = UnexpectedResponseError
    else:
        cls = ServerError if status >= 500 else _BY_STATUS.get(status, APIError)
    return cls(method=method, url=url, record=record, diagnosis=diagnosis,
               retry_after=retry_after, redactor=redactor)


class ContractViolation(HeyGenError):
    """``heygen_lab.emulate(strict=True)``: the code under test sent a request HeyGen refuses
    for a known mistake. Raised out of the call that sent it, instead of HeyGen's answer.

    ``diagnosis`` says what is wrong (``.id``, ``.cause``, ``.remedy``); ``request`` is the
    recorded :class:`heygen_lab.emulate.EmulatedRequest` (key redacted).
    """

    def __init__(self, message: str, *, diagnosis: Diagnosis, request: object) -> None:
        super().__init__(message)
        self.diagnosis = diagnosis
        self.request = request
