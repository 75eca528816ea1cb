"""The emulator under malformed input, concurrency and random requests: it always answers with
a well-formed envelope (or a storage error), never crashes a handler, and keeps serving."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from requests_toolbelt import MultipartEncoder

from heygen_lab.emulator import DEMO_KEY, Emulator

KEY = {"X-Api-Key": DEMO_KEY}
TIMEOUT = 30
PNG_HEAD = b"\x89PNG\r\n\x1a\n"
JPEG_HEAD = b"\xff\xd8\xff\xe0"


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with Emulator(read_timeout=5) as e:
        yield e


def port(base: str) -> int:
    return int(urlsplit(base).port or 0)


def raw_request(base: str, head: bytes, body: bytes = b"", half_close: bool = True) -> bytes:
    """Send bytes over a socket (optionally half-closing it) and read the whole answer."""
    with socket.create_connection(("127.0.0.1", port(base)), timeout=TIMEOUT) as sock:
        sock.sendall(head + body)
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def parse_raw(answer: bytes) -> tuple[int, dict[str, Any]]:
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), json.loads(body)


def request_head(path: str, content_type: str, length: str | int, **extra: str) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: localhost", f"X-Api-Key: {DEMO_KEY}",
             f"Content-Type: {content_type}", f"Content-Length: {length}",
             *(f"{k}: {v}" for k, v in extra.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def still_serving(emu: Emulator) -> None:
    r = requests.get(emu.api_base + "/v2/voices", headers=KEY, timeout=TIMEOUT)
    assert r.status_code == 200
    emu.check()
    assert list(emu.state.tmp_dir.iterdir()) == []


def is_envelope(obj: Any) -> bool:
    """A v1, v2 or v3 envelope (success or error)."""
    if not isinstance(obj, dict):
        return False
    if "code" in obj:  # v1
        return isinstance(obj["code"], int) and ("data" in obj or "message" in obj)
    if set(obj) == {"error", "data"}:  # v2
        err = obj["error"]
        return err is None or (isinstance(err, dict) and {"code", "message"} <= set(err))
    if "error" in obj:  # v3 error
        return set(obj["error"]) == {"code", "message", "param", "doc_url"}
    return "data" in obj  # v3 success


# ---------------------------------------------------------------- lying and broken bodies
def test_content_length_longer_than_the_body(emu: Emulator) -> None:
    answer = raw_request(emu.upload_base, request_head("/v1/asset", "image/png", 1000),
                         PNG_HEAD + b"short")
    status, body = parse_raw(answer)
    assert status == 400 and body["code"] == 400175
    assert "ended before its Content-Length" in body["message"]
    enc = b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n\r\n'
    answer = raw_request(emu.api_base, request_head(
        "/v3/assets", "multipart/form-data; boundary=b", 5000), enc + PNG_HEAD)
    status, body = parse_raw(answer)
    assert status == 400 and body["error"]["code"] == "invalid_parameter"
    still_serving(emu)


def test_a_stalled_body_times_out_into_an_error() -> None:
    with Emulator(read_timeout=0.5) as emu:
        answer = raw_request(emu.upload_base, request_head("/v1/asset", "image/png", 1000),
                             PNG_HEAD, half_close=False)
        status, body = parse_raw(answer)
        assert status == 400 and body["code"] == 400175
        still_serving(emu)


@pytest.mark.parametrize(("path", "content_type", "expected"), [
    ("/v3/assets", "multipart/form-data; boundary=b", (413, "payload_too_large")),
    ("/v3/videos", "application/json", (413, "payload_too_large")),
    ("/v3/assets/direct-uploads", "application/json", (413, "payload_too_large")),
])
def test_absurd_declared_sizes_on_v3(emu: Emulator, path: str, content_type: str,
                                     expected: tuple[int, str]) -> None:
    answer = raw_request(emu.api_base, request_head(path, content_type, 10**15), b"{}")
    status, body = parse_raw(answer)
    assert (status, body["error"]["code"]) == expected
    still_serving(emu)


def test_absurd_declared_sizes_on_v1_and_v2(emu: Emulator) -> None:
    status, body = parse_raw(raw_request(
        emu.upload_base, request_head("/v1/asset", "image/png", 10**15), PNG_HEAD))
    assert (status, body["code"]) == (413, 413)
    status, body = parse_raw(raw_request(
        emu.api_base, request_head("/v2/video/generate", "application/json", 10**15), b"{}"))
    assert (status, body["error"]["code"], body["data"]) == (413, "payload_too_large", None)
    still_serving(emu)


@pytest.mark.parametrize("length", ["abc", "-5"])
def test_nonsense_content_length(emu: Emulator, length: str) -> None:
    status, body = parse_raw(raw_request(
        emu.upload_base, request_head("/v1/asset", "image/png", length), PNG_HEAD))
    assert (status, body) == (400, {"code": 40001, "message": "asset data must be provided"})
    still_serving(emu)


@pytest.mark.parametrize("body", [
    b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n\r\n' + PNG_HEAD,
    b"--b\r\ngarbage without headers",
    b"not multipart at all",
    b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n\r\n'
    + PNG_HEAD + b"\r\n--b--\r\n" + b"trailing",
])
def test_malformed_multipart(emu: Emulator, body: bytes) -> None:
    status, answer = parse_raw(raw_request(emu.api_base, request_head(
        "/v3/assets", "multipart/form-data; boundary=b", len(body)), body))
    if status == 200:  # a well-formed body with an epilogue is legal multipart
        assert answer["data"]["mime_type"] == "image/png"
    else:
        assert status == 400 and answer["error"]["param"] == "file"
    missing_boundary = raw_request(emu.api_base, request_head(
        "/v3/assets", "multipart/form-data", len(body)), body)
    assert parse_raw(missing_boundary)[0] == 400
    still_serving(emu)


def test_broken_chunked_encoding(emu: Emulator) -> None:
    head = (f"POST /v2/video/generate HTTP/1.1\r\nHost: x\r\nX-Api-Key: {DEMO_KEY}\r\n"
            "Transfer-Encoding: chunked\r\n\r\n").encode()
    status, body = parse_raw(raw_request(emu.api_base, head, b"zz\r\nabc"))
    assert status == 400 and body["error"]["code"] == "invalid_parameter"
    still_serving(emu)


@pytest.mark.parametrize("body", [b"[" * 100_000, b"\xff\xfe\x00", b"null", b'"text"',
                                  b"{'single': 'quotes'}", b"1e999999"])
def test_non_json_bodies(emu: Emulator, body: bytes) -> None:
    for path, version in (("/v2/video/generate", "v2"), ("/v3/videos", "v3")):
        r = requests.post(emu.api_base + path, data=body, timeout=TIMEOUT,
                          headers={**KEY, "Content-Type": "application/json"})
        assert r.status_code == 400 and is_envelope(r.json())
        if version == "v2":
            assert r.json()["data"] is None
    still_serving(emu)


def test_garbage_request_lines_do_not_stop_the_server(emu: Emulator) -> None:
    for junk in (b"GARBAGE\r\n\r\n", b"\x00\x01\x02\r\n\r\n", b"GET / HTTP/9.9\r\n\r\n", b""):
        raw_request(emu.api_base, junk)
    still_serving(emu)


# ---------------------------------------------------------------- concurrency
def test_concurrent_uploads_lose_and_duplicate_nothing() -> None:
    workers, per_worker = 8, 6
    with Emulator() as emu:
        results: list[tuple[bytes, str]] = []
        lock = threading.Lock()
        failures: list[BaseException] = []

        def work(n: int) -> None:
            try:
                for i in range(per_worker):
                    payload = PNG_HEAD + f"worker {n} item {i}".encode() * 50
                    if i % 2:
                        r = requests.post(emu.upload_base + "/v1/asset", data=payload,
                                          headers={**KEY, "Content-Type": "image/png"},
                                          timeout=TIMEOUT)
                        asset_id = r.json()["data"]["id"]
                    else:
                        enc = MultipartEncoder(fields={"file": ("a.png", payload, "image/png")})
                        r = requests.post(emu.api_base + "/v3/assets", data=enc, timeout=TIMEOUT,
                                          headers={**KEY, "Content-Type": enc.content_type})
                        asset_id = r.json()["data"]["asset_id"]
                    with lock:
                        results.append((payload, asset_id))
            except BaseException as exc:  # surfaced below, in the test thread
                failures.append(exc)

        threads = [threading.Thread(target=work, args=(n,)) for n in range(workers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert failures == []
        ids = [asset_id for _, asset_id in results]
        assert len(ids) == len(set(ids)) == workers * per_worker
        assert set(emu.state.assets) == set(ids)
        listed = requests.get(emu.api_base + "/v1/asset/list", headers=KEY,
                              timeout=TIMEOUT).json()["data"]["assets"]
        assert sorted(a["id"] for a in listed) == sorted(ids)
        for payload, asset_id in results:
            got = requests.get(f"{emu.api_base}/_files/{asset_id}", timeout=TIMEOUT)
            assert got.content == payload
        emu.check()


def test_concurrent_idempotent_requests_create_one_asset() -> None:
    with Emulator() as emu:
        enc = MultipartEncoder(fields={"file": ("a.png", PNG_HEAD + b"x" * 1000, "image/png")})
        body = enc.to_string()
        statuses: list[int] = []
        bodies: list[bytes] = []

        def send() -> None:
            r = requests.post(emu.api_base + "/v3/assets", data=body, timeout=TIMEOUT, headers={
                **KEY, "Content-Type": enc.content_type, "Idempotency-Key": "same"})
            statuses.append(r.status_code)
            if r.status_code == 200:
                bodies.append(r.content)

        threads = [threading.Thread(target=send) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert set(statuses) <= {200, 409} and 200 in statuses
        assert len(set(bodies)) == 1 and len(emu.state.assets) == 1
        emu.check()


# ---------------------------------------------------------------- random requests
# the emulator is module-scoped and shared by every example on purpose
FIXTURE_OK = [HealthCheck.function_scoped_fixture]
PATHS = ["/v1/asset", "/v1/talking_photo", "/v1/asset/list", "/v1/video_status.get",
         "/v2/video/generate", "/v2/avatars", "/v2/voices", "/v2/user/remaining_quota",
         "/v3/assets", "/v3/assets/direct-uploads", "/v3/assets/x/complete", "/v3/assets/x",
         "/v3/videos", "/v3/videos/x", "/v3/users/me", "/_storage/x", "/_files/x", "/"]
SAFE_TEXT = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=40)
JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["video_inputs", "character", "voice", "type", "avatar_id",
                         "filename", "content_type", "size_bytes", "checksum_sha256",
                         "audio_url", "audio_asset_id", "background", "dimension"]),
        inner, max_size=5),
    max_leaves=12)


@st.composite
def random_requests(draw: st.DrawFn) -> dict[str, Any]:
    path = draw(st.sampled_from(PATHS) | SAFE_TEXT.map(lambda s: "/" + quote(s)))
    if draw(st.booleans()):
        path += "?" + draw(st.sampled_from(["limit=", "token=", "video_id=", "expires=",
                                            "size=", "sig="])) + quote(draw(SAFE_TEXT))
    body = draw(st.one_of(st.binary(max_size=512), JSONISH.map(lambda j: json.dumps(j).encode()),
                          st.sampled_from([PNG_HEAD + b"x", JPEG_HEAD + b"y", b""])))
    headers: dict[str, str] = {}
    key = draw(st.sampled_from([DEMO_KEY, "wrong", None]))
    if key is not None:
        headers[draw(st.sampled_from(["X-Api-Key", "x-api-key"]))] = key
    content_type = draw(st.none() | st.sampled_from([
        "image/png", "image/jpeg", "application/json", "multipart/form-data; boundary=zz",
        "multipart/form-data", "text/plain", "video/mp4"]) | SAFE_TEXT)
    if content_type:
        headers["Content-Type"] = content_type
    if draw(st.booleans()):
        headers["Idempotency-Key"] = draw(SAFE_TEXT) or "k"
    if draw(st.booleans()):
        headers["Authorization"] = "Bearer " + draw(st.sampled_from([DEMO_KEY, "nope"]))
    return {"method": draw(st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH"])),
            "host": draw(st.sampled_from(["api", "upload"])), "path": path,
            "headers": headers, "body": body}


@settings(max_examples=50, deadline=None, suppress_health_check=FIXTURE_OK)
@given(req=random_requests())
def test_random_requests_always_get_a_well_formed_answer(emu: Emulator, req: dict[str, Any]
                                                         ) -> None:
    base = emu.api_base if req["host"] == "api" else emu.upload_base
    r = requests.request(req["method"], base + req["path"], data=req["body"],
                         headers=req["headers"], timeout=TIMEOUT)
    assert 200 <= r.status_code < 500, r.text
    assert r.headers["X-Request-Id"]
    content_type = r.headers.get("Content-Type", "")
    if content_type == "application/xml":
        assert r.text.startswith("<?xml") and "<Code>" in r.text
    elif content_type == "application/json":
        assert is_envelope(r.json()), r.text
    else:  # a file from /_files
        assert req["path"].startswith("/_files/") and r.status_code == 200
    emu.check()


@settings(max_examples=30, deadline=None, suppress_health_check=FIXTURE_OK)
@given(parts=st.lists(st.tuples(st.sampled_from(["file", "asset", "type", "x"]),
                                st.booleans(), st.binary(max_size=200)), max_size=4),
       cut=st.integers(min_value=0, max_value=400))
def test_random_multipart_uploads(emu: Emulator, parts: list[tuple[str, bool, bytes]],
                                  cut: int) -> None:
    fields = [(name, ("f.bin", PNG_HEAD + data, "image/png") if as_file
               else data.decode("latin-1")) for name, as_file, data in parts]
    enc = MultipartEncoder(fields=fields or [("x", "y")], boundary="bnd")
    body = enc.to_string()
    body = body[:cut] if cut < len(body) else body
    for base, path in ((emu.api_base, "/v3/assets"), (emu.upload_base, "/v1/asset")):
        r = requests.post(base + path, data=body, timeout=TIMEOUT,
                          headers={**KEY, "Content-Type": enc.content_type})
        assert r.status_code in (200, 400), r.text
        assert is_envelope(r.json())
        if path == "/v1/asset":
            assert r.json() == {"code": 40001, "message": "asset data must be provided"}
    still_serving(emu)
