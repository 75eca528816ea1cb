"""``heygen_lab.spec``: the packaged v3 spec, its router and its request/response checks."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from heygen_lab.spec import (
    Operation,
    SpecError,
    _pair_variants,
    load_spec,
    parse_spec,
    to_json_schema,
)

SPEC = load_spec()
PACKAGED = Path(__file__).resolve().parent.parent / "heygen_lab" / "spec" / "operations.json"


def minimal(schema: Any) -> Any:
    """The smallest value a schema accepts: required fields only, first enum value or variant."""
    if not isinstance(schema, dict):
        return "x"
    if "discriminator" in schema:
        prop = schema["discriminator"]["propertyName"]
        key = next(iter(schema["discriminator"]["mapping"]))
        pairs = _pair_variants(schema)
        assert pairs is not None, "no variant to build from"
        return {**minimal(pairs[key]), prop: key}
    if "oneOf" in schema:
        return minimal(schema["oneOf"][0])
    if "enum" in schema:
        return schema["enum"][0]
    if schema.get("type") == "object" or "properties" in schema:
        props = schema.get("properties", {})
        return {name: minimal(props.get(name)) for name in schema.get("required") or ()}
    return {"string": "x", "integer": 1, "number": 1, "boolean": True,
            "array": []}.get(schema.get("type"), "x")


def path_params(op: Operation) -> dict[str, str]:
    return {name: "id1" for name in op.path_params}


# ---------------------------------------------------------------- loader
def test_the_packaged_spec_has_85_operations_with_provenance() -> None:
    assert len(SPEC) == 85
    assert SPEC.source["repository"] == "heygen-com/heygen-cli"
    assert re.fullmatch(r"[0-9a-f]{40}", SPEC.source["commit"])
    assert load_spec(PACKAGED).operations.keys() == SPEC.operations.keys()


def write(tmp_path: Path, document: Any) -> Path:
    path = tmp_path / "ops.json"
    path.write_text(document if isinstance(document, str) else json.dumps(document))
    return path


def operation(**overrides: Any) -> dict[str, Any]:
    """A small valid operation, with some fields replaced."""
    return {"group": "thing", "command": "get", "method": "GET", "endpoint": "/v3/things/{id}",
            "body_encoding": None, "paginated": False, "pollable": False,
            "destructive": False, "path_params": ["id"], "flags": [],
            "request_schema": None, "response_schema": None, **overrides}


@pytest.mark.parametrize(("content", "problem"), [
    (None, "cannot read it"),
    ("{not json", "not a JSON spec"),
    ([], "expected an object with an 'operations' object"),
    ({"operations": []}, "expected an object with an 'operations' object"),
    ({"operations": {"ThingGet": "GET /x"}}, "operation 'ThingGet' is not an object"),
    ({"operations": {"ThingGet": operation(method="FETCH")}}, "needs a method"),
    ({"operations": {"ThingGet": operation(path_params=["thing_id"])}},
     "path_params ['thing_id'] do not match the endpoint /v3/things/{id}"),
    ({"operations": {"ThingGet": operation(path_params=[])}}, "do not match the endpoint"),
    ({"operations": {"ThingGet": operation(body_encoding="xml")}}, "body_encoding 'xml'"),
    ({"operations": {"ThingGet": operation(flags=[{"name": "x", "json_name": "x",
                                                   "source": "header", "type": "string"}])}},
     "source 'header'"),
    ({"operations": {"ThingGet": operation(response_schema=[])}}, "response_schema is not"),
])
def test_a_bad_spec_file_names_the_file_and_the_problem(tmp_path: Path, content: Any,
                                                        problem: str) -> None:
    path = tmp_path / "missing.json" if content is None else write(tmp_path, content)
    with pytest.raises(SpecError) as caught:
        load_spec(path)
    assert str(path) in str(caught.value)
    assert problem in str(caught.value)


def test_an_unknown_name_suggests_close_ones() -> None:
    with pytest.raises(KeyError, match=r"did you mean VideoCreate"):
        SPEC["VideoCreat"]


# ---------------------------------------------------------------- router
@pytest.mark.parametrize(("method", "path", "name", "params"), [
    ("GET", "/v3/assets/search", "AssetSearch", {}),
    ("GET", "/v3/assets/statuses", "AssetStatusesList", {}),
    ("GET", "/v3/videos/statuses", "VideoStatusesList", {}),
    ("GET", "/v3/video-translations/languages", "VideoTranslateLanguagesList", {}),
    ("GET", "/v3/assets/abc", "AssetGet", {"asset_id": "abc"}),
    ("GET", "/v3/videos/v1", "VideoGet", {"video_id": "v1"}),
    ("DELETE", "/v3/assets/abc", "AssetDelete", {"asset_id": "abc"}),
    ("post", "/v3/videos/", "VideoCreate", {}),
])
def test_static_segments_win_over_parameters(method: str, path: str, name: str,
                                             params: dict[str, str]) -> None:
    match = SPEC.find(method, path)
    assert match is not None
    assert (match.operation.name, match.params) == (name, params)


def test_unknown_paths_and_methods() -> None:
    assert SPEC.find("GET", "/v3/nothing-here") is None
    assert SPEC.find("PUT", "/v3/assets/abc") is None
    assert SPEC.methods_at("/v3/assets/abc") == {"GET", "DELETE"}
    assert SPEC.methods_at("/v3/assets") == {"GET", "POST"}
    assert SPEC.methods_at("/v3/nothing-here") == set()


STATIC = frozenset(s for op in SPEC for s in op.endpoint.split("/") if not s.startswith("{"))
segment_values = st.text(min_size=1, max_size=20).filter(lambda s: s not in STATIC)


@given(op=st.sampled_from(list(SPEC)), data=st.data())
def test_every_operation_is_found_again_from_its_path(op: Operation, data: st.DataObject) -> None:
    params = {name: data.draw(segment_values, label=name) for name in op.path_params}
    match = SPEC.find(op.method, op.path(**params))
    assert match is not None
    assert match.operation is op
    assert {k: unquote(v) for k, v in match.params.items()} == params


def test_path_percent_encodes_each_parameter() -> None:
    assert SPEC["AssetDelete"].path(asset_id="x/../y") == "/v3/assets/x%2F..%2Fy"
    assert SPEC["AssetGet"].path(asset_id="a b?c#d") == "/v3/assets/a%20b%3Fc%23d"


@pytest.mark.parametrize(("params", "problem"), [
    ({}, "AssetGet needs the path parameter(s) asset_id"),
    ({"asset_id": ""}, "AssetGet needs the path parameter(s) asset_id"),
    ({"asset_id": "a", "extra": "b"}, "AssetGet has no path parameter(s) extra"),
])
def test_path_refuses_missing_empty_or_extra_parameters(params: dict[str, str],
                                                        problem: str) -> None:
    with pytest.raises(ValueError, match=re.escape(problem)):
        SPEC["AssetGet"].path(**params)


# ---------------------------------------------------------------- check_request: query flags
FLAGS_DOC = {"operations": {"ThingList": operation(
    endpoint="/v3/things", path_params=[], flags=[
        {"name": "owner", "json_name": "owner", "source": "query", "type": "string",
         "required": True},
        {"name": "limit", "json_name": "limit", "source": "query", "type": "int",
         "required": False, "min": 1, "max": 100},
        {"name": "score", "json_name": "min_score", "source": "query", "type": "float64",
         "required": False, "min": 0, "max": 1},
        {"name": "deep", "json_name": "deep", "source": "query", "type": "bool",
         "required": False},
        {"name": "kind", "json_name": "kind", "source": "query", "type": "string",
         "required": False, "enum": ["image", "icon"]},
    ])}}
THINGS = parse_spec(FLAGS_DOC)["ThingList"]


@pytest.mark.parametrize(("query", "expected"), [
    ({"owner": "me"}, []),
    ({"owner": "me", "limit": "1", "min_score": "0.5", "deep": "true", "kind": "icon"}, []),
    ({"owner": ["a", "me"], "limit": ["500", "100"]}, []),  # a repeated name: the last counts
    ({}, [("owner", "is required")]),
    ({"owner": ""}, [("owner", "is required")]),
    ({"owner": "me", "limit": "ten"}, [("limit", "must be an integer, got 'ten'")]),
    ({"owner": "me", "limit": "1.5"}, [("limit", "must be an integer, got '1.5'")]),
    ({"owner": "me", "limit": "0"}, [("limit", "must be at least 1, got 0")]),
    ({"owner": "me", "limit": "101"}, [("limit", "must be at most 100, got 101")]),
    ({"owner": "me", "min_score": "high"}, [("min_score", "must be a number, got 'high'")]),
    ({"owner": "me", "min_score": "nan"}, [("min_score", "must be a finite number, got 'nan'")]),
    ({"owner": "me", "min_score": "1.01"}, [("min_score", "must be at most 1, got 1.01")]),
    ({"owner": "me", "min_score": "-0.1"}, [("min_score", "must be at least 0, got -0.1")]),
    ({"owner": "me", "deep": "yes"}, [("deep", "must be true or false, got 'yes'")]),
    ({"owner": "me", "kind": "video"}, [("kind", "must be one of image, icon; got 'video'")]),
    ({"limit": "0", "kind": "x"}, [("owner", "is required"), ("limit", "must be at least 1, "
                                    "got 0"), ("kind", "must be one of image, icon; got 'x'")]),
])
def test_every_query_flag_rule(query: dict[str, Any], expected: list[tuple[str, str]]) -> None:
    found = THINGS.check_request(query=query)
    assert [(v.param, v.message) for v in found] == expected


def test_the_packaged_query_flags_apply() -> None:
    search = SPEC["AssetSearch"]
    assert [v.param for v in search.check_request(query={"query": "cat"})] == ["type"]
    assert search.check_request(query={"query": "cat", "type": "icon", "limit": "50"}) == []
    assert [v.param for v in search.check_request(
        query={"query": "cat", "type": "icon", "limit": "51"})] == ["limit"]
    assert [v.param for v in SPEC["AssetGet"].check_request()] == ["asset_id"]


# ---------------------------------------------------------------- check_request: bodies
JSON_OPS = [op for op in SPEC if op.body_encoding == "json" and op.request_schema]
REQUIRED = [(op.name, field) for op in JSON_OPS
            for field in (op.request_schema or {}).get("required") or ()]


def test_there_are_bodies_with_required_fields_to_check() -> None:
    assert len(REQUIRED) >= 25
    assert ("VoiceSpeechCreate", "voice_id") in REQUIRED


@pytest.mark.parametrize("name", [op.name for op in JSON_OPS if op.name != "AvatarCreate"])
def test_a_minimal_body_is_accepted(name: str) -> None:
    op = SPEC[name]
    body = minimal(op.request_schema)
    assert op.check_request(path_params=path_params(op), body=body) == []


@pytest.mark.parametrize(("name", "field"), REQUIRED)
def test_a_body_missing_a_required_field_names_exactly_that_field(name: str, field: str) -> None:
    op = SPEC[name]
    body = minimal(op.request_schema)
    del body[field]
    found = op.check_request(path_params=path_params(op), body=body)
    assert [(v.param, v.message) for v in found] == [(field, "is required")]


@pytest.mark.parametrize("body", [None, [], "text", 3])
def test_a_json_body_must_be_an_object(body: Any) -> None:
    found = SPEC["VoiceSpeechCreate"].check_request(body=body)
    assert [(v.param, v.message) for v in found] == [("body", "must be a JSON object")]


VARIANTS = {
    "avatar": ({"avatar_id": "av1", "script": "Hello"}, "avatar_id"),
    "image": ({"image": {"type": "url", "url": "https://example.com/a.png"}}, "image"),
    "cinematic_avatar": ({"prompt": "a walk", "avatar_id": ["av1"]}, "prompt"),
    "studio": ({"scenes": []}, "scenes"),
}


@pytest.mark.parametrize("kind", VARIANTS)
def test_video_create_variants_accept_a_minimal_body_and_name_their_missing_field(
        kind: str) -> None:
    create = SPEC["VideoCreate"]
    body, needed = VARIANTS[kind]
    assert create.check_request(body={"type": kind, **body}) == []
    without = {k: v for k, v in body.items() if k != needed}
    found = create.check_request(body={"type": kind, **without})
    assert [(v.param, v.message) for v in found] == [(needed, "is required")]


def test_video_create_names_the_discriminator() -> None:
    create = SPEC["VideoCreate"]
    assert [v.param for v in create.check_request(body={"avatar_id": "a"})] == ["type"]
    [wrong] = create.check_request(body={"type": "hologram", "avatar_id": "a"})
    assert wrong.param == "type" and "'hologram' is not one of" in wrong.message


def test_nullable_fields_accept_null_and_others_do_not() -> None:
    create = SPEC["VideoCreate"]
    assert create.check_request(body={"type": "avatar", "avatar_id": "a", "script": None,
                                      "voice_id": None, "resolution": None}) == []
    [bad] = create.check_request(body={"type": "avatar", "avatar_id": None})
    assert bad.param == "avatar_id" and "None is not of type 'string'" in bad.message
    assert to_json_schema({"type": "string", "enum": ["a"], "nullable": True}) == {
        "type": ["string", "null"], "enum": ["a", None]}


def test_body_flag_limits_are_part_of_the_request_schema() -> None:
    speech = SPEC["VoiceSpeechCreate"]
    body = {"text": "hi", "voice_id": "v1"}
    assert speech.check_request(body={**body, "speed": 2}) == []
    [bad] = speech.check_request(body={**body, "speed": 2.5})
    assert bad.param == "speed" and "maximum of 2" in bad.message


def test_multipart_needs_its_file_part() -> None:
    create = SPEC["AssetCreate"]
    assert create.check_request(files=["file"]) == []
    [missing] = create.check_request(files=["other"])
    assert missing.param == "file"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner,
                                                                max_size=4),
    max_leaves=12)
queries = st.dictionaries(st.text(max_size=10),
                          st.text(max_size=10) | st.lists(st.text(max_size=10), max_size=3))


@given(op=st.sampled_from(list(SPEC)), body=json_values, query=queries,
       files=st.lists(st.text(max_size=6), max_size=3))
def test_check_request_never_raises(op: Operation, body: Any, query: dict[str, Any],
                                    files: list[str]) -> None:
    found = op.check_request(path_params=path_params(op), query=query, body=body, files=files)
    assert all(isinstance(v.param, str) and v.message for v in found)


@given(op=st.sampled_from([op for op in JSON_OPS if op.name != "AvatarCreate"]),
       data=st.data())
def test_check_request_never_raises_on_bodies_close_to_valid(op: Operation,
                                                             data: st.DataObject) -> None:
    body = minimal(op.request_schema)
    for key in data.draw(st.lists(st.sampled_from(sorted(body) or ["x"]), max_size=3)):
        body[key] = data.draw(json_values)
    found = op.check_request(path_params=path_params(op), body=body)
    assert all(isinstance(v.param, str) and v.message for v in found)


# ---------------------------------------------------------------- check_response
def test_check_response_reads_the_data_envelope() -> None:
    get = SPEC["VideoGet"]
    assert get.check_response({"data": {"id": "v1", "status": "completed"}}) == []
    assert get.check_response({"data": {"id": "v1", "status": "exploded"}}) == [
        "data.status: 'exploded' is not one of ['pending', 'processing', 'completed', "
        "'failed']"]
    assert get.check_response({"data": {"id": 7, "status": "completed"}}) == [
        "data.id: 7 is not of type 'string'"]
    listing = SPEC["VideoList"]
    assert listing.check_response({"data": [], "has_more": False, "next_token": None}) == []
    assert listing.check_response({"data": [{"id": "v1"}]}) == [
        "data[0]: 'status' is a required property"]


@pytest.mark.parametrize("name", ["VideoGet", "VideoList", "AiClippingCreate"])
@pytest.mark.parametrize("body", [{}, {"error": {"code": "x", "message": "y"}}, []])
def test_a_success_body_without_data_does_not_conform(name: str, body: Any) -> None:
    assert SPEC[name].check_response(body) != []
