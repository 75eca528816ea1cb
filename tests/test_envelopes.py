"""The three envelopes and bodies that are not envelopes."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from heygen_lab.envelopes import decode, decode_body

CASES = [
    # (status, body, ok, style, code, message)
    (200, {"code": 100, "data": {"id": "a"}, "msg": None, "message": None}, True, "v1", None, None),
    (400, {"code": 40001, "message": "asset data must be provided"}, False, "v1", 40001,
     "asset data must be provided"),
    (200, {"code": 40001, "message": "asset data must be provided"}, False, "v1", 40001,
     "asset data must be provided"),
    (401, {"code": 400112, "message": "Unauthorized"}, False, "v1", 400112, "Unauthorized"),
    (200, {"error": None, "data": {"video_id": "v"}}, True, "v2", None, None),
    (401, {"error": {"code": "internal_error", "message": "Unauthorized"}, "data": None}, False,
     "v2", "internal_error", "Unauthorized"),
    (404, {"data": None, "error": {"code": "avatar_not_found", "message": "nope"}}, False, "v2",
     "avatar_not_found", "nope"),
    (200, {"data": {"asset_id": "x"}}, True, "v3", None, None),
    (400, {"error": {"code": "invalid_parameter", "message": "file is required", "param": "file",
                     "doc_url": None}}, False, "v3", "invalid_parameter", "file is required"),
]


@pytest.mark.parametrize(("status", "body", "ok", "style", "code", "message"), CASES)
def test_envelopes(status: int, body: dict[str, object], ok: bool, style: str, code: object,
                   message: object) -> None:
    decoded = decode(status, json.dumps(body).encode(), request_id="rid")
    assert decoded.ok is ok
    assert decoded.style == style
    if ok:
        assert decoded.data == body["data"]
    else:
        assert decoded.error is not None
        assert (decoded.error.code, decoded.error.message) == (code, message)
        assert decoded.error.status == status
        assert decoded.error.request_id == "rid"


def test_v3_param_is_kept() -> None:
    err = decode(400, b'{"error": {"code": "invalid_parameter", "message": "m", "param": "file"}}')
    assert err.error is not None and err.error.param == "file"


@pytest.mark.parametrize("content", [b"", b"   ", b"<html><body>502 Bad Gateway</body></html>",
                                     b'{"code": 40', b"\xff\xfe\x00"])
def test_non_envelopes_are_status_only_errors(content: bytes) -> None:
    decoded = decode(502, content)
    assert not decoded.ok
    assert decoded.error is not None
    assert decoded.error.code is None and decoded.error.status == 502
    assert "no HeyGen error envelope" in decoded.error.describe()


def test_v3_list_page_keeps_cursor_in_body() -> None:
    body = {"data": [{"asset_id": "a"}], "has_more": True, "next_token": "t"}
    decoded = decode_body(200, body)
    assert decoded.data == [{"asset_id": "a"}]
    assert decoded.body["next_token"] == "t"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=4),
    max_leaves=12,
)


@given(status=st.integers(100, 599), content=st.binary(max_size=200))
def test_decode_never_raises_on_bytes(status: int, content: bytes) -> None:
    decoded = decode(status, content)
    assert decoded.ok == (decoded.error is None)


@given(status=st.integers(100, 599), body=json_values)
def test_decode_any_json(status: int, body: object) -> None:
    decoded = decode(status, json.dumps(body).encode())
    if not 200 <= status < 300:
        assert not decoded.ok, "a non-2xx status is never a success"
    if decoded.error is not None:
        assert decoded.error.status == status
        assert isinstance(decoded.error.describe(), str)


@given(code=st.integers().filter(lambda c: c != 100), message=st.text(max_size=30))
def test_v1_only_code_100_is_success(code: int, message: str) -> None:
    decoded = decode_body(200, {"code": code, "message": message, "data": None})
    assert not decoded.ok
    assert decoded.error is not None and decoded.error.code == code
