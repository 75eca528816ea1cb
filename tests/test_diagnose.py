"""diagnose(): every rule from realistic payloads (docs/heygen-api.md), order, and robustness."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from heygen_lab.diagnose import RULES, Diagnosis, Sent, diagnose
from heygen_lab.envelopes import ErrorRecord, decode, decode_body
from heygen_lab.errors import error_for
from heygen_lab.routes import ROUTES


def record(status: int, body: Any) -> ErrorRecord:
    if isinstance(body, dict) and "$xml" in body:  # a storage XML error with that code
        content = f"<Error><Code>{body['$xml']}</Code><Message>m</Message></Error>".encode()
        decoded = decode(status, content)
    elif isinstance(body, dict) and "$html" in body:
        decoded = decode(status, b"<!doctype html><html>...</html>", expect_envelope=True)
    else:
        decoded = decode(status, json.dumps(body).encode(), expect_envelope=True) \
            if 200 <= status < 300 and body == {} else decode_body(status, body)
    assert decoded.error is not None, body
    return decoded.error


def v3(code: str, message: str = "...", param: str | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "param": param, "doc_url": None}}


def v2(code: str, message: str = "...") -> dict[str, Any]:
    return {"error": {"code": code, "message": message}, "data": None}


ASSET_DATA = {"code": 40001, "message": "asset data must be provided"}
MIB = 1024 * 1024
V1_UPLOAD = Sent(route="v1-upload", host="upload", path="/v1/asset")
PUT = Sent(route="direct-put", host="storage", encoding="raw", size=10)
AFTER_SUNSET = date(2026, 11, 24)   # rules that depend on the date get it, never the clock
BEFORE_SUNSET = date(2026, 9, 1)

# (expected id, status, body, sent)
CASES: list[tuple[str, int, Any, Sent | None]] = [
    ("wrong-encoding", 400, ASSET_DATA,
     Sent(route="v1-upload", encoding="multipart", parts=("type", "asset"), size=2048)),
    ("wrong-encoding", 400, ASSET_DATA, Sent(route="v1-upload", encoding="multipart",
                                             parts=("file",))),
    ("wrong-encoding", 200, ASSET_DATA,
     Sent(host="upload", path="/v1/talking_photo", encoding="empty", size=0)),
    ("wrong-encoding", 400, ASSET_DATA, None),
    ("wrong-encoding", 400, ASSET_DATA, V1_UPLOAD),
    ("wrong-encoding", 400, {"code": 40001, "message": "missing"}, Sent(path="/v1/asset")),
    ("wrong-host", 404, None, Sent(host="api", path="/v1/asset", encoding="raw", size=10)),
    ("wrong-host", 404, {"message": "Not Found"}, Sent(route="v1-talking-photo", host="api")),
    ("invalid-key", 401, {"code": 400112, "message": "Unauthorized"}, V1_UPLOAD),
    ("invalid-key", 200, {"code": 40009, "message": "INVALID_CREDENTIALS"}, None),
    ("invalid-key", 401, v2("internal_error", "Unauthorized"), Sent(route="v2-avatars")),
    ("invalid-key", 401, v3("authentication_failed", "Invalid API key"), None),
    ("invalid-key", 401, v3("unauthorized"), None),
    ("invalid-key", 401, None, None),
    ("insufficient-credit", 402, v3("insufficient_credit", "Not enough credit"), None),
    ("insufficient-credit", 402, None, None),
    ("tier-not-supported", 400, {"code": 400599, "message": "TIER_NOT_SUPPORT"}, None),
    ("storage-signature", 403, None, Sent(route="direct-put", host="storage")),
    ("storage-signature", 403, {"$xml": "SignatureDoesNotMatch"}, None),
    ("storage-expired", 403, {"$xml": "ExpiredToken"}, PUT),
    ("storage-clock-skew", 403, {"$xml": "RequestTimeTooSkewed"}, PUT),
    ("storage-denied", 403, {"$xml": "AccessDenied"}, PUT),
    ("account-suspended", 400, {"code": 400631, "message": "USER_BLOCKED"}, None),
    ("account-suspended", 403, {"code": 400631, "message": "user blocked"},
     Sent(route="v3-asset-get")),
    ("download-failed", 400, v3("download_failed", "could not download", "url"),
     Sent(route="v3-video-create", encoding="json")),
    ("not-heygen", 200, {"$html": True}, Sent(route="v3-me")),
    ("not-heygen", 200, {}, Sent(route="v3-me")),
    ("forbidden", 403, {"code": 400562, "message": "FORBIDDEN"}, None),
    ("forbidden", 403, v3("resource_access_denied"), Sent(route="v3-asset-delete")),
    ("forbidden", 403, v3("forbidden"), None),
    ("trial-cap", 429, v2("trial_video_limit_exceeded", "Exceeded your daily api trial limit 5."),
     Sent(route="v2-video-generate")),
    ("rate-limited", 429, v3("rate_limit_exceeded", "Too many requests"), None),
    ("rate-limited", 429, None, None),
    ("avatar-not-found", 404, v2("avatar_not_found", "Avatar not found"),
     Sent(route="v2-video-generate", encoding="json")),
    ("voice-not-found", 404, v3("voice_not_found"), Sent(route="v3-video-create")),
    ("video-not-found", 404, v3("video_not_found"), Sent(route="v3-video-get")),
    ("video-not-found", 200, {"code": 40104, "message": "video not found"}, None),
    ("too-large", 413, None, Sent(route="v3-upload", encoding="multipart", parts=("file",))),
    ("too-large", 413, v3("payload_too_large"), None),
    ("too-large", 400, v3("invalid_parameter", "file too large", "file"),
     Sent(route="v3-upload", encoding="multipart", parts=("file",), size=40 * MIB)),
    ("request-in-progress", 409, v3("request_in_progress"), Sent(route="v3-upload")),
    ("upload-not-found-yet", 409, v3("conflict", "uploaded object not found yet"),
     Sent(route="direct-complete")),
    ("upload-not-found-yet", 409, v3("conflict"), Sent(path="/v3/assets/a1b2/complete")),
    ("missing-file-part", 400, v3("invalid_parameter", "file is required", "file"),
     Sent(route="v3-upload", encoding="multipart", parts=("asset",), size=10)),
    ("missing-file-part", 400, v3("invalid_parameter", "file is required", "file"), None),
    ("missing-params", 400, {"code": 40001, "message": "missing video_inputs"},
     Sent(route="v2-video-generate", encoding="json")),
    ("missing-params", 400, {"code": 40001, "message": "Missing params"}, None),
    ("render-failed", 200, {"code": 40119, "message": "video is too long"}, None),
    ("gateway", 502, None, Sent(route="v3-asset-list")),
    ("gateway", 504, None, None),
    ("server-error", 500, v3("internal_error", "Internal error"), None),
    ("server-error", 503, v2("internal_error"), Sent(route="v2-voices")),
    ("endpoint-retired", 410, None, V1_UPLOAD),
    ("endpoint-retired", 404, v2("not_found", "Not Found"), Sent(route="v2-quota")),
    ("endpoint-retired", 400, v2("internal_error", "This v2 endpoint is Legacy and was removed "
                                 "on 2026-10-31"), Sent(route="v2-video-generate")),
]


@pytest.mark.parametrize(("expected", "status", "body", "sent"), CASES)
def test_rule_table(expected: str, status: int, body: Any, sent: Sent | None) -> None:
    d = diagnose(record(status, body), sent, today=AFTER_SUNSET)
    assert d is not None
    assert d.id == expected
    assert d.cause and d.remedy and not d.cause.endswith(".")
    assert f"HTTP {status}" in d.evidence


def test_every_rule_is_covered_and_ids_are_unique() -> None:
    ids = [r.id for r in RULES]
    assert len(ids) == len(set(ids))
    assert set(ids) == {case[0] for case in CASES}


def test_wrong_encoding_says_it_is_not_a_plan_or_permission_problem() -> None:
    sent = Sent(route="v1-upload", encoding="multipart", parts=("type", "asset"))
    d = diagnose(record(400, ASSET_DATA), sent)
    assert d is not None and d.id == "wrong-encoding" and not d.retryable
    cause = d.cause.lower()
    assert "not a plan or permission problem" in cause
    assert "multipart with parts ['type', 'asset']" in d.cause
    assert "sent: multipart with parts ['type', 'asset']" in d.evidence
    assert "raw file bytes" in d.remedy and "MIME type" in d.remedy
    assert "image/jpeg" in d.remedy and "no multipart" in d.remedy and "/v3/assets" in d.remedy


@pytest.mark.parametrize(
    ("sent", "said"),
    [(Sent(route="v1-upload", encoding="empty", size=0), "an empty body"),
     (Sent(route="v1-upload"), "what was sent is unknown"),
     (None, "what was sent is unknown"),
     (Sent(route="v1-upload", encoding="raw", content_type="text/plain", size=5), "text/plain")],
)
def test_wrong_encoding_names_what_was_sent(sent: Sent | None, said: str) -> None:
    d = diagnose(record(400, ASSET_DATA), sent)
    assert d is not None and d.id == "wrong-encoding"
    assert said in d.cause


@pytest.mark.parametrize(
    ("status", "body", "sent", "expected"),
    [
        # the legacy v2 quirk: internal_error on a 401 is a key problem, not a server error
        (401, v2("internal_error", "Unauthorized"), None, "invalid-key"),
        (429, v2("trial_video_limit_exceeded"), None, "trial-cap"),
        (403, {"code": 400599, "message": "TIER_NOT_SUPPORT"}, None, "tier-not-supported"),
        (409, v3("request_in_progress"), Sent(route="direct-complete"), "request-in-progress"),
        (400, ASSET_DATA, Sent(route="v1-upload"), "wrong-encoding"),  # not missing-params
        (400, {"code": 40001, "message": "x"}, Sent(route="v3-video-create"), "missing-params"),
        (404, None, Sent(host="upload", path="/v1/asset"), None),  # right host: not wrong-host
        (400, v3("invalid_parameter", "too big", "file"),
         Sent(route="v3-upload", encoding="multipart", parts=("asset",), size=40 * MIB),
         "missing-file-part"),  # the misnamed part explains the 400 better than the size
    ],
)
def test_first_match_order(status: int, body: Any, sent: Sent | None, expected: str) -> None:
    d = diagnose(record(status, body), sent, today=BEFORE_SUNSET)
    assert (d.id if d else None) == expected


@pytest.mark.parametrize(
    ("status", "body"),
    [(418, v3("teapot", "short and stout")), (400, {"code": 400175, "message": "bad value"}),
     (404, v3("not_found")), (400, v2("internal_error", "Bad request"))],
)
def test_unrelated_records_return_none(status: int, body: Any) -> None:
    assert diagnose(record(status, body), Sent(route="v3-asset-get")) is None


def test_retryable_flags() -> None:
    def retry(status: int, body: Any, sent: Sent | None = None) -> bool:
        d = diagnose(record(status, body), sent)
        assert d is not None
        return d.retryable

    assert retry(429, v3("rate_limit_exceeded"))
    assert not retry(429, v2("trial_video_limit_exceeded"))
    assert retry(409, v3("request_in_progress"))
    assert retry(409, v3("conflict"), Sent(route="direct-complete"))
    assert retry(500, v3("internal_error"), Sent(route="v3-asset-list"))
    assert not retry(500, v3("internal_error"), Sent(route="v3-video-create"))
    assert not retry(502, None)  # method unknown: not promised safe
    d = diagnose(record(500, v3("internal_error")), Sent(route="v3-asset-get"))
    assert d is not None and "idempotent" in d.remedy


def test_gateway_is_only_for_non_envelope_bodies() -> None:
    d = diagnose(record(502, None))
    assert d is not None and d.id == "gateway" and "502" in d.cause
    d = diagnose(record(502, v3("internal_error")))
    assert d is not None and d.id == "server-error"


def test_to_dict_and_the_error_message() -> None:
    rec = record(400, ASSET_DATA)
    d = diagnose(rec, V1_UPLOAD)
    assert d is not None
    as_dict = d.to_dict()
    assert as_dict["id"] == "wrong-encoding" and as_dict["retryable"] is False
    assert as_dict["evidence"] == list(d.evidence)
    err = error_for(method="POST", url="https://upload.heygen.com/v1/asset", record=rec,
                    diagnosis=d)
    assert f". {d.cause}. Fix: {d.remedy}" in str(err)
    assert "..." not in str(err) and ".." not in str(err).replace("...", "")


def test_status_unknown_and_string_codes() -> None:
    """The CLI may know no status, and a v1 code may arrive as text."""
    rec = ErrorRecord(status=None, code="40001", message="asset data must be provided")
    d = diagnose(rec, Sent(route="v1-upload"))
    assert d is not None and d.id == "wrong-encoding" and "HTTP status unknown" in d.evidence
    d = diagnose(ErrorRecord(status=None, code="AVATAR_NOT_FOUND"))
    assert d is not None and d.id == "avatar-not-found"


texts = st.text(max_size=30)
sents = st.builds(
    Sent,
    route=st.none() | st.sampled_from(sorted(ROUTES)) | texts,
    host=st.sampled_from([None, "api", "upload", "storage"]),
    path=st.none() | st.sampled_from(["/v1/asset", "/v1/talking_photo", "/v3/assets",
                                      "/v3/assets/x/complete", "/", ""]) | texts,
    encoding=st.sampled_from([None, "raw", "multipart", "json", "empty"]),
    parts=st.lists(st.sampled_from(["file", "type", "asset"]) | texts, max_size=3).map(tuple),
    content_type=st.none() | texts,
    size=st.none() | st.integers(min_value=-1, max_value=2**40),
)
records = st.builds(
    ErrorRecord,
    status=st.none() | st.integers(min_value=100, max_value=599),
    code=st.none() | st.integers() | texts
    | st.sampled_from([40001, 400112, 40104, "avatar_not_found", "invalid_parameter"]),
    message=st.none() | texts | st.just("asset data must be provided"),
    param=st.none() | st.just("file") | texts,
    style=st.sampled_from(["v1", "v2", "v3", "none"]),
)


@given(records, st.none() | sents)
def test_diagnose_never_raises(rec: ErrorRecord, sent: Sent | None) -> None:
    d = diagnose(rec, sent)
    assert d is None or isinstance(d, Diagnosis)
    if d is not None:
        assert d.id and d.cause and d.remedy and d.evidence
        assert d.id in {r.id for r in RULES}
        assert not d.cause.endswith(".")
