"""The retry policy, as tables."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from heygen_lab.retry import (
    UPLOAD_RETRIES,
    RetryPolicy,
    backoff,
    parse_retry_after,
    retry_delay,
    should_retry,
    upload_policy,
)

P = RetryPolicy(max_retries=2)


@pytest.mark.parametrize(
    ("attempt", "status", "network", "repeatable", "expected"),
    [
        (0, 429, False, False, True),   # 429: any request
        (1, 429, False, False, True),
        (2, 429, False, False, False),  # out of attempts
        (0, 503, False, True, True),    # 5xx: idempotent or keyed only
        (0, 503, False, False, False),
        (0, None, True, True, True),    # network error
        (0, None, True, False, False),
        (0, 400, False, True, False),   # client errors never
        (0, 401, False, True, False),
        (0, 409, False, True, False),   # a 409 without a wait code is a real conflict
    ],
)
def test_should_retry(attempt: int, status: int | None, network: bool, repeatable: bool,
                      expected: bool) -> None:
    assert should_retry(attempt=attempt, policy=P, status=status, network_error=network,
                        repeatable=repeatable) is expected


NOW = datetime(2026, 11, 23, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("2", 2.0), (" 0 ", 0.0), ("1.5", 1.5), ("-3", 0.0), ("", None), (None, None),
     ("soon", None), ("nan", None),
     ("Mon, 23 Nov 2026 12:00:05 GMT", 5.0), ("Mon, 23 Nov 2026 11:59:00 GMT", 0.0)],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, now=NOW) == expected


def test_retry_after_is_capped() -> None:
    assert retry_delay(0, P, 3600.0) == P.max_delay
    assert retry_delay(0, P, 2.0) == 2.0


def test_backoff_without_jitter_doubles_and_caps() -> None:
    p = RetryPolicy(base_delay=1.0, max_delay=30.0, jitter=False)
    assert [backoff(a, p) for a in range(7)] == [1, 2, 4, 8, 16, 30, 30]


@given(attempt=st.integers(0, 10_000), seed=st.integers())
def test_backoff_bounds(attempt: int, seed: int) -> None:
    delay = backoff(attempt, P, random.Random(seed))
    assert 0 <= delay <= P.max_delay


@given(st.text(max_size=40))
def test_parse_retry_after_never_raises(value: str) -> None:
    result = parse_retry_after(value, now=NOW)
    assert result is None or result >= 0


@pytest.mark.parametrize(("status", "code", "expected"), [
    (429, "trial_video_limit_exceeded", False),  # a rolling 24 h cap: no backoff outlasts it
    (429, "TRIAL_VIDEO_LIMIT_EXCEEDED", False),
    (429, 400664, False),
    (429, "rate_limit_exceeded", True),
    (429, None, True),
])
def test_final_codes_are_never_retried(status: int, code: str | int | None,
                                       expected: bool) -> None:
    assert should_retry(attempt=0, policy=P, status=status, network_error=False,
                        repeatable=True, code=code) is expected


@pytest.mark.parametrize(("status", "code", "network", "sent", "repeatable", "conflicts",
                          "expected"), [
    (409, "request_in_progress", False, True, True, False, True),   # same key still running
    (409, "REQUEST_IN_PROGRESS", False, True, True, False, True),
    (409, "request_in_progress", False, True, False, False, False),  # unkeyed: never
    (409, "conflict", False, True, True, False, False),             # a real conflict
    (409, "conflict", False, True, True, True, True),               # complete before the PUT
    (409, "conflict", False, True, False, True, False),
    (None, None, True, False, False, False, True),   # nothing left: safe for any request
    (None, None, True, True, False, False, False),   # sent, unkeyed: may have acted
    (None, None, True, True, True, False, True),
    (503, None, False, True, False, True, False),
])
def test_conflicts_and_unsent_requests(status: int | None, code: str | None, network: bool,
                                       sent: bool, repeatable: bool, conflicts: bool,
                                       expected: bool) -> None:
    policy = RetryPolicy(max_retries=2, retry_conflicts=conflicts)
    assert should_retry(attempt=0, policy=policy, status=status, network_error=network,
                        repeatable=repeatable, code=code, sent=sent) is expected
    assert should_retry(attempt=2, policy=policy, status=status, network_error=network,
                        repeatable=repeatable, code=code, sent=sent) is False, "bounded"


def test_the_upload_policy_only_changes_the_budget() -> None:
    base = RetryPolicy(max_retries=2, base_delay=0.5)
    assert upload_policy(base, UPLOAD_RETRIES) == RetryPolicy(max_retries=UPLOAD_RETRIES,
                                                               base_delay=0.5)
    assert 0.3 ** (UPLOAD_RETRIES + 1) < 1e-4
