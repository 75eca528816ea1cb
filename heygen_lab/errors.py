"""The exception tree. Every error the toolkit raises on purpose is a ``HeyGenError``::

    HeyGenError
    ├── ConfigurationError        a setting is missing or malformed (no key, bad base URL)
    ├── MediaError                pre-flight: the file cannot be sent as asked (nothing was sent)
    ├── InvalidRequestError       pre-flight: the request breaks HeyGen's v3 spec (nothing was sent)
    ├── TransportError            no response arrived
    │   ├── ConnectError          could not connect, or the connection dropped
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
        └── ServerError               5xx

``error_for()`` is the one place that maps a response to a class. Messages name the method, the
URL (never the key), the status, HeyGen's code and message, the request id, and a hint.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from heygen_lab.envelopes import ErrorRecord

if TYPE_CHECKING:
    from heygen_lab.diagnose import Diagnosis
    from heygen_lab.spec import Violation


class HeyGenError(Exception):
    """Base class of every error heygen_lab raises on purpose."""


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

    def __init__(self, message: str, *, method: str, url: str) -> None:
        super().__init__(message)
        self.method = method
        self.url = url


class ConnectError(TransportError):
    """Connecting failed or the connection dropped before a response."""


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
    ) -> None:
        self.method = method
        self.url = url
        self.record = record
        self.diagnosis = diagnosis
        self.retry_after = retry_after
        super().__init__(self._message())

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
) -> APIError:
    """Build the APIError subclass that matches a refused response. Status first, then code."""
    status = effective_status(record)
    cls = ServerError if status >= 500 else _BY_STATUS.get(status, APIError)
    return cls(method=method, url=url, record=record, diagnosis=diagnosis, retry_after=retry_after)
