"""The v3-first client (issue 8): every v3 operation by name, checked before sending; the v3
endpoint methods; pagination; the username ``GET /v3/assets`` requires.

Two servers, both real HTTP on 127.0.0.1:

- ``Stub``, a tiny HeyGen stand-in in this file: it answers spec-shaped canned bodies and keeps
  every request exactly as it arrived (raw path included). It proves what the client sends and
  what it refuses to send, independently of the emulator.
- ``Emulator`` (``TestAgainstEmulator``): the same families end to end, in the spec's shapes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from _support import serving
from requests_toolbelt.multipart.decoder import MultipartDecoder
from werkzeug.wrappers import Request, Response

from heygen_lab.cli import main
from heygen_lab.client import IDEMPOTENCY_KEY_OPERATIONS, HeyGenClient, Page, VideoStatus
from heygen_lab.emulator import Emulator
from heygen_lab.errors import HeyGenError, InvalidRequestError, NotFoundError, ServerError
from heygen_lab.retry import RetryPolicy
from heygen_lab.spec import load_spec

KEY = "sk-test-" + "0123456789abcdef0123456789abcdef"
IDEMPOTENCY_KEY = re.compile(r"heygen-lab-[0-9a-f]{32}")
SPEC = load_spec()
USER = {"username": "ada", "email": "ada@example.invalid", "first_name": "Ada",
        "last_name": "L", "billing_type": "wallet",
        "wallet": {"currency": "usd", "remaining_balance": 12.5, "auto_reload": None}}


def asset(i: int) -> dict[str, Any]:
    return {"id": f"ast_{i}", "name": f"file{i}.jpg", "type": "image", "owner": "ada",
            "space_id": "sp_1", "uploaded_at": 1_700_000_000 + i, "folder_id": None,
            "url": f"https://files.invalid/ast_{i}"}


# ---------------------------------------------------------------- a recording loopback stub
@dataclass(frozen=True)
class Got:
    """One request as the stub received it; ``path`` is the raw (still encoded) path."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


Answer = tuple[int, Any]


@dataclass
class Stub:
    """Answers ``"METHOD /path"`` from ``routes`` (a ``(status, body)``, a list of them served
    in turn, the last one repeated, or a function of the request), else a default spec-shaped
    success; records every request."""

    routes: dict[str, Any] = field(default_factory=dict)
    got: list[Got] = field(default_factory=list)
    base: str = ""

    def __call__(self, environ: Any, start_response: Any) -> Any:
        request = Request(environ)
        raw = urlsplit(environ["RAW_URI"])
        got = Got(request.method, raw.path, parse_qs(raw.query, keep_blank_values=True),
                  {k.lower(): v for k, v in request.headers.items()}, request.get_data())
        self.got.append(got)
        status, body = self.answer(got)
        return Response(json.dumps(body), status=status,
                        content_type="application/json")(environ, start_response)

    def answer(self, got: Got) -> Answer:
        found = self.routes.get(f"{got.method} {got.path}")
        if callable(found):
            return found(got)  # type: ignore[no-any-return]
        if isinstance(found, list):
            return found.pop(0) if len(found) > 1 else found[0]  # type: ignore[no-any-return]
        if isinstance(found, tuple):
            return found
        match = SPEC.find(got.method, got.path)
        if match is None:
            return 404, {"error": {"code": "not_found", "message": "no such route"}}
        if match.operation.paginated:
            return 200, {"data": [], "has_more": False, "next_token": None}
        return 200, {"data": {}}

    def sent(self, method: str | None = None) -> list[Got]:
        return [g for g in self.got if method is None or g.method == method]


@pytest.fixture
def stub() -> Iterator[Stub]:
    app = Stub()
    with serving(app) as server:
        app.base = f"http://127.0.0.1:{server.server_port}"
        yield app


@pytest.fixture
def client(stub: Stub) -> Iterator[HeyGenClient]:
    with HeyGenClient(KEY, api_base=stub.base, upload_base=stub.base,
                      retry_policy=RetryPolicy(max_retries=2, base_delay=0, max_delay=0),
                      sleep=lambda _s: None) as c:
        yield c


# ---------------------------------------------------------------- checked before sending
def test_a_request_that_breaks_the_spec_is_refused_before_sending(
        stub: Stub, client: HeyGenClient) -> None:
    with pytest.raises(InvalidRequestError) as info:
        client.operation("VideoCreate", json={"type": "avatar", "script": "Hi"})
    err = info.value
    assert stub.got == [], "nothing was sent"
    assert err.operation == "VideoCreate"
    assert [v.param for v in err.violations] == ["voice_id", "avatar_id"]
    text = str(err)
    assert "VideoCreate (POST /v3/videos): the request breaks HeyGen's v3 spec; nothing was " \
           "sent" in text
    assert "avatar_id: is required (fix: add 'avatar_id' to the JSON body)" in text
    assert "voice_id: is required with script" in text
    assert KEY not in text and all(KEY not in str(a) for a in err.args)


@pytest.mark.parametrize("call, param, fix", [
    (lambda c: c.operation("VideoList", query={"limit": "many"}), "limit", "valid int"),
    (lambda c: c.operation("VideoList", query={"limit": 500}), "limit", "valid int"),
    (lambda c: c.operation("VideoList", query={"colour": "red"}), "colour", "use one of: limit"),
    (lambda c: c.operation("AssetSearch", query={"query": "cat"}), "type", "pass query="),
    (lambda c: c.operation("AvatarList", query={"ownership": "theirs"}), "ownership", ""),
    (lambda c: c.operation("VideoGet"), "video_id", "pass video_id="),
    (lambda c: c.operation("VideoGet", video_id=""), "video_id", "pass video_id="),
    (lambda c: c.operation("VideoGet", video_id=".."), "video_id", "HeyGen returned"),
    (lambda c: c.operation("VideoGet", video_id="v", asset_id="a"), "asset_id", "its path"),
    (lambda c: c.operation("VideoGet", path={"video_id": "a"}, video_id="b"), "video_id",
     "once"),
    (lambda c: c.operation("VideoGet", video_id="v", json={}), "body", "drop json="),
    (lambda c: c.operation("VideoCreate", json=["not", "an", "object"]), "body", "JSON object"),
    (lambda c: c.operation("VideoCreate", json={"type": "avatar", "avatar_id": "a",
                                                "audio_url": "u", "extra": object()}),
     "body", "is not JSON"),
    (lambda c: c.operation("AssetCreate"), "file", "file="),
    (lambda c: c.operation("VideoList", idempotency_key="k1"), "Idempotency-Key", "drop"),
    (lambda c: c.operation("VideoTranslateCreate", json={}, idempotency_key="no spaces"),
     "Idempotency-Key", "another"),
    (lambda c: c.operation("NoSuchThing"), "operation", "load_spec()"),
    (lambda c: c.operation("VideoCreat"), "operation", "VideoCreate"),
    (lambda c: list(c.iter_operation("VideoGet", video_id="v")), "operation", "operation()"),
])
def test_each_kind_of_violation_names_its_param_and_a_fix(
        stub: Stub, client: HeyGenClient, call: Callable[[HeyGenClient], object], param: str,
        fix: str) -> None:
    with pytest.raises(InvalidRequestError) as info:
        call(client)
    assert param in [v.param for v in info.value.violations]
    assert fix in str(info.value)
    assert stub.got == []


@pytest.mark.parametrize("body, param", [
    ({"avatar_id": "a"}, "script"),                                         # no voice at all
    ({"avatar_id": "a", "script": "Hi"}, "voice_id"),                       # script, no voice
    ({"avatar_id": "a", "script": "Hi", "voice_id": "v", "audio_url": "u"}, "script"),
    ({"avatar_id": "a", "audio_url": "u", "audio_asset_id": "x"}, "audio_url"),
    ({"type": "image", "script": "Hi", "voice_id": "v"}, "image"),
    ({"type": "studio"}, "scenes"),
    ({"type": "cinematic_avatar", "avatar_id": "a"}, "prompt"),
    ({"type": "hologram", "avatar_id": "a"}, "type"),
])
def test_create_video_refuses_an_incomplete_body(stub: Stub, client: HeyGenClient,
                                                 body: dict[str, Any], param: str) -> None:
    with pytest.raises(InvalidRequestError) as info:
        client.create_video(body)
    assert param in {v.param for v in info.value.violations}
    assert stub.got == []


# ---------------------------------------------------------------- what goes on the wire
def test_operation_by_name_builds_the_request_and_returns_data(
        stub: Stub, client: HeyGenClient) -> None:
    stub.routes["POST /v3/video-translations"] = (
        200, {"data": {"video_translation_ids": ["vt_1"]}})
    body = {"video": {"type": "url", "url": "https://example.invalid/v.mp4"},
            "output_languages": ["fr"]}
    data = client.operation("VideoTranslateCreate", json=body)
    assert data == {"video_translation_ids": ["vt_1"]}
    (got,) = stub.got
    assert (got.method, got.path, got.query) == ("POST", "/v3/video-translations", {})
    assert got.json() == body
    assert got.headers["content-type"] == "application/json"
    assert got.headers["x-api-key"] == KEY
    assert IDEMPOTENCY_KEY.fullmatch(got.headers["idempotency-key"])


def test_path_query_and_keys(stub: Stub, client: HeyGenClient) -> None:
    client.operation("VideoTranslateProofreadsGenerate", proofread_id="pr_1", json={})
    client.operation("VideoTranslateProofreadsGenerate", path={"proofread_id": "pr_1"},
                     json={}, idempotency_key="mine:1")
    client.operation("VoiceList", query={"limit": 5, "gender": "female", "token": None})
    client.operation("AudioSoundsList", query={"query": "rain", "min_score": 0.5})
    client.operation("VideoAgentStop", session_id="s_1")
    first, second, voices, sounds, stop = stub.got
    assert first.path == second.path == "/v3/video-translations/proofreads/pr_1/generate"
    assert IDEMPOTENCY_KEY.fullmatch(first.headers["idempotency-key"])
    assert second.headers["idempotency-key"] == "mine:1"
    assert (voices.method, voices.path) == ("GET", "/v3/voices")
    assert voices.query == {"limit": ["5"], "gender": ["female"]}, "None is not sent"
    assert "idempotency-key" not in voices.headers and voices.body == b""
    assert sounds.query == {"query": ["rain"], "min_score": ["0.5"]}
    assert (stop.path, stop.json()) == ("/v3/video-agents/s_1/stop", {}), "JSON defaults to {}"
    assert "idempotency-key" not in stop.headers, "HeyGen documents no key for it"


def test_every_key_is_fresh(stub: Stub, client: HeyGenClient) -> None:
    for _ in range(3):
        client.operation("WebhookEndpointsRotateSecret", endpoint_id="we_1")
    keys = {g.headers["idempotency-key"] for g in stub.got}
    assert len(keys) == 3


def test_a_keyed_post_is_retried_after_a_5xx_with_the_same_key(
        stub: Stub, client: HeyGenClient) -> None:
    stub.routes["POST /v3/videos"] = [
        (503, {"error": {"code": "internal_error", "message": "try again"}}),
        (200, {"data": {"video_id": "v_1", "status": "pending"}})]
    video = client.create_video(avatar_id="a_1", script="Hi", voice_id="vo_1")
    assert (video.id, video.status) == ("v_1", "pending")
    first, second = stub.got
    assert first.headers["idempotency-key"] == second.headers["idempotency-key"]
    assert first.body == second.body


def test_an_unkeyed_post_is_not_retried_and_errors_are_typed(
        stub: Stub, client: HeyGenClient) -> None:
    stub.routes["POST /v3/video-agents/s_1/stop"] = (
        500, {"error": {"code": "internal_error", "message": "boom"}})
    stub.routes["GET /v3/videos/nope"] = (
        404, {"error": {"code": "video_not_found", "message": "Video not found",
                        "param": "video_id"}})
    with pytest.raises(ServerError):
        client.operation("VideoAgentStop", session_id="s_1", json={})
    assert len(stub.got) == 1, "a POST without a key is never repeated"
    with pytest.raises(NotFoundError) as info:
        client.get_video("nope")
    assert info.value.code == "video_not_found"
    assert info.value.diagnosis is not None
    assert f"GET {stub.base}/v3/videos/nope -> HTTP 404" in str(info.value)
    assert KEY not in str(info.value)


@pytest.mark.parametrize("value, wire", [
    ("x/../y", "x%2F..%2Fy"),
    ("a b?c#d&e=f", "a%20b%3Fc%23d%26e%3Df"),
    ("%2F", "%252F"),
    ("élan", "%C3%A9lan"),
    ("...", "..."),
])
def test_path_params_stay_in_their_segment(stub: Stub, client: HeyGenClient, value: str,
                                           wire: str) -> None:
    client.get_asset(value)
    client.delete_asset(value)
    client.operation("VideoAgentResourcesGet", session_id=value, resource_id="r")
    got = [g.path for g in stub.got]
    assert got == [f"/v3/assets/{wire}", f"/v3/assets/{wire}",
                   f"/v3/video-agents/{wire}/resources/r"]


def test_multipart_upload_by_name(stub: Stub, client: HeyGenClient, jpeg: Path) -> None:
    stub.routes["POST /v3/assets"] = (200, {"data": {
        "asset_id": "ast_9", "url": "https://files.invalid/ast_9", "mime_type": "image/jpeg",
        "size_bytes": jpeg.stat().st_size}})
    data = client.operation("AssetCreate", file=jpeg)
    assert data["asset_id"] == "ast_9"
    (got,) = stub.got
    (part,) = MultipartDecoder(got.body, got.headers["content-type"]).parts
    assert b'name="file"' in part.headers[b"Content-Disposition"]
    assert part.content == jpeg.read_bytes()
    assert IDEMPOTENCY_KEY.fullmatch(got.headers["idempotency-key"])


@pytest.mark.parametrize("name", sorted(op.name for op in SPEC))
def test_every_operation_is_callable_by_name(stub: Stub, client: HeyGenClient, jpeg: Path,
                                             name: str) -> None:
    """With its path parameters and required query flags, each of the 85 operations either
    reaches the right method and path, or (a JSON body missing required fields) is refused for
    its body alone, before sending."""
    op = SPEC[name]
    ids = {p: f"{p}_1" for p in op.path_params}
    query = {f.json_name: (f.enum[0] if f.enum else "1" if f.type == "int" else "x")
             for f in op.flags_in("query") if f.required}
    extra: dict[str, Any] = {"file": jpeg} if op.body_encoding == "multipart" else {}
    if op.body_encoding == "multipart":
        stub.routes["POST /v3/assets"] = (200, {"data": {"asset_id": "a", "url": "u",
                                                         "mime_type": "image/jpeg",
                                                         "size_bytes": 1}})
    try:
        result = client.operation(name, path=ids, query=query, **extra)
    except InvalidRequestError as exc:
        assert op.body_encoding == "json", exc
        assert not {v.param for v in exc.violations} & {*op.path_params, *query}, exc
        assert stub.got == []
        return
    (got,) = stub.got
    assert (got.method, got.path) == (op.method, op.path(**ids))
    assert ("idempotency-key" in got.headers) == (name in IDEMPOTENCY_KEY_OPERATIONS)
    assert isinstance(result, Page) == op.paginated


def test_the_documented_key_operations_exist_and_are_posts() -> None:
    assert {SPEC[n].method for n in IDEMPOTENCY_KEY_OPERATIONS} == {"POST"}


# ---------------------------------------------------------------- username and pagination
def paged(items: list[dict[str, Any]], size: int) -> Callable[[Got], Answer]:
    """A cursor-paginated list: ``token`` is the index of the next item, as a string."""
    def answer(got: Got) -> Answer:
        start = int(got.query.get("token", ["0"])[0])
        limit = int(got.query.get("limit", [str(size)])[0])
        page = items[start:start + limit]
        more = start + limit < len(items)
        return 200, {"data": page, "has_more": more,
                     "next_token": str(start + limit) if more else None}
    return answer


def test_list_assets_sends_the_username_from_me_once(stub: Stub, client: HeyGenClient) -> None:
    stub.routes["GET /v3/users/me"] = (200, {"data": USER})
    stub.routes["GET /v3/assets"] = paged([asset(i) for i in range(5)], 2)
    page = client.list_assets(limit=2)
    assert [a["id"] for a in page] == ["ast_0", "ast_1"] and len(page) == 2
    assert (page.has_more, page.next_token) == (True, "2")
    assert set(page.items[0]) == {"id", "name", "type", "owner", "space_id", "uploaded_at",
                                  "folder_id", "url"}
    second = client.list_assets(limit=2, token=page.next_token)
    assert [a["id"] for a in second] == ["ast_2", "ast_3"]
    assert [a["id"] for a in client.iter_assets(limit=2)] == [f"ast_{i}" for i in range(5)]
    me_calls = [g for g in stub.got if g.path == "/v3/users/me"]
    lists = [g for g in stub.got if g.path == "/v3/assets"]
    assert len(me_calls) == 1, "the username is asked for once per client"
    assert {g.query["username"][0] for g in lists} == {"ada"}
    assert [g.query.get("token") for g in lists[2:]] == [None, ["2"], ["4"]]


def test_an_explicit_username_skips_me(stub: Stub, client: HeyGenClient) -> None:
    client.list_assets(username="grace", folder_id="f_1")
    (got,) = stub.got
    assert got.query == {"username": ["grace"], "folder_id": ["f_1"]}


def test_a_user_without_username_is_a_clear_error(stub: Stub, client: HeyGenClient) -> None:
    stub.routes["GET /v3/users/me"] = (200, {"data": {"email": "x@example.invalid"}})
    with pytest.raises(HeyGenError, match="pass username="):
        client.list_assets()


@pytest.mark.parametrize("method, name, path", [
    ("iter_videos", "VideoList", "/v3/videos"),
    ("iter_avatars", "AvatarList", "/v3/avatars"),
    ("iter_avatar_looks", "AvatarLooksList", "/v3/avatars/looks"),
    ("iter_voices", "VoiceList", "/v3/voices"),
])
def test_iterators_follow_next_token(stub: Stub, client: HeyGenClient, method: str, name: str,
                                     path: str) -> None:
    stub.routes[f"GET {path}"] = paged([{"id": str(i)} for i in range(7)], 3)
    assert [x["id"] for x in getattr(client, method)(limit=3)] == [str(i) for i in range(7)]
    assert [g.query.get("token") for g in stub.got] == [None, ["3"], ["6"]]
    assert {g.query["limit"][0] for g in stub.got} == {"3"}
    stub.got.clear()
    generic = list(client.iter_operation(name, query={"limit": 3, "token": "3"}))
    assert [x["id"] for x in generic] == [str(i) for i in range(3, 7)], "starts at the token"


def test_list_methods_send_their_filters(stub: Stub, client: HeyGenClient) -> None:
    client.list_videos(limit=10, folder_id="f", title="t")
    client.list_avatars(ownership="private")
    client.list_avatar_looks(group_id="g", avatar_type="photo_avatar")
    client.list_voices(type="private", engine="starfish", language="en", gender="male")
    assert [(g.path, g.query) for g in stub.got] == [
        ("/v3/videos", {"limit": ["10"], "folder_id": ["f"], "title": ["t"]}),
        ("/v3/avatars", {"ownership": ["private"]}),
        ("/v3/avatars/looks", {"group_id": ["g"], "avatar_type": ["photo_avatar"]}),
        ("/v3/voices", {"type": ["private"], "engine": ["starfish"], "language": ["en"],
                        "gender": ["male"]}),
    ]


def test_a_cursor_that_repeats_stops_the_iteration(stub: Stub, client: HeyGenClient) -> None:
    stub.routes["GET /v3/voices"] = (200, {"data": [{"voice_id": "a"}], "has_more": True,
                                           "next_token": "same"})
    with pytest.raises(HeyGenError, match="cursor 'same' twice"):
        list(client.iter_voices())
    assert len(stub.got) == 2


def test_batch_pages_carry_the_batch(stub: Stub, client: HeyGenClient) -> None:
    stub.routes["GET /v3/videos/batches/b_1"] = (200, {"data": {
        "batch_id": "b_1", "status": "processing", "items": [{"video_id": "v_1"}],
        "has_more": True, "next_token": "n2"}})
    page = client.operation("VideoBatchesGet", batch_id="b_1")
    assert isinstance(page, Page)
    assert (page.items, page.has_more, page.next_token) == ([{"video_id": "v_1"}], True, "n2")
    assert page.data["status"] == "processing"


# ---------------------------------------------------------------- videos and the user
@pytest.mark.parametrize("kwargs, sent", [
    ({"avatar_id": "a", "script": "Hi", "voice_id": "v"},
     {"type": "avatar", "avatar_id": "a", "script": "Hi", "voice_id": "v"}),
    ({"type": "avatar", "avatar_id": "a", "audio_asset_id": "ast_1", "title": None},
     {"type": "avatar", "avatar_id": "a", "audio_asset_id": "ast_1"}),
    ({"type": "image", "image": {"type": "url", "url": "https://example.invalid/p.png"},
      "audio_url": "https://example.invalid/a.mp3", "aspect_ratio": "9:16"},
     {"type": "image", "image": {"type": "url", "url": "https://example.invalid/p.png"},
      "audio_url": "https://example.invalid/a.mp3", "aspect_ratio": "9:16"}),
    ({"type": "cinematic_avatar", "avatar_id": ["a"], "prompt": "walks on a beach"},
     {"type": "cinematic_avatar", "avatar_id": ["a"], "prompt": "walks on a beach"}),
    ({"type": "studio", "scenes": []}, {"type": "studio", "scenes": []}),
])
def test_create_video_variants(stub: Stub, client: HeyGenClient, kwargs: dict[str, Any],
                               sent: dict[str, Any]) -> None:
    stub.routes["POST /v3/videos"] = (200, {"data": {"video_id": "v_1", "status": "pending",
                                                     "output_format": "mp4"}})
    video = client.create_video(**kwargs)
    assert isinstance(video, VideoStatus)
    assert (video.id, video.status, video.done) == ("v_1", "pending", False)
    (got,) = stub.got
    assert got.json() == sent
    assert IDEMPOTENCY_KEY.fullmatch(got.headers["idempotency-key"])


def test_create_video_from_a_mapping_with_overrides(stub: Stub, client: HeyGenClient) -> None:
    stub.routes["POST /v3/videos"] = (200, {"data": {"video_id": "v_2", "status": "pending"}})
    base = {"type": "avatar", "avatar_id": "a", "script": "Hi", "voice_id": "v"}
    client.create_video(base, script="Bye", idempotency_key="order-42")
    (got,) = stub.got
    assert got.json() == {**base, "script": "Bye"}
    assert got.headers["idempotency-key"] == "order-42"
    assert base["script"] == "Hi", "the caller's mapping is not changed"


def test_get_video_and_wait_poll_v3(stub: Stub, client: HeyGenClient) -> None:
    stub.routes["GET /v3/videos/v_1"] = [
        (200, {"data": {"id": "v_1", "status": "pending"}}),
        (200, {"data": {"id": "v_1", "status": "processing"}}),
        (200, {"data": {"id": "v_1", "status": "failed", "video_url": None,
                        "failure_code": "script_too_long",
                        "failure_message": "The script is too long for your plan"}})]
    first = client.get_video("v_1")
    assert (first.id, first.status, first.failure_code) == ("v_1", "pending", None)
    done = client.wait_for_video("v_1", interval=5)
    assert done.failed and done.done
    assert (done.failure_code, done.failure_message) == (
        "script_too_long", "The script is too long for your plan")
    assert {g.path for g in stub.got} == {"/v3/videos/v_1"}


def test_me_is_the_v3_user_and_whoami_prints_it(stub: Stub, client: HeyGenClient,
                                                 capsys: pytest.CaptureFixture[str],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    stub.routes["GET /v3/users/me"] = (200, {"data": USER})
    assert client.me() == USER
    monkeypatch.setenv("HEYGEN_API_KEY", KEY)
    monkeypatch.setenv("HEYGEN_API_BASE", stub.base)
    assert main(["whoami", "--target", "live"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert {k: shown[k] for k in ("username", "email", "billing_type", "wallet")} == {
        "username": "ada", "email": "ada@example.invalid", "billing_type": "wallet",
        "wallet": USER["wallet"]}
    assert KEY not in json.dumps(shown)


def test_no_v1_or_v2_request_from_the_v3_methods(stub: Stub, client: HeyGenClient) -> None:
    stub.routes["GET /v3/users/me"] = (200, {"data": USER})
    stub.routes["GET /v3/videos/v"] = (200, {"data": {"id": "v", "status": "completed"}})
    client.me()
    client.list_assets()
    client.get_video("v")
    client.wait_for_video("v")
    client.list_videos()
    client.list_avatars()
    client.list_avatar_looks()
    client.list_voices()
    assert all(g.path.startswith("/v3/") for g in stub.got)


# ---------------------------------------------------------------- the emulator
class TestAgainstEmulator:
    """The v3 families end to end against the emulator, in the spec's shapes
    (``GET /v3/users/me`` answers ``username: "emulator"``; ``GET /v3/assets`` requires it)."""

    def test_me_is_the_v3_user(self) -> None:
        with Emulator() as emu, emu.client() as client:
            user = client.me()
        assert user["username"] == "emulator"
        assert {"email", "first_name", "last_name", "billing_type"} <= set(user)
        blocks = [k for k in ("wallet", "subscription", "usage_based") if user.get(k)]
        assert blocks == [user["billing_type"]]
        assert not SPEC["UserMeGet"].check_response({"data": user})

    def test_assets_list_get_delete(self, media_dir: Path) -> None:
        names = ["tiny.jpg", "tiny.png", "tiny.mp3"]
        with Emulator() as emu, emu.client() as client:
            ids = [client.upload_asset(media_dir / n, via="v3").id for n in names]
            page = client.list_assets(limit=2)
            assert [a["id"] for a in page] == ids[:2] and page.has_more and page.next_token
            assert not SPEC["AssetList"].check_response(
                {"data": page.items, "has_more": page.has_more, "next_token": page.next_token})
            assert [a["id"] for a in client.iter_assets(limit=2)] == ids
            got = client.get_asset(ids[1])
            assert got["id"] == ids[1] and not SPEC["AssetGet"].check_response({"data": got})
            assert client.delete_asset(ids[1]) == {"id": ids[1]}
            with pytest.raises(NotFoundError):
                client.get_asset(ids[1])
            assert [a["id"] for a in client.iter_assets()] == [ids[0], ids[2]]

    def test_asset_list_without_username_is_refused_by_the_emulator(self) -> None:
        with Emulator() as emu, emu.client() as client:
            ex = client.exchange("v3-asset-list")
        assert ex.status == 400 and ex.decoded.error is not None
        assert ex.decoded.error.param == "username"

    def test_create_wait_and_list_a_video(self) -> None:
        with Emulator() as emu, emu.client(sleep=emu.clock.advance) as client:
            look = next(client.iter_avatar_looks())
            voice = next(client.iter_voices())
            video = client.create_video(avatar_id=look["id"], script="Hello there",
                                        voice_id=voice["voice_id"])
            assert video.status in {"pending", "processing"}
            assert client.get_video(video.id).id == video.id
            done = client.wait_for_video(video.id, interval=10)
            assert done.status == "completed" and done.video_url
            assert video.id in [v["id"] for v in client.iter_videos()]

    def test_a_failed_video_carries_its_failure(self) -> None:
        with Emulator() as emu, emu.client(sleep=emu.clock.advance) as client:
            look = next(client.iter_avatar_looks())
            voice = next(client.iter_voices())
            video = client.create_video(avatar_id=look["id"], script="this will [fail]",
                                        voice_id=voice["voice_id"])
            done = client.wait_for_video(video.id, interval=10)
        assert done.failed and done.failure_code and done.failure_message

    def test_catalogue_pages(self) -> None:
        with Emulator() as emu, emu.client() as client:
            avatars = list(client.iter_avatars(limit=1))
            looks = list(client.iter_avatar_looks(limit=1))
            voices = list(client.iter_voices(limit=1))
            first = client.list_voices(limit=1)
        assert avatars and looks and voices
        assert len({v["voice_id"] for v in voices}) == len(voices)
        assert len(first) == 1 and first.has_more == (len(voices) > 1)
        for name, items in (("AvatarList", avatars), ("AvatarLooksList", looks),
                            ("VoiceList", voices)):
            assert not SPEC[name].check_response({"data": items, "has_more": False,
                                                  "next_token": None}), name

    def test_operations_by_name(self) -> None:
        with Emulator() as emu, emu.client() as client:
            user = client.operation("UserMeGet")
            videos = client.operation("VideoList", query={"limit": 5})
        assert user["username"] == "emulator"
        assert isinstance(videos, Page) and videos.items == []
