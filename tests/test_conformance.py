"""HeyGen's v3 spec, operation by operation, against the emulator over HTTP.

For every one of the 85 operations: any request the spec calls valid (drawn by hypothesis from
the spec's own schemas) is answered either 2xx with a body the response schema accepts, or with
a v3 error envelope of a status HeyGen documents; never a 5xx, never "not implemented". A
request missing any required field (body or query) is answered 400 ``invalid_parameter`` naming
exactly that field.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
from _spec_strategies import body_for, minimal, query_for
from hypothesis import given, settings
from hypothesis import strategies as st
from requests_toolbelt import MultipartEncoder

from heygen_lab.emulator import DEMO_KEY, Emulator
from heygen_lab.spec import Operation, load_spec

SPEC = load_spec()
OPERATIONS = sorted(SPEC, key=lambda op: op.name)
ERROR_STATUSES = {400, 401, 402, 403, 404, 409, 413, 429}
PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00"
       b"\x00\x90wS\xde\x00\x00\x00\x0cIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00"
       b"\x00\x00\x00IEND\xaeB`\x82")
# "." and ".." are dot-segments: HTTP clients collapse them, so they never reach a {param}.
_ID = st.text(st.characters(codec="ascii", categories=("L", "N", "P")), min_size=1,
              max_size=10).filter(lambda s: s not in {".", ".."})


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with Emulator(read_timeout=10) as e:
        yield e


@pytest.fixture(scope="module")
def http() -> Iterator[requests.Session]:
    """One keep-alive session for the module's requests, as a client's code would hold one."""
    with requests.Session() as session:
        session.headers["X-Api-Key"] = DEMO_KEY
        yield session


def send(http: requests.Session, emu: Emulator, op: Operation, params: dict[str, str],
         query: dict[str, str], body: Any, *, with_file: bool = True) -> requests.Response:
    url = emu.api_base + op.path(**params)
    if op.body_encoding == "multipart":
        enc = MultipartEncoder(fields={"file": ("tiny.png", PNG, "image/png")} if with_file
                               else {"other": "x"})
        return http.request(op.method, url, params=query, data=enc, timeout=30,
                            headers={"Content-Type": enc.content_type})
    return http.request(op.method, url, params=query, timeout=30,
                        json=body if op.body_encoding == "json" else None)


def assert_in_spec(emu: Emulator, op: Operation, r: requests.Response) -> None:
    assert r.status_code < 500, f"{op.name}: {r.status_code} {r.text[:300]}"
    body = r.json()
    if r.ok:
        assert op.check_response(body) == [], f"{op.name}: {r.text[:300]}"
    else:
        assert r.status_code in ERROR_STATUSES, f"{op.name}: {r.status_code} {r.text[:300]}"
        assert set(body) == {"error"} and {"code", "message"} <= set(body["error"])
    emu.check()  # the emulator's own check of every 2xx body against the response schema


@pytest.mark.parametrize("op", OPERATIONS, ids=lambda op: op.name)
@settings(max_examples=6)
@given(data=st.data())
def test_any_valid_request_is_answered_as_the_spec_says(http: requests.Session, emu: Emulator,
                                                        op: Operation, data: st.DataObject
                                                        ) -> None:
    params = {p: data.draw(_ID, label=p) for p in op.path_params}
    r = send(http, emu, op, params, data.draw(query_for(op), label="query"),
             data.draw(body_for(op), label="body"))
    assert_in_spec(emu, op, r)


@pytest.mark.parametrize("op", OPERATIONS, ids=lambda op: op.name)
def test_every_operation_is_served(http: requests.Session, emu: Emulator, op: Operation) -> None:
    query = {f.json_name: minimal_query(f.type) for f in op.flags_in("query") if f.required}
    r = send(http, emu, op, dict.fromkeys(op.path_params, "unknown-id"), query,
             minimal(op.request_schema) if op.body_encoding == "json" else None)
    assert r.status_code != 501, r.text
    assert_in_spec(emu, op, r)


def minimal_query(kind: str) -> str:
    return {"int": "1", "float64": "0.5", "bool": "true"}.get(kind, "x")


def _missing_cases() -> list[tuple[Operation, str]]:
    cases = []
    for op in OPERATIONS:
        cases += [(op, f.json_name) for f in op.flags if f.required and f.source != "body"]
        if op.body_encoding == "json" and op.request_schema:
            cases += [(op, name) for name in op.request_schema.get("required") or ()]
    return cases


@pytest.mark.parametrize(("op", "field"), _missing_cases(),
                         ids=lambda x: x.name if isinstance(x, Operation) else x)
def test_a_request_missing_a_required_field_names_it(http: requests.Session, emu: Emulator,
                                                     op: Operation, field: str) -> None:
    query = {f.json_name: minimal_query(f.type) for f in op.flags_in("query")
             if f.required and f.json_name != field}
    body = minimal(op.request_schema) if op.body_encoding == "json" else None
    if isinstance(body, dict):
        body.pop(field, None)
    r = send(http, emu, op, dict.fromkeys(op.path_params, "x"), query, body,
             with_file=field != "file")
    assert r.status_code == 400, r.text
    assert r.json()["error"]["code"] == "invalid_parameter"
    assert r.json()["error"]["param"] == field
