"""The emulator's routes, envelopes, plans, faults and lifecycle, over real HTTP on loopback."""

from __future__ import annotations

import hashlib
import json
import shutil
import socket
import struct
import subprocess
import threading
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from _support import emulator_threads
from requests_toolbelt import MultipartEncoder

from heygen_lab.emulator import (
    DEMO_KEY,
    PAYLOADS,
    PLANS,
    Emulator,
    Fault,
    ManualClock,
    PlanProfile,
    SystemClock,
    load_plan,
    parse_faults,
    sniff_mime,
)
from heygen_lab.emulator.http import V3_HANDLERS

KEY = {"X-Api-Key": DEMO_KEY}
V3_VIDEO = {"type": "avatar", "avatar_id": "emu_avatar_anna", "script": "Hello there",
            "voice_id": "emu_voice_en_f"}
TIMEOUT = 30


# ---------------------------------------------------------------- small, valid media
def make_png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00\x10\x20\x30")) + chunk(b"IEND", b""))


PNG = make_png()
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + b"\x00" * 32 \
    + b"\xff\xd9"
MP3 = b"ID3\x04\x00\x00\x00\x00\x00\x00" + b"\xff\xfb\x90\x00" + b"\x00" * 64
WAV = b"RIFF\x24\x00\x00\x00WAVEfmt " + b"\x00" * 40
MP4 = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + b"\x00" * 32
WEBM = b"\x1a\x45\xdf\xa3\x9f\x42\x82\x84webm" + b"\x00" * 32  # EBML header, DocType webm
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n" + b"0" * 40


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator(read_timeout=10) as e:
        yield e


def post_v1(emu: Emulator, data: bytes, content_type: str, path: str = "/v1/asset",
            **headers: str) -> requests.Response:
    return requests.post(f"{emu.upload_base}{path}", data=data, timeout=TIMEOUT,
                         headers={**KEY, "Content-Type": content_type, **headers})


def post_v3(emu: Emulator, data: bytes, field: str = "file", part_type: str = "image/png",
            **headers: str) -> requests.Response:
    enc = MultipartEncoder(fields={field: ("upload.bin", data, part_type)})
    return requests.post(f"{emu.api_base}/v3/assets", data=enc, timeout=TIMEOUT,
                         headers={**KEY, "Content-Type": enc.content_type, **headers})


def api(emu: Emulator, method: str, path: str, **kwargs: Any) -> requests.Response:
    kwargs.setdefault("headers", KEY)
    return requests.request(method, f"{emu.api_base}{path}", timeout=TIMEOUT, **kwargs)


def scene(**overrides: Any) -> dict[str, Any]:
    s: dict[str, Any] = {
        "character": {"type": "avatar", "avatar_id": "emu_avatar_anna"},
        "voice": {"type": "text", "voice_id": "emu_voice_en_f", "input_text": "Hello there"}}
    s.update(overrides)
    return s


def v3_error(code: str, message: str | None = None, param: str | None = None
             ) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "param": param, "doc_url": None}}


# ---------------------------------------------------------------- auth and envelopes
@pytest.mark.parametrize("headers", [{}, {"X-Api-Key": "wrong-key"}])
@pytest.mark.parametrize(("host", "method", "path", "expected"), [
    ("upload", "POST", "/v1/asset", {"code": 400112, "message": "Unauthorized"}),
    ("api", "GET", "/v1/video_status.get?video_id=x", {"code": 400112, "message": "Unauthorized"}),
    ("api", "GET", "/v2/voices", {"error": {"code": "internal_error", "message": "Unauthorized"},
                                  "data": None}),
    ("api", "GET", "/v3/assets", v3_error("authentication_failed", "invalid or missing API key")),
])
def test_unauthorized_answers_in_the_routes_envelope(
        emu: Emulator, host: str, method: str, path: str, expected: dict[str, Any],
        headers: dict[str, str]) -> None:
    base = emu.upload_base if host == "upload" else emu.api_base
    r = requests.request(method, base + path, headers=headers, data=PNG, timeout=TIMEOUT)
    assert r.status_code == 401
    assert r.json() == expected
    assert r.headers["X-Request-Id"]


@pytest.mark.parametrize("name", ["x-api-key", "X-API-KEY", "X-Api-Key"])
def test_api_key_header_name_is_case_insensitive(emu: Emulator, name: str) -> None:
    assert api(emu, "GET", "/v2/voices", headers={name: DEMO_KEY}).status_code == 200


def test_bearer_token_is_accepted_on_v3_only(emu: Emulator) -> None:
    bearer = {"Authorization": f"Bearer {DEMO_KEY}"}
    assert api(emu, "GET", "/v3/users/me", headers=bearer).status_code == 200
    assert api(emu, "GET", "/v2/voices", headers=bearer).status_code == 401


def test_configured_keys_replace_the_demo_key() -> None:
    with Emulator(keys=["k-one", "k-two"]) as emu:
        assert api(emu, "GET", "/v2/voices").status_code == 401
        assert api(emu, "GET", "/v2/voices", headers={"X-Api-Key": "k-two"}).status_code == 200
    with pytest.raises(ValueError, match="at least one"):
        Emulator(keys=[])


def test_every_response_has_a_distinct_request_id(emu: Emulator) -> None:
    responses = [api(emu, "GET", "/v2/voices"), api(emu, "GET", "/nope"),
                 api(emu, "PUT", "/_storage/x"), post_v1(emu, PNG, "image/png")]
    ids = [r.headers["X-Request-Id"] for r in responses]
    assert all(ids) and len(set(ids)) == len(ids)


# ---------------------------------------------------------------- legacy upload host
@pytest.mark.parametrize(("data", "mime", "kind"), [
    (PNG, "image/png", "image"), (JPEG, "image/jpeg", "image"), (MP3, "audio/mpeg", "audio"),
    (MP4, "video/mp4", "video"), (WEBM, "video/webm", "video"), (WAV, "audio/wav", "audio")])
def test_v1_raw_upload_succeeds(emu: Emulator, data: bytes, mime: str, kind: str) -> None:
    r = post_v1(emu, data, mime)
    assert r.status_code == 200
    body = r.json()
    assert body["code"] == 100 and body["msg"] is None and body["message"] is None
    d = body["data"]
    assert d["file_type"] == kind and d["folder_id"] == "" and d["meta"] is None
    assert d["created_ts"] == int(emu.clock.now())
    assert ("image_key" in d) == (kind == "image")
    if kind == "image":
        assert d["image_key"] == f"image/{d['id']}/original"
    got = requests.get(d["url"], timeout=TIMEOUT)
    assert got.status_code == 200 and got.content == data
    assert got.headers["Content-Type"] == mime


def test_v1_created_ts_follows_the_clock(emu: Emulator) -> None:
    assert isinstance(emu.clock, ManualClock)
    emu.clock.advance(3600)
    assert post_v1(emu, PNG, "image/png").json()["data"]["created_ts"] == int(emu.clock.now())


MISSING = {"code": 40001, "message": "asset data must be provided"}


@pytest.mark.parametrize("path", ["/v1/asset", "/v1/talking_photo"])
def test_v1_multipart_bodies_get_40001(emu: Emulator, path: str) -> None:
    for fields in ({"file": ("a.jpg", JPEG, "image/jpeg")},
                   {"type": "image", "asset": ("a.jpg", JPEG, "image/jpeg")},
                   {"anything": "at all"}):
        enc = MultipartEncoder(fields=fields)
        r = requests.post(emu.upload_base + path, data=enc, timeout=TIMEOUT,
                          headers={**KEY, "Content-Type": enc.content_type})
        assert (r.status_code, r.json()) == (400, MISSING)
    assert emu.state.assets == {}


@pytest.mark.parametrize("path", ["/v1/asset", "/v1/talking_photo"])
def test_v1_empty_body_gets_40001(emu: Emulator, path: str) -> None:
    r = post_v1(emu, b"", "image/jpeg", path)
    assert (r.status_code, r.json()) == (400, MISSING)
    chunked = requests.post(emu.upload_base + path, data=iter([b""]), timeout=TIMEOUT,
                            headers={**KEY, "Content-Type": "image/jpeg"})
    assert (chunked.status_code, chunked.json()) == (400, MISSING)


def test_v1_unsupported_content_type(emu: Emulator) -> None:
    r = post_v1(emu, PDF, "application/pdf")
    assert r.status_code == 400
    body = r.json()
    assert set(body) == {"code", "message"} and body["code"] == 400175
    assert "application/pdf" in body["message"] and "image/png" in body["message"]
    assert PAYLOADS["v1.unsupported_content_type"].provenance == "simulated"
    assert PAYLOADS["v1.asset_data_missing"].provenance == "reported"


def test_v1_chunked_raw_upload_streams(emu: Emulator) -> None:
    parts = [PNG] + [b"\x00" * 65536] * 8
    r = requests.post(emu.upload_base + "/v1/asset", data=iter(parts), timeout=TIMEOUT,
                      headers={**KEY, "Content-Type": "image/png"})
    assert r.status_code == 200
    asset = emu.state.assets[r.json()["data"]["id"]]
    assert asset.size_bytes == sum(map(len, parts))
    assert list(emu.state.tmp_dir.iterdir()) == []


def test_curl_reproduction(emu: Emulator, tmp_path: Path) -> None:
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed")
    photo = tmp_path / "file.jpg"
    photo.write_bytes(JPEG)

    def curl(*args: str) -> tuple[int, dict[str, Any]]:
        out = subprocess.run(
            ["curl", "-sS", "-X", "POST", f"{emu.upload_base}/v1/asset", "-H",
             f"X-Api-Key: {DEMO_KEY}", "-w", "\n%{http_code}", *args],
            capture_output=True, text=True, check=True, timeout=60).stdout
        body, _, status = out.rpartition("\n")
        return int(status), json.loads(body)

    assert curl("-F", "type=image", "-F", f"asset=@{photo}") == (400, MISSING)
    status, body = curl("-H", "Content-Type: image/jpeg", "--data-binary", f"@{photo}")
    assert status == 200 and body["code"] == 100 and body["data"]["file_type"] == "image"


def test_talking_photo(emu: Emulator) -> None:
    r = post_v1(emu, JPEG, "image/jpeg", "/v1/talking_photo")
    assert r.status_code == 200 and r.json()["code"] == 100
    data = r.json()["data"]
    assert set(data) == {"talking_photo_id", "talking_photo_url"}
    assert requests.get(data["talking_photo_url"], timeout=TIMEOUT).content == JPEG
    listed = api(emu, "GET", "/v2/avatars").json()["data"]["talking_photos"]
    assert data["talking_photo_id"] in {p["talking_photo_id"] for p in listed}
    video = api(emu, "POST", "/v2/video/generate", json={"video_inputs": [scene(character={
        "type": "talking_photo", "talking_photo_id": data["talking_photo_id"]})]})
    assert video.status_code == 200
    bad = post_v1(emu, MP4, "video/mp4", "/v1/talking_photo")
    assert bad.status_code == 400 and bad.json()["code"] == 400175


def test_upload_host_serves_only_the_legacy_upload_routes(emu: Emulator) -> None:
    r = requests.get(emu.upload_base + "/v3/assets", headers=KEY, timeout=TIMEOUT)
    assert (r.status_code, r.json()) == (404, {"code": 404, "message": "Not Found"})
    r = requests.get(emu.upload_base + "/v1/asset", headers=KEY, timeout=TIMEOUT)
    assert (r.status_code, r.json()["code"]) == (405, 405)
    assert "POST" in r.headers["Allow"]


def test_wrong_host_gives_404(emu: Emulator) -> None:
    r = requests.post(emu.api_base + "/v1/asset", data=JPEG, timeout=TIMEOUT,
                      headers={**KEY, "Content-Type": "image/jpeg"})
    assert (r.status_code, r.json()) == (404, {"code": 404, "message": "Not Found"})
    assert PAYLOADS["v1.wrong_host"].provenance == "reported"
    assert emu.state.assets == {}


# ---------------------------------------------------------------- v3 assets
@pytest.mark.parametrize(("data", "mime"), [
    (PNG, "image/png"), (JPEG, "image/jpeg"), (MP4, "video/mp4"), (WEBM, "video/webm"),
    (MP3, "audio/mpeg"), (b"\xff\xf3\x90\x00" + b"\x00" * 16, "audio/mpeg"), (WAV, "audio/wav"),
    (PDF, "application/pdf")])
def test_v3_upload_sniffs_the_bytes_not_the_part_header(
        emu: Emulator, data: bytes, mime: str) -> None:
    r = post_v3(emu, data, part_type="application/octet-stream")
    assert r.status_code == 200
    d = r.json()["data"]
    assert set(d) == {"asset_id", "url", "mime_type", "size_bytes"}
    assert (d["mime_type"], d["size_bytes"]) == (mime, len(data))
    assert requests.get(d["url"], timeout=TIMEOUT).content == data
    assert sniff_mime(data) == mime


@pytest.mark.parametrize("field", ["asset", "files", "File"])
def test_v3_misnamed_part_is_invalid_parameter_file(emu: Emulator, field: str) -> None:
    r = post_v3(emu, PNG, field=field)
    assert r.status_code == 400
    err = r.json()["error"]
    assert (err["code"], err["param"], err["doc_url"]) == ("invalid_parameter", "file", None)


def test_v3_other_bad_uploads(emu: Emulator) -> None:
    text = post_v3(emu, b"just some text, not media")
    assert (text.status_code, text.json()["error"]["param"]) == (400, "file")
    assert "unsupported file type" in text.json()["error"]["message"]
    enc = MultipartEncoder(fields=[("file", ("a.png", PNG, "image/png")),
                                   ("file", ("b.png", PNG, "image/png"))])
    two = api(emu, "POST", "/v3/assets", data=enc,
              headers={**KEY, "Content-Type": enc.content_type})
    assert two.status_code == 400 and "exactly one" in two.json()["error"]["message"]
    no_filename = MultipartEncoder(fields={"file": "plain text field"})
    r = api(emu, "POST", "/v3/assets", data=no_filename,
            headers={**KEY, "Content-Type": no_filename.content_type})
    assert r.status_code == 400 and "no filename" in r.json()["error"]["message"]
    raw = api(emu, "POST", "/v3/assets", data=PNG, headers={**KEY, "Content-Type": "image/png"})
    assert (raw.status_code, raw.json()["error"]["param"]) == (400, "file")
    assert emu.state.assets == {} and list(emu.state.tmp_dir.iterdir()) == []


def test_v3_over_32_mib_streaming_is_413(emu: Emulator) -> None:
    enc = MultipartEncoder(fields={"file": ("big.png", PNG + b"\x00" * (32 * 1024 * 1024),
                                            "image/png")})
    body = enc.to_string()

    def chunks() -> Iterator[bytes]:  # chunked: no Content-Length, so it is counted on the way
        for i in range(0, len(body), 1 << 20):
            yield body[i:i + (1 << 20)]

    r = api(emu, "POST", "/v3/assets", data=chunks(),
            headers={**KEY, "Content-Type": enc.content_type})
    assert r.status_code == 413
    assert r.json() == v3_error(
        "payload_too_large", "file exceeds 33554432 bytes; use direct uploads for larger files")
    assert emu.state.assets == {} and list(emu.state.tmp_dir.iterdir()) == []


def test_v3_exactly_32_mib_is_accepted(emu: Emulator) -> None:
    data = PNG + b"\x00" * (32 * 1024 * 1024 - len(PNG))
    r = post_v3(emu, data)
    assert r.status_code == 200 and r.json()["data"]["size_bytes"] == 32 * 1024 * 1024


def test_v3_list_get_delete(emu: Emulator) -> None:
    ids = [post_v3(emu, PNG).json()["data"]["asset_id"] for _ in range(5)]
    seen: list[str] = []
    token: str | None = None
    pages = 0
    while True:
        r = api(emu, "GET", "/v3/assets", params={"username": "emulator", "limit": 2,
                                                  **({"token": token} if token else {})})
        body = r.json()
        assert set(body) == {"data", "has_more", "next_token"}
        seen += [a["id"] for a in body["data"]]
        pages += 1
        if not body["has_more"]:
            assert body["next_token"] is None
            break
        token = body["next_token"]
    assert (seen, pages) == (ids, 3)
    one = api(emu, "GET", f"/v3/assets/{ids[0]}").json()["data"]
    assert one == {"id": ids[0], "name": "upload.bin", "type": "image", "owner": "emulator",
                   "space_id": "emu_space", "uploaded_at": one["uploaded_at"],
                   "folder_id": None, "url": f"{emu.api_base}/_files/{ids[0]}"}
    gone = api(emu, "DELETE", f"/v3/assets/{ids[0]}")
    assert gone.json() == {"data": {"id": ids[0]}}
    missing = api(emu, "GET", f"/v3/assets/{ids[0]}")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    assert api(emu, "DELETE", f"/v3/assets/{ids[0]}").status_code == 404
    file_gone = requests.get(f"{emu.api_base}/_files/{ids[0]}", timeout=TIMEOUT)
    assert file_gone.status_code == 404 and b"<Code>NoSuchKey</Code>" in file_gone.content
    for params, param in (({"limit": 0}, "limit"), ({"limit": 101}, "limit"),
                          ({"limit": "x"}, "limit"), ({"token": "!!"}, "token"), ({}, "username")):
        bad = api(emu, "GET", "/v3/assets", params={"username": "emulator", **params}
                  if param != "username" else params)
        assert bad.status_code == 400 and bad.json()["error"]["param"] == param
    other = api(emu, "GET", "/v3/assets", params={"username": "someone-else"}).json()
    assert other == {"data": [], "has_more": False, "next_token": None}


def test_v1_list_includes_every_ready_asset(emu: Emulator) -> None:
    a = post_v1(emu, JPEG, "image/jpeg").json()["data"]["id"]
    b = post_v3(emu, MP3).json()["data"]["asset_id"]
    r = api(emu, "GET", "/v1/asset/list")
    assert r.json()["code"] == 100
    assets = r.json()["data"]["assets"]
    assert [x["id"] for x in assets] == [a, b]
    assert [x["file_type"] for x in assets] == ["image", "audio"]


# ---------------------------------------------------------------- direct uploads
def init_direct(emu: Emulator, data: bytes, content_type: str = "image/png",
                **extra: Any) -> dict[str, Any]:
    r = api(emu, "POST", "/v3/assets/direct-uploads", json={
        "filename": "clip.bin", "content_type": content_type, "size_bytes": len(data), **extra})
    assert r.status_code == 200, r.text
    return dict(r.json()["data"])


def complete(emu: Emulator, asset_id: str, **body: Any) -> requests.Response:
    return api(emu, "POST", f"/v3/assets/{asset_id}/complete", json=body)


def test_direct_upload_flow(emu: Emulator) -> None:
    d = init_direct(emu, MP4, "video/mp4", checksum_sha256=hashlib.sha256(MP4).hexdigest())
    assert d["status"] == "pending_upload" and d["expires_in_seconds"] == 900
    assert d["upload_headers"] == {"Content-Type": "video/mp4"}
    assert d["max_bytes"] >= 5 * 1024**3 and d["upload_url"].startswith(emu.api_base)
    early = complete(emu, d["asset_id"])
    assert (early.status_code, early.json()) == (409, v3_error(
        "conflict", "uploaded object not found yet"))
    put = requests.put(d["upload_url"], data=MP4, headers=d["upload_headers"], timeout=TIMEOUT)
    assert put.status_code == 200 and put.headers["ETag"]
    done = complete(emu, d["asset_id"])
    assert done.status_code == 200
    expected = {"asset_id": d["asset_id"], "mime_type": "video/mp4", "size_bytes": len(MP4),
                "status": "ready", "url": done.json()["data"]["url"]}
    assert done.json() == {"data": expected}
    assert complete(emu, d["asset_id"]).json() == done.json()  # idempotent
    assert requests.get(expected["url"], timeout=TIMEOUT).content == MP4
    listed = api(emu, "GET", f"/v3/assets/{d['asset_id']}").json()["data"]
    assert listed["name"] == "clip.bin" and listed["url"] == expected["url"]


def storage_code(r: requests.Response) -> str:
    assert r.headers["Content-Type"] == "application/xml"
    assert not r.text.startswith("{")
    return r.text.split("<Code>")[1].split("</Code>")[0]


def test_direct_upload_put_rejections(emu: Emulator) -> None:
    d = init_direct(emu, PNG)
    url, headers = d["upload_url"], d["upload_headers"]

    def put(target: str = url, data: Any = PNG, **extra: str) -> requests.Response:
        return requests.put(target, data=data, headers={**headers, **extra}, timeout=TIMEOUT)

    for r, code in [
        (put(**KEY), "AccessDenied"),
        (put(Authorization=f"Bearer {DEMO_KEY}"), "AccessDenied"),
        (put(**{"Content-Type": "image/jpeg"}), "SignatureDoesNotMatch"),
        (put(url.replace(f"size={len(PNG)}", f"size={len(PNG) + 1}"), PNG + b"!"),
         "SignatureDoesNotMatch"),
        (put(url.split("&sig=")[0]), "SignatureDoesNotMatch"),
        (put(data=PNG + b"extra"), "AccessDenied"),
        (put(data=PNG[:-1]), "AccessDenied"),
        (put(data=iter([PNG])), "MissingContentLength"),
    ]:
        assert r.status_code in (403, 411) and storage_code(r) == code, r.text
    assert complete(emu, d["asset_id"]).status_code == 409  # nothing was stored
    assert isinstance(emu.clock, ManualClock)
    emu.clock.advance(901)
    expired = put()
    assert expired.status_code == 403 and "expired" in expired.text


def test_direct_upload_checksum_and_type_checks(emu: Emulator) -> None:
    d = init_direct(emu, PNG, checksum_sha256="0" * 64)
    requests.put(d["upload_url"], data=PNG, headers=d["upload_headers"], timeout=TIMEOUT)
    bad = complete(emu, d["asset_id"])
    assert (bad.status_code, bad.json()["error"]["param"]) == (400, "checksum_sha256")
    ok = complete(emu, d["asset_id"], checksum_sha256=hashlib.sha256(PNG).hexdigest())
    assert ok.status_code == 200 and ok.json()["data"]["status"] == "ready"
    lie = init_direct(emu, JPEG, "image/png")
    requests.put(lie["upload_url"], data=JPEG, headers=lie["upload_headers"], timeout=TIMEOUT)
    r = complete(emu, lie["asset_id"])
    assert (r.status_code, r.json()["error"]["param"]) == (400, "content_type")
    assert "image/jpeg" in r.json()["error"]["message"]


def test_direct_upload_init_validation(emu: Emulator) -> None:
    cases = [({"filename": "a", "content_type": "text/plain", "size_bytes": 1}, "content_type"),
             ({"filename": "a", "content_type": "image/png", "size_bytes": 6 * 1024**3},
              "size_bytes"),
             ({"filename": "a", "content_type": "image/png", "size_bytes": True}, "size_bytes"),
             ({"content_type": "image/png", "size_bytes": 1}, "filename"),
             ({"filename": "a", "content_type": "image/png", "size_bytes": 1,
               "checksum_sha256": "xyz"}, "checksum_sha256")]
    for body, param in cases:
        r = api(emu, "POST", "/v3/assets/direct-uploads", json=body)
        assert (r.status_code, r.json()["error"]["param"]) == (400, param)
    for raw in (b"not json", b"[1, 2]", b""):
        r = api(emu, "POST", "/v3/assets/direct-uploads", data=raw,
                headers={**KEY, "Content-Type": "application/json"})
        assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_parameter"
    assert complete(emu, "no-such-asset").status_code == 404


def test_complete_race_answers_409_once_after_the_put() -> None:
    with Emulator(complete_race=True) as emu:
        d = init_direct(emu, PNG)
        requests.put(d["upload_url"], data=PNG, headers=d["upload_headers"], timeout=TIMEOUT)
        first = complete(emu, d["asset_id"])
        assert (first.status_code, first.json()["error"]["code"]) == (409, "conflict")
        assert complete(emu, d["asset_id"]).status_code == 200


# ---------------------------------------------------------------- idempotency
def test_idempotency_replays_the_first_response(emu: Emulator) -> None:
    first = post_v3(emu, PNG, **{"Idempotency-Key": "key-1"})
    again = post_v3(emu, JPEG, **{"Idempotency-Key": "key-1"})
    assert (again.status_code, again.content) == (first.status_code, first.content)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert len(emu.state.assets) == 1
    other = post_v3(emu, JPEG, **{"Idempotency-Key": "key-2"})
    assert other.json()["data"]["asset_id"] != first.json()["data"]["asset_id"]
    # scoped per endpoint: the same key on another route is a new request
    video = api(emu, "POST", "/v3/videos", json=V3_VIDEO,
                headers={**KEY, "Idempotency-Key": "key-1"})
    assert video.status_code == 200 and "video_id" in video.json()["data"]
    # a 4xx is a response too: replayed
    bad = post_v3(emu, PNG, field="asset", **{"Idempotency-Key": "key-3"})
    assert post_v3(emu, PNG, **{"Idempotency-Key": "key-3"}).content == bad.content


def test_idempotency_window_is_24h_of_clock_time(emu: Emulator) -> None:
    first = post_v3(emu, PNG, **{"Idempotency-Key": "k"})
    assert isinstance(emu.clock, ManualClock)
    emu.clock.advance(24 * 3600)
    later = post_v3(emu, PNG, **{"Idempotency-Key": "k"})
    assert later.json()["data"]["asset_id"] != first.json()["data"]["asset_id"]


@pytest.mark.parametrize("bad", ["has space", "x" * 256, "é", "semi;colon"])
def test_idempotency_key_syntax(emu: Emulator, bad: str) -> None:
    r = post_v3(emu, PNG, **{"Idempotency-Key": bad.encode().decode("latin-1")})
    assert r.status_code == 400
    assert r.json()["error"]["param"] == "Idempotency-Key"


def test_idempotency_in_progress_gives_409(emu: Emulator) -> None:
    enc = MultipartEncoder(fields={"file": ("a.png", PNG, "image/png")})
    body, release = enc.to_string(), threading.Event()

    def slow() -> Iterator[bytes]:
        yield body[:10]
        release.wait(30)
        yield body[10:]

    headers = {**KEY, "Content-Type": enc.content_type, "Idempotency-Key": "slow-1"}
    result: list[requests.Response] = []
    worker = threading.Thread(target=lambda: result.append(api(
        emu, "POST", "/v3/assets", data=slow(), headers=headers)))
    worker.start()
    try:
        for _ in range(3000):
            if emu.state.in_flight_idempotency_keys() == 1:
                break
            time.sleep(0.01)
        busy = api(emu, "POST", "/v3/assets", data=body, headers=headers)
        assert (busy.status_code, busy.json()) == (409, v3_error(
            "request_in_progress", "a request with this Idempotency-Key is still in progress"))
    finally:
        release.set()
        worker.join(60)
    assert result[0].status_code == 200
    replay = api(emu, "POST", "/v3/assets", data=body, headers=headers)
    assert replay.content == result[0].content
    assert len(emu.state.assets) == 1


# ---------------------------------------------------------------- videos
def test_video_lifecycle_follows_the_clock(emu: Emulator) -> None:
    r = api(emu, "POST", "/v2/video/generate", json={"video_inputs": [scene(), scene(
        background={"type": "color", "value": "#112233"})], "dimension": {"width": 1280,
                                                                            "height": 720}})
    assert r.status_code == 200 and r.json()["error"] is None
    vid = r.json()["data"]["video_id"]
    assert isinstance(emu.clock, ManualClock)

    def status() -> dict[str, Any]:
        s = api(emu, "GET", "/v1/video_status.get", params={"video_id": vid})
        assert s.status_code == 200 and s.json()["code"] == 100
        return dict(s.json()["data"])

    assert status()["status"] == "pending"
    emu.clock.advance(5)
    assert status()["status"] == "processing" and status()["video_url"] is None
    emu.clock.advance(25)
    done = status()
    assert done["status"] == "completed" and done["error"] is None and done["duration"] > 0
    assert requests.get(done["video_url"], timeout=TIMEOUT).content[4:8] == b"ftyp"
    thumb = requests.get(done["thumbnail_url"], timeout=TIMEOUT)
    assert thumb.content.startswith(b"\x89PNG")
    v3 = api(emu, "GET", f"/v3/videos/{vid}").json()["data"]
    assert v3["status"] == "completed" and v3["id"] == vid


def test_failed_video_carries_the_error_payload(emu: Emulator) -> None:
    r = api(emu, "POST", "/v2/video/generate", json={"video_inputs": [scene(voice={
        "type": "text", "voice_id": "emu_voice_en_m", "input_text": "this one will [fail]"})]})
    vid = r.json()["data"]["video_id"]
    assert isinstance(emu.clock, ManualClock)
    emu.clock.advance(30)
    data = api(emu, "GET", "/v1/video_status.get", params={"video_id": vid}).json()["data"]
    assert data["status"] == "failed" and data["video_url"] is None
    assert data["error"]["code"] == 40119
    assert set(data["error"]) == {"code", "detail", "message"}
    v3 = api(emu, "GET", f"/v3/videos/{vid}").json()["data"]
    assert v3["status"] == "failed" and v3["failure_code"] == "video_render_failed"
    assert v3["failure_message"] and "error" not in v3


def test_unknown_video_ids(emu: Emulator) -> None:
    r = api(emu, "GET", "/v1/video_status.get", params={"video_id": "nope"})
    assert (r.status_code, r.json()) == (404, {"code": 40104, "message": "video nope not found"})
    r = api(emu, "GET", "/v1/video_status.get")
    assert (r.status_code, r.json()["code"]) == (400, 400175)
    r = api(emu, "GET", "/v3/videos/nope")
    assert (r.status_code, r.json()["error"]["code"]) == (404, "video_not_found")


def test_v2_generate_validation(emu: Emulator) -> None:
    audio = post_v1(emu, MP3, "audio/mpeg").json()["data"]["id"]
    image = post_v1(emu, PNG, "image/png").json()["data"]["id"]

    def gen(*scenes: Any, **body: Any) -> requests.Response:
        return api(emu, "POST", "/v2/video/generate", json={"video_inputs": list(scenes),
                                                            **body})

    unknown = gen(scene(character={"type": "avatar", "avatar_id": "ghost"}))
    assert (unknown.status_code, unknown.json()) == (404, {"data": None, "error": {
        "code": "avatar_not_found", "message": "avatar 'ghost' not found"}})
    both = gen(scene(voice={"type": "audio", "audio_url": "https://x/a.mp3",
                            "audio_asset_id": audio}))
    neither = gen(scene(voice={"type": "audio"}))
    for r in (both, neither):
        assert r.status_code == 400 and r.json()["data"] is None
        assert r.json()["error"]["code"] == "invalid_parameter"
        assert "exactly one of audio_url / audio_asset_id" in r.json()["error"]["message"]
    missing = gen(scene(voice={"type": "audio", "audio_asset_id": "no-such-asset"}))
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "not_found")
    wrong_kind = gen(scene(voice={"type": "audio", "audio_asset_id": image}))
    assert wrong_kind.status_code == 400
    voice = gen(scene(voice={"type": "text", "voice_id": "nobody", "input_text": "hi"}))
    assert (voice.status_code, voice.json()["error"]["code"]) == (404, "voice_not_found")
    photo = gen(scene(character={"type": "talking_photo", "talking_photo_id": "missing"}))
    assert (photo.status_code, photo.json()["error"]["code"]) == (404, "avatar_not_found")
    bodies: list[dict[str, Any]] = [{"video_inputs": []}, {"video_inputs": "x"}, {}]
    for body in bodies:
        r = api(emu, "POST", "/v2/video/generate", json=body)
        assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_parameter"
    for bad_scene in (scene(character={"type": "robot"}), scene(voice=None), "scene",
                      scene(background={"type": "image"}),
                      scene(background={"type": "color", "value": "red"}),
                      scene(background={"type": "video", "video_asset_id": image})):
        assert gen(bad_scene).status_code == 400
    assert gen(scene(), dimension={"width": 0, "height": 10}).status_code == 400
    non_json = api(emu, "POST", "/v2/video/generate", data=b"{oops",
                   headers={**KEY, "Content-Type": "application/json"})
    assert non_json.status_code == 400 and non_json.json()["data"] is None
    ok = gen(scene(voice={"type": "audio", "audio_asset_id": audio},
                   background={"type": "image", "image_asset_id": image}),
             scene(character={"type": "talking_photo",
                              "talking_photo_id": "emu_talking_photo_demo"},
                   voice={"type": "audio", "audio_url": "https://example.invalid/a.mp3"}))
    assert ok.status_code == 200 and ok.json()["data"]["video_id"]
    assert len(emu.state.videos) == 1


def test_v3_videos(emu: Emulator) -> None:
    r = api(emu, "POST", "/v3/videos", json={**V3_VIDEO, "title": "hi"})
    assert r.status_code == 200
    data = r.json()["data"]
    assert data == {"video_id": data["video_id"], "status": "pending", "output_format": "mp4"}
    got = api(emu, "GET", f"/v3/videos/{data['video_id']}").json()["data"]
    assert got["status"] == "pending" and got["title"] == "hi" and got["id"] == data["video_id"]
    assert got["failure_code"] is None and got["video_url"] is None
    listed = api(emu, "GET", "/v3/videos", params={"title": "HI"}).json()
    assert [v["id"] for v in listed["data"]] == [data["video_id"]]
    statuses = api(emu, "GET", "/v3/videos/statuses",
                   params={"video_ids": f"{data['video_id']},ghost"}).json()["data"]
    assert [s["status"] for s in statuses] == ["pending", "not_found"]
    gone = api(emu, "DELETE", f"/v3/videos/{data['video_id']}").json()
    assert gone == {"data": {"id": data["video_id"], "deleted": True}}
    assert api(emu, "GET", f"/v3/videos/{data['video_id']}").status_code == 404


@pytest.mark.parametrize(("body", "status", "code", "param"), [
    ({**V3_VIDEO, "avatar_id": "ghost"}, 404, "avatar_not_found", "avatar_id"),
    ({**V3_VIDEO, "voice_id": "ghost"}, 404, "voice_not_found", "voice_id"),
    ({"type": "avatar", "script": "hi"}, 400, "invalid_parameter", "avatar_id"),
    ({**V3_VIDEO, "voice_id": None}, 400, "invalid_parameter", "voice_id"),
    ({**V3_VIDEO, "audio_url": "https://example.invalid/a.mp3"}, 400, "invalid_parameter",
     "script"),
    ({"type": "image", "script": "hi", "voice_id": "emu_voice_en_f"}, 400, "invalid_parameter",
     "image"),
    ({"type": "image", "image": {"type": "asset_id", "asset_id": "ghost"}, "script": "hi",
      "voice_id": "emu_voice_en_f"}, 404, "not_found", "asset_id"),
    ({"type": "cinematic_avatar", "avatar_id": ["emu_avatar_anna"]}, 400, "invalid_parameter",
     "prompt"),
    ({"type": "cinematic_avatar", "avatar_id": ["emu_avatar_anna", "ghost"], "prompt": "p"},
     404, "avatar_not_found", "avatar_id[1]"),
    ({"type": "studio"}, 400, "invalid_parameter", "scenes"),
    ({"type": "slideshow"}, 400, "invalid_parameter", "type"),
    ({**V3_VIDEO, "aspect_ratio": "2:1"}, 400, "invalid_parameter", "aspect_ratio"),
])
def test_v3_video_create_refusals(emu: Emulator, body: dict[str, Any], status: int, code: str,
                                  param: str) -> None:
    r = api(emu, "POST", "/v3/videos", json=body)
    assert (r.status_code, r.json()["error"]["code"], r.json()["error"]["param"]) == (
        status, code, param)
    assert emu.state.videos == {}


def test_v3_video_variants_are_accepted(emu: Emulator) -> None:
    image = post_v3(emu, PNG).json()["data"]["asset_id"]
    bodies = [
        V3_VIDEO,
        {"type": "avatar", "avatar_id": "emu_avatar_ben", "audio_url": "https://x.invalid/a.mp3"},
        {"type": "image", "image": {"type": "asset_id", "asset_id": image}, "script": "Hi",
         "voice_id": "emu_voice_de_f", "output_format": "webm"},
        {"type": "cinematic_avatar", "avatar_id": ["emu_avatar_chen"], "prompt": "a walk"},
        {"type": "studio", "scenes": [
            {"type": "avatar_video", "input": {"type": "avatar", "avatar_id": "emu_avatar_anna",
                                               "script": "one", "voice_id": "emu_voice_en_f"}},
            {"type": "image", "source": {"type": "url", "url": "https://x.invalid/a.png"},
             "duration": 3}]},
    ]
    for body in bodies:
        r = api(emu, "POST", "/v3/videos", json=body)
        assert r.status_code == 200, (body, r.text)
    assert len(emu.state.videos) == len(bodies)


# ---------------------------------------------------------------- catalogue and account
def test_catalogue(emu: Emulator) -> None:
    avatars = api(emu, "GET", "/v2/avatars").json()
    assert avatars["error"] is None
    assert avatars["data"]["avatars"] and avatars["data"]["talking_photos"]
    assert all("avatar_id" in a for a in avatars["data"]["avatars"])
    voices = api(emu, "GET", "/v2/voices").json()["data"]["voices"]
    assert voices and all({"voice_id", "language", "gender"} <= set(v) for v in voices)


@pytest.mark.parametrize(("plan", "block"), [("pro", "subscription"), ("payg", "wallet"),
                                             ("trial", "subscription")])
def test_users_me_has_exactly_one_billing_block(plan: str, block: str) -> None:
    with Emulator(plan=plan) as emu:
        data = api(emu, "GET", "/v3/users/me").json()["data"]
        blocks = {"subscription", "wallet", "usage_based"} & set(data)
        assert blocks == {block} and data["billing_type"] == block
        assert {"username", "email", "first_name", "last_name"} <= set(data)
        if block == "subscription":
            assert data[block]["plan"] == {"trial": "free"}.get(plan, plan)
        quota = api(emu, "GET", "/v2/user/remaining_quota").json()
        assert quota["error"] is None and isinstance(quota["data"]["remaining_quota"], int)


# ---------------------------------------------------------------- plans
def generate(emu: Emulator, path: str = "/v2/video/generate") -> requests.Response:
    return api(emu, "POST", path, json=V3_VIDEO if path == "/v3/videos"
               else {"video_inputs": [scene()]})


def test_trial_daily_video_cap() -> None:
    with Emulator(plan="trial") as emu:
        quota = [api(emu, "GET", "/v2/user/remaining_quota").json()["data"]["remaining_quota"]]
        for _ in range(5):
            assert generate(emu).status_code == 200
        quota.append(api(emu, "GET", "/v2/user/remaining_quota").json()["data"]
                     ["remaining_quota"])
        capped = generate(emu)
        assert capped.status_code == 429 and capped.json() == {"data": None, "error": {
            "code": "trial_video_limit_exceeded",
            "message": "Exceeded the usage limit: daily api trial limit 5."}}
        assert capped.json()["error"]["message"].endswith("daily api trial limit 5.")
        v3 = generate(emu, "/v3/videos")
        assert (v3.status_code, v3.json()["error"]["code"]) == (429, "trial_video_limit_exceeded")
        assert quota == [5, 0]
        assert isinstance(emu.clock, ManualClock)
        emu.clock.advance(86400)
        assert generate(emu).status_code == 200


def test_trial_tier_gated_features() -> None:
    with Emulator(plan="trial") as emu:
        r = post_v1(emu, JPEG, "image/jpeg", "/v1/talking_photo")
        assert r.status_code == 403 and r.json()["code"] == 400599
        d = api(emu, "POST", "/v3/assets/direct-uploads", json={
            "filename": "a.png", "content_type": "image/png", "size_bytes": 10})
        assert (d.status_code, d.json()["error"]["code"]) == (403, "forbidden")
        assert post_v1(emu, JPEG, "image/jpeg").status_code == 200  # plain upload still works


def test_payg_wallet_runs_out() -> None:
    with Emulator(plan="payg") as emu:
        for _ in range(9):
            assert generate(emu).status_code == 200
        assert generate(emu, "/v3/videos").status_code == 200
        me = api(emu, "GET", "/v3/users/me").json()["data"]
        assert me["wallet"]["remaining_balance"] == 0
        empty = generate(emu, "/v3/videos")
        assert empty.status_code == 402
        assert empty.json() == v3_error("insufficient_credit",
                                        "insufficient credit: 0 left, 1 needed")
        v2 = generate(emu)
        assert (v2.status_code, v2.json()["error"]["code"]) == (402, "insufficient_credit")
        assert v2.json()["data"] is None
        assert api(emu, "GET", "/v2/user/remaining_quota").json()["data"]["remaining_quota"] == 0


def test_unknown_plan_names_the_valid_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown plan 'gold'.*payg, pro, trial"):
        Emulator(plan="gold")


def test_plan_profiles_say_what_is_documented() -> None:
    for profile in PLANS.values():
        assert profile.provenance
        assert all(v.split(" ")[0] in ("documented", "reported", "simulated")
                   or "documented" in v for v in profile.provenance.values())


def test_load_plan_from_yaml_and_json(tmp_path: Path) -> None:
    yml = tmp_path / "mine.yaml"
    yml.write_text("name: mine\ncredits: 2\nvideo_cost: 2\nbilling: usage_based\n"
                   "gated_features: [direct_upload]\nprovenance: {credits: simulated}\n")
    plan = load_plan(yml)
    assert plan == PlanProfile(name="mine", credits=2, video_cost=2, billing="usage_based",
                               gated_features=frozenset({"direct_upload"}),
                               provenance={"credits": "simulated"})
    with Emulator(plan=plan) as emu:
        assert generate(emu).status_code == 200
        assert generate(emu).status_code == 402
        usage = api(emu, "GET", "/v3/users/me").json()["data"]["usage_based"]
        assert (usage["remaining_credits"], usage["spending_current_usd"]) == (0, 2.0)
    js = tmp_path / "p.json"
    js.write_text(json.dumps({"name": "j", "daily_video_cap": 1}))
    assert load_plan(js).daily_video_cap == 1
    for text, match in [("name: x\ncolour: red\n", "unknown key"), ("- a\n", "mapping"),
                        ("name: x\ncredits: lots\n", "credits must be an integer"),
                        ("name: x\ngated_features: [teleport]\n", "unknown gated feature"),
                        ("credits: 1\n", "name")]:
        yml.write_text(text)
        with pytest.raises(ValueError, match=match):
            load_plan(yml)


# ---------------------------------------------------------------- faults
def test_parse_faults() -> None:
    faults = parse_faults("rate_limit:route=/v3/assets,retry_after=2,times=1;"
                          "error:status=503,rate=0.5; drop ;latency:seconds=0.25")
    assert faults == (Fault("rate_limit", route="/v3/assets", retry_after=2, times=1),
                      Fault("error", status=503, rate=0.5), Fault("drop"),
                      Fault("latency", seconds=0.25))
    assert parse_faults("") == ()


@pytest.mark.parametrize(("spec", "token"), [
    ("explode", "explode"), ("error:status=200", "error:status=200"),
    ("error:rate=2", "error:rate=2"), ("error:colour=red", "colour=red"),
    ("error:rate=often", "rate=often"), ("latency:seconds", "seconds"),
    ("drop:route=v3", "drop:route=v3"), ("rate_limit:times=0", "rate_limit:times=0")])
def test_parse_faults_errors_name_the_token_and_syntax(spec: str, token: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_faults(spec)
    assert token in str(info.value) and "KIND[:key=value" in str(info.value)


def test_rate_limit_fault_with_retry_after() -> None:
    with Emulator(faults="rate_limit:route=/v3/assets,retry_after=2,times=1") as emu:
        limited = post_v3(emu, PNG)
        assert limited.status_code == 429 and limited.headers["Retry-After"] == "2"
        assert limited.json() == v3_error("rate_limit_exceeded", "Too Many Requests")
        assert post_v3(emu, PNG).status_code == 200
        assert api(emu, "GET", "/v2/voices").status_code == 200


def test_error_fault_is_deterministic_per_seed() -> None:
    def run(seed: int) -> list[int]:
        with Emulator(faults=[Fault("error", status=503, rate=0.5)], seed=seed) as emu:
            return [api(emu, "GET", "/v2/voices").status_code for _ in range(24)]

    first = run(7)
    assert first == run(7)
    assert set(first) == {200, 503}
    assert first != run(8)
    with Emulator(faults="error:status=503", seed=1) as emu:
        r = post_v1(emu, PNG, "image/png")
        assert (r.status_code, r.json()) == (503, {"code": 500,
                                                   "message": "Internal Server Error"})
        v2 = api(emu, "GET", "/v2/voices")
        assert v2.json()["error"]["code"] == "internal_error"
        # global faults leave the emulator's own storage and file paths alone
        assert api(emu, "GET", "/_files/preview.png").status_code == 200


def test_drop_fault_closes_the_connection() -> None:
    with Emulator(faults="drop:route=/v2,times=1") as emu:
        with pytest.raises(requests.ConnectionError):
            api(emu, "GET", "/v2/voices")
        assert api(emu, "GET", "/v2/voices").status_code == 200
        emu.check()


def test_latency_fault_delays_and_then_answers() -> None:
    with Emulator(faults="latency:seconds=0.05,route=/v2/voices") as emu:
        start = time.monotonic()
        assert api(emu, "GET", "/v2/voices").status_code == 200
        assert time.monotonic() - start >= 0.05  # a lower bound only: sleep never ends early


def test_stopping_ends_injected_latency_instead_of_waiting_it_out() -> None:
    emu = Emulator(faults="latency:seconds=600,route=/v2/voices").start()
    try:
        with pytest.raises(requests.Timeout):  # the request now sleeps in the emulator
            requests.get(f"{emu.api_base}/v2/voices", headers=KEY, timeout=0.2)
    finally:
        emu.stop()
    assert emu.service.wait_idle(timeout=0), "no request is still sleeping after stop()"


def test_a_request_reaching_a_stopping_emulator_is_refused_not_handled() -> None:
    """stop() waits for the requests being handled, then removes the storage. A request whose
    connection was accepted before, but which reaches the application only once stop() began
    (a busy machine), is answered 503 without running a handler: no handler error about the
    storage that is gone, and nothing stored. (Here the stop is begun by hand, as stop() begins
    it, so the request lands in that window every time.)"""
    emu = Emulator().start()
    try:
        emu.service.stopping.set()
        shutil.rmtree(emu.storage_dir / "tmp")  # as stop() removes it, once idle
        r = post_v1(emu, JPEG, "image/jpeg")
        assert r.status_code == 503, r.text
        assert emu.assets() == []
    finally:
        emu.stop()
    emu.check()  # no handler ran, so none failed


# ---------------------------------------------------------------- payload table and overrides
def test_payload_overrides_change_the_emitted_payload() -> None:
    with Emulator(payload_overrides={"v1.asset_data_missing": {"message": "drifted"},
                                     "v3.unauthorized": {"status": 403, "code": "nope"}}) as emu:
        r = post_v1(emu, b"", "image/png")
        assert r.json() == {"code": 40001, "message": "drifted"}
        un = api(emu, "GET", "/v3/assets", headers={})
        assert un.status_code == 403 and un.json()["error"]["code"] == "nope"
    with pytest.raises(ValueError, match=r"unknown payload 'v9\.nothing'"):
        Emulator(payload_overrides={"v9.nothing": {}})


def test_payload_table_is_complete_and_sourced() -> None:
    for pid, p in PAYLOADS.items():
        assert pid.split(".")[0] in ("v1", "v2", "v3", "storage")
        assert p.provenance in ("documented", "reported", "simulated")
        assert 200 <= p.status <= 599
        assert isinstance(p.code, int) == (p.style == "v1" or pid == "v1.video_render_failed")
    assert PAYLOADS["v1.asset_data_missing"].message == "asset data must be provided"
    assert PAYLOADS["v1.asset_data_missing"].code == 40001


# ---------------------------------------------------------------- lifecycle and errors
def test_handler_exception_surfaces_in_check(emu: Emulator, monkeypatch: pytest.MonkeyPatch
                                             ) -> None:
    def boom(request: Any) -> Any:
        raise RuntimeError("handler exploded")

    monkeypatch.setitem(V3_HANDLERS, "VideoList", boom)
    r = api(emu, "GET", "/v3/videos")
    assert r.status_code == 500
    assert r.json() == v3_error("internal_error", "Internal Server Error")
    assert api(emu, "GET", "/v3/users/me").status_code == 200
    with pytest.raises(RuntimeError, match="handler exploded"):
        emu.check()
    emu.check()  # cleared


def test_handler_exception_is_reraised_on_exit(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(RuntimeError, match="kaput"), Emulator() as emu:
        def boom(request: Any) -> Any:
            raise RuntimeError("kaput")
        monkeypatch.setitem(V3_HANDLERS, "UserMeGet", boom)
        assert api(emu, "GET", "/v3/users/me").status_code == 500


def test_start_stop_and_ports(tmp_path: Path) -> None:
    emu = Emulator(storage_dir=tmp_path / "store").start()
    try:
        assert emu.api_base != emu.upload_base
        assert emu.api_base.startswith("http://127.0.0.1:")
        post_v1(emu, PNG, "image/png")
        assert any((tmp_path / "store" / "objects").iterdir())
    finally:
        emu.stop()
    emu.stop()  # idempotent
    with pytest.raises(requests.ConnectionError):
        requests.get(emu.api_base + "/v2/voices", timeout=5)
    with pytest.raises(RuntimeError):
        emu.start()
    assert (tmp_path / "store").exists()  # a storage_dir you pass is yours: kept


def test_one_thread_serves_both_hosts_and_a_stalled_request_holds_up_neither() -> None:
    before = emulator_threads()
    with Emulator() as emu:
        serving = emulator_threads() - before
        assert len(serving) == 1
        stalled = []
        for base in (emu.upload_base, emu.api_base):  # half a request line on each host
            host, port = base.rsplit("/", 1)[1].rsplit(":", 1)
            stalled.append(socket.create_connection((host, int(port)), timeout=5))
            stalled[-1].sendall(b"GET /v3/users/me HT")
        try:
            assert api(emu, "GET", "/v3/users/me").status_code == 200
            assert post_v1(emu, PNG, "image/png").status_code == 200
        finally:
            for sock in stalled:
                sock.close()
    assert not any(t.is_alive() for t in serving), "stop() ends the serving thread"


def test_owned_storage_is_removed_on_stop() -> None:
    with Emulator() as emu:
        post_v1(emu, PNG, "image/png")
        directory = emu.storage_dir
        assert directory.exists()
    assert not directory.exists()


def test_clocks() -> None:
    clock = ManualClock(100.0)
    assert clock.advance(2.5) == 102.5 and clock.now() == 102.5
    with pytest.raises(ValueError):
        clock.advance(-1)
    assert abs(SystemClock().now() - time.time()) < 60
    with Emulator(clock=clock) as emu:
        assert emu.clock is clock
        assert post_v1(emu, PNG, "image/png").json()["data"]["created_ts"] == 102
