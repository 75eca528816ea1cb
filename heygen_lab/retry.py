"""Retry policy as pure functions (no I/O, no clock of their own), tested with tables.

- 429 is retried for any request: the server refused before doing anything; except the codes in
  ``RetryPolicy.final_codes``, whose limit no retry within the policy's seconds can outlast (a
  free key's daily trial cap counts a rolling 24 h window, https://docs.heygen.com/reference/limits).
- 5xx and network errors are retried only when repeating cannot do anything twice: an idempotent
  method, or a request carrying an ``Idempotency-Key``. A network error before the request left
  (the connection could not be opened) is retried for any request: nothing reached the server.
- 409 is retried, for repeatable requests only, when its code says "the same request is still
  running" (``request_in_progress``: a retry under the same ``Idempotency-Key`` overtook the
  first attempt, heygen-api-sources.md §2.3), or for every 409 when the policy says
  ``retry_conflicts`` (a direct upload's ``complete`` before the PUT is visible). The key is kept,
  so waiting and retrying either replays the first answer or runs once.
- Every kind of retry draws on the same budget, ``max_retries``: bounded, never infinite.
- The delay is ``Retry-After`` when the server sends one (seconds or an HTTP date), else an
  exponential backoff with jitter; both capped.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime


@dataclass(frozen=True)
class RetryPolicy:
    """How many times to retry and how long to wait (seconds)."""

    max_retries: int = 2
    base_delay: float = 1.0
    max_delay: float = 30.0
    jitter: bool = True
    final_codes: frozenset[str] = frozenset({"trial_video_limit_exceeded", "400664"})
    """Error codes (lower-case text) never retried: waiting seconds cannot lift them."""
    wait_codes: frozenset[str] = frozenset({"request_in_progress"})
    """409 codes (lower-case text) that mean "still running, ask again": retried when the request
    is repeatable (the same ``Idempotency-Key`` is sent again)."""
    retry_conflicts: bool = False
    """Retry every 409 of a repeatable request (a direct upload's ``complete``, whose 409 means the
    PUT is not visible yet; HeyGen's own CLI retries it)."""


UPLOAD_RETRIES = 8
"""Retries of an upload's requests (v3, direct init / PUT / complete, and resume) unless the
client is given ``max_retries``, ``retry_policy`` or ``upload_retries``. With independent faults
on a fraction ``p`` of requests, a request fails for good with probability ``p ** 9``: at 30 %
that is 2e-5 per request; the longest wait (backoff 1, 2, 4, 8, 16, then 30 s capped) is under
2.5 minutes per request."""


def upload_policy(policy: RetryPolicy, retries: int) -> RetryPolicy:
    """``policy`` with the upload budget ``retries`` (same delays and codes)."""
    return replace(policy, max_retries=retries)


def should_retry(
    *, attempt: int, policy: RetryPolicy, status: int | None, network_error: bool,
    repeatable: bool, code: str | int | None = None, sent: bool = True,
) -> bool:
    """Whether attempt number ``attempt`` (0-based) that just failed should be tried again.

    ``code`` is the error code the response carried (HeyGen's, any envelope), when known.
    ``sent`` is False for a network error that happened before any byte of the request left
    (connection refused, name not resolved, connect timeout).
    """
    if attempt >= policy.max_retries:
        return False
    text = None if code is None else str(code).strip().lower()
    if text is not None and text in policy.final_codes:
        return False
    if status == 429:
        return True
    if network_error and not sent:
        return True
    if network_error or (status is not None and status >= 500):
        return repeatable
    if status == 409:
        return repeatable and (policy.retry_conflicts or text in policy.wait_codes)
    return False


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP date), or None."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if seconds != seconds:  # NaN
        return None
    return max(0.0, seconds)


def backoff(attempt: int, policy: RetryPolicy, rng: random.Random | None = None) -> float:
    """Exponential backoff for attempt ``attempt`` (0-based), capped, with full jitter."""
    delay = min(policy.max_delay, policy.base_delay * (2.0 ** min(attempt, 32)))
    if policy.jitter:
        delay *= (rng or random).uniform(0.5, 1.0)
    return delay


def retry_delay(
    attempt: int, policy: RetryPolicy, retry_after: float | None, rng: random.Random | None = None
) -> float:
    """The wait before the next attempt: the server's ``Retry-After`` if given, capped."""
    if retry_after is not None:
        return min(policy.max_delay, retry_after)
    return backoff(attempt, policy, rng)
