"""Cassettes: record against a local echo server, replay offline, and never write the key."""

from __future__ import annotations

import base64
import hashlib
import http.client
import io
import json
import random
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import requests
import vcr
import yaml
from _support import serving
from requests_toolbelt import MultipartEncoder
from vcr.errors import CannotOverwriteExistingCassetteException
from vcr.request import Request as VRequest
from werkzeug.wrappers import Request as WRequest
from werkzeug.wrappers import Response as WResponse

from heygen_lab import uploads
from heygen_lab.cassettes import (
    FINGERPRINT_PREFIX,
    MATCHER_NAME,
    CassettePersister,
    Finding,
    SecretLeak,
    atomic_write,
    body_matcher,
    fingerprint,
    fingerprint_request,
    lint,
    make_vcr,
    read_provenance,
    scan_for_secrets,
)
from heygen_lab.client import HeyGenClient
from heygen_lab.errors import ConfigurationError, HeyGenError
from heygen_lab.media import load_media

KEY = "hgKey+Test/0123456789abcdefXYZ=="  # base64-like, so its URL-encoded form differs
API = "https://api.heygen.com"


class Echo:
    """A WSGI app that records each body and answers with what it received."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        req = WRequest(environ)
        data = req.get_data()
        self.bodies.append(data)
        base = req.host_url.rstrip("/")
        if req.path == "/leak":  # echoes the key header back in the form asked for
            key, form = req.headers.get("X-Api-Key", ""), req.args.get("form", "raw")
            blob = b"xyz"[: int(form[-1])] + key.encode() + b"tail" if "b64" in form else b""
            leaked = {"raw": key, "url": quote(key, safe=""),
                      "b64": base64.b64encode(blob).decode(),
                      "b64url": base64.urlsafe_b64encode(blob).decode()}[form.rstrip("012-")]
            body: Any = {"code": 100, "data": {"echo": leaked}}
        elif req.path == "/v3/assets/direct-uploads":
            body = {"data": {"asset_id": "a1", "upload_url": f"{base}/storage/a1?sig=s"}}
        else:
            body = {"code": 100, "data": {
                "method": req.method, "content_type": req.headers.get("Content-Type"),
                "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}}
        headers = {"Location": f"{base}/v3/assets/a1", "Date": "Mon, 01 Jan 2024 00:00:00 GMT"}
        return WResponse(json.dumps(body), content_type="application/json",
                         headers=headers)(environ, start_response)


@pytest.fixture
def server() -> Iterator[tuple[str, Echo]]:
    echo = Echo()
    with serving(echo) as srv:
        yield f"http://127.0.0.1:{srv.server_port}", echo


@pytest.fixture
def jpeg_bytes(jpeg: Path) -> bytes:
    return jpeg.read_bytes()


def _fields(data: bytes, *, name: str = "file", filename: str = "tiny.jpg",
            ctype: str = "image/jpeg", first: bool = False) -> list[tuple[str, Any]]:
    file_part = (name, (filename, data, ctype))
    return [file_part, ("type", "image")] if first else [("type", "image"), file_part]


def _post_multipart(url: str, fields: list[tuple[str, Any]]) -> requests.Response:
    enc = MultipartEncoder(fields=fields, boundary=uuid.uuid4().hex)  # a new boundary each time
    return requests.post(url, data=enc, headers={"Content-Type": enc.content_type}, timeout=10)


def _cassette(root: Path, name: str) -> dict[str, Any]:
    text = (root / f"{name}.yaml").read_text()
    assert "!!python" not in text and "!!binary" not in text
    loaded = yaml.safe_load(text)
    assert isinstance(loaded, dict)
    return loaded


# ------------------------------------------------------------------ multipart record / replay
def test_multipart_replays_with_a_new_boundary(server: tuple[str, Echo], tmp_path: Path,
                                                jpeg_bytes: bytes) -> None:
    base, echo = server
    with make_vcr(tmp_path, record_mode="once").use_cassette("upload-v3/ok"):
        recorded = _post_multipart(base + "/v3/assets", _fields(jpeg_bytes)).json()
    assert len(echo.bodies) == 1
    with make_vcr(tmp_path).use_cassette("upload-v3/ok"):
        replayed = _post_multipart(base + "/v3/assets", _fields(jpeg_bytes)).json()
    assert replayed == recorded and len(echo.bodies) == 1, "replayed, not sent"
    body = _cassette(tmp_path, "upload-v3/ok")["interactions"][0]["request"]["body"]
    fp = json.loads(body.split(" ", 1)[1])
    assert fp["encoding"] == "multipart" and "boundary" not in body
    assert [(p["name"], p["filename"]) for p in fp["parts"]] == [("type", None),
                                                                 ("file", "tiny.jpg")]


def test_plain_vcrpy_fails_both_ways(server: tuple[str, Echo], tmp_path: Path,
                                     jpeg_bytes: bytes) -> None:
    """Regression marker for the vcrpy gaps this package closes (vcrpy issue 28 and the tag)."""
    base, _ = server
    plain = vcr.VCR(record_mode="once", match_on=("method", "uri", "body"))
    path = tmp_path / "plain.yaml"
    with plain.use_cassette(str(path)):
        _post_multipart(base + "/v3/assets", _fields(jpeg_bytes))
    assert "!!python/object/new:_io.BytesIO" in path.read_text()
    with pytest.raises(yaml.YAMLError):
        yaml.safe_load(path.read_text())
    with pytest.raises(CannotOverwriteExistingCassetteException), plain.use_cassette(str(path)):
        _post_multipart(base + "/v3/assets", _fields(jpeg_bytes))


@pytest.mark.parametrize(("change", "field"), [
    ({"name": "asset"}, "parts[1].name"),
    ({"filename": "other.jpg"}, "parts[1].filename"),
    ({"ctype": "image/png"}, "parts[1].content_type"),
    ({"first": True}, "part order"),
])
def test_replay_names_the_multipart_field_that_changed(
    server: tuple[str, Echo], tmp_path: Path, jpeg_bytes: bytes, change: dict[str, Any],
    field: str,
) -> None:
    base, _ = server
    with make_vcr(tmp_path, record_mode="once").use_cassette("c/case"):
        _post_multipart(base + "/v3/assets", _fields(jpeg_bytes))
    with pytest.raises(CannotOverwriteExistingCassetteException) as info, \
            make_vcr(tmp_path).use_cassette("c/case"):
        _post_multipart(base + "/v3/assets", _fields(jpeg_bytes, **change))
    [(_, _, failed)] = info.value.similar_requests
    [(matcher, message)] = failed
    assert matcher == "body_matcher" and field in message


def test_replay_detects_changed_content_bytes(server: tuple[str, Echo], tmp_path: Path,
                                              jpeg_bytes: bytes) -> None:
    base, _ = server
    with make_vcr(tmp_path, record_mode="once").use_cassette("c/bytes"):
        _post_multipart(base + "/v3/assets", _fields(jpeg_bytes))
    changed = jpeg_bytes[:-1] + bytes([jpeg_bytes[-1] ^ 1])
    with pytest.raises(CannotOverwriteExistingCassetteException) as info, \
            make_vcr(tmp_path).use_cassette("c/bytes"):
        _post_multipart(base + "/v3/assets", _fields(changed))
    message = info.value.similar_requests[0][2][0][1]
    assert "parts[1].sha256" in message and "parts[1].size" not in message


# ------------------------------------------------------------------ raw and streamed bodies
def test_raw_file_object_is_fingerprinted_and_sent_unchanged(
    server: tuple[str, Echo], tmp_path: Path, media_dir: Path
) -> None:
    base, echo = server
    video = (media_dir / "tiny.mp4").read_bytes() + random.Random(0).randbytes(200_000)
    source = tmp_path / "big.mp4"
    source.write_bytes(video)
    with make_vcr(tmp_path, record_mode="once").use_cassette("upload-v1/raw"), \
            source.open("rb") as stream:
        requests.post(base + "/v1/asset", data=stream, headers={"Content-Type": "video/mp4"},
                      timeout=10)
    assert echo.bodies == [video], "the server got the file's bytes, not the fingerprint"
    text = (tmp_path / "upload-v1/raw.yaml").read_text()
    assert len(text) < 2000 < len(video) and base64.b64encode(video[:64]).decode() not in text
    fp = json.loads(_cassette(tmp_path, "upload-v1/raw")["interactions"][0]["request"]["body"]
                    .split(" ", 1)[1])
    assert fp == {"encoding": "raw", "content_type": "video/mp4", "size": len(video),
                  "sha256": hashlib.sha256(video).hexdigest(), "head": video[:16].hex()}
    with make_vcr(tmp_path).use_cassette("upload-v1/raw"):
        replay = requests.post(base + "/v1/asset", data=io.BytesIO(video),
                               headers={"Content-Type": "video/mp4"}, timeout=10)
    assert replay.json()["data"]["sha256"] == fp["sha256"]


def test_streamed_multipart_reaches_the_server_byte_identical(
    server: tuple[str, Echo], tmp_path: Path, jpeg_bytes: bytes
) -> None:
    base, echo = server
    boundary = uuid.uuid4().hex
    expected = MultipartEncoder(fields=_fields(jpeg_bytes), boundary=boundary).to_string()
    enc = MultipartEncoder(fields=_fields(jpeg_bytes), boundary=boundary)
    with make_vcr(tmp_path, record_mode="once").use_cassette("c/stream"):
        requests.post(base + "/v3/assets", data=enc, headers={"Content-Type": enc.content_type},
                      timeout=10)
    assert echo.bodies == [expected]


def test_client_upload_records_and_replays_on_canonical_hosts(
    server: tuple[str, Echo], tmp_path: Path, jpeg: Path
) -> None:
    base, echo = server
    recorder = make_vcr(tmp_path, record_mode="once", secrets=[KEY],
                        canonical_hosts={base: API})
    with recorder.use_cassette("upload-v3/client"):
        live = HeyGenClient(KEY, api_base=base, upload_base=base, max_retries=0).exchange(
            "v3-upload", payload=uploads.multipart(load_media(jpeg)))
    text = (tmp_path / "upload-v3/client.yaml").read_text()
    assert KEY not in text and base not in text and "X-Api-Key" not in text
    assert read_provenance(tmp_path / "upload-v3/client.yaml")["kind"] == "emulator"  # type: ignore[index]
    with make_vcr(tmp_path).use_cassette("upload-v3/client"):
        again = HeyGenClient(KEY, max_retries=0).exchange(
            "v3-upload", payload=uploads.multipart(load_media(jpeg)))  # a fresh boundary
    assert again.status == live.status == 200 and again.body == live.body
    assert len(echo.bodies) == 1


def test_client_raw_upload_under_vcrpy(server: tuple[str, Echo], tmp_path: Path,
                                       jpeg: Path) -> None:
    base, echo = server
    with make_vcr(tmp_path, record_mode="once").use_cassette("upload-v1/client-raw"):
        HeyGenClient(KEY, api_base=base, upload_base=base, max_retries=0).exchange(
            "v1-upload", payload=uploads.raw(load_media(jpeg)))
    assert echo.bodies == [jpeg.read_bytes()], "the server got the file, byte for byte"
    text = next(tmp_path.rglob("client-raw*")).read_text()
    assert FINGERPRINT_PREFIX in text and "!!python" not in text


def test_plain_vcr_with_the_registered_matcher_replays(server: tuple[str, Echo], tmp_path: Path,
                                                       jpeg_bytes: bytes) -> None:
    base, _ = server
    with make_vcr(tmp_path, record_mode="once").use_cassette("c/plain"):
        recorded = _post_multipart(base + "/v3/assets", _fields(jpeg_bytes)).json()
        requests.post(base + "/v3/videos", json={"b": 1, "a": [1, 2]}, timeout=10)
    plain = vcr.VCR(record_mode="none", before_record_request=fingerprint_request,
                    match_on=("method", "scheme", "host", "port", "path", "query", MATCHER_NAME))
    plain.register_matcher(MATCHER_NAME, body_matcher)
    with plain.use_cassette(str(tmp_path / "c/plain.yaml")):
        assert _post_multipart(base + "/v3/assets", _fields(jpeg_bytes)).json() == recorded
        # JSON bodies match by value, whatever the key order or spacing
        requests.post(base + "/v3/videos", data='{"a": [1, 2], "b": 1}',
                      headers={"Content-Type": "application/json"}, timeout=10)


# ------------------------------------------------------------------ canonical hosts, provenance
def test_canonical_hosts_rewrite_uris_bodies_and_headers(server: tuple[str, Echo],
                                                         tmp_path: Path) -> None:
    base, _ = server
    recorder = make_vcr(tmp_path, record_mode="once", canonical_hosts={base + "/": API})
    with recorder.use_cassette("direct/init"):
        requests.post(base + "/v3/assets/direct-uploads", json={"size": 1}, timeout=10)
    interaction = _cassette(tmp_path, "direct/init")["interactions"][0]
    assert interaction["request"]["uri"] == API + "/v3/assets/direct-uploads"
    assert API + "/storage/a1?sig=s" in interaction["response"]["body"]["string"]
    assert interaction["response"]["headers"]["Location"] == [API + "/v3/assets/a1"]
    assert "Date" not in interaction["response"]["headers"]
    assert "Server" not in interaction["response"]["headers"]
    with make_vcr(tmp_path).use_cassette("direct/init"):
        resp = requests.post(API + "/v3/assets/direct-uploads", json={"size": 1}, timeout=10)
    assert resp.json()["data"]["upload_url"] == API + "/storage/a1?sig=s"


def test_provenance_is_honest(server: tuple[str, Echo], tmp_path: Path) -> None:
    base, _ = server
    with pytest.raises(ConfigurationError):
        make_vcr(tmp_path, provenance={"kind": "documented"})
    recorder = make_vcr(tmp_path, record_mode="once", canonical_hosts={base: API},
                        provenance={"kind": "live"})
    with pytest.raises(HeyGenError, match="emulator"), recorder.use_cassette("c/lie"):
        requests.get(base + "/v3/users/me", timeout=10)
    assert not (tmp_path / "c/lie.yaml").exists()
    recorder = make_vcr(tmp_path, record_mode="once", provenance={"plan": "trial"})
    with recorder.use_cassette("c/me"):
        requests.get(base + "/v3/users/me", timeout=10)
    prov = read_provenance(tmp_path / "c/me.yaml")
    assert prov is not None and prov["kind"] == "emulator" and prov["plan"] == "trial"
    assert prov["tool"].startswith("heygen-lab ")
    recorded = datetime.fromisoformat(prov["recorded_at"])
    assert abs(datetime.now(UTC) - recorded) < timedelta(days=1)


# ------------------------------------------------------------------ the secret gate
def test_filtered_key_header_is_no_leak(server: tuple[str, Echo], tmp_path: Path) -> None:
    base, _ = server
    with make_vcr(tmp_path, record_mode="once", secrets=[KEY]).use_cassette("c/ok"):
        requests.get(base + "/v3/users/me", headers={"X-Api-Key": KEY,
                                                     "Authorization": f"Bearer {KEY}"},
                     params={"api_key": KEY}, timeout=10)
    text = (tmp_path / "c/ok.yaml").read_text()
    assert scan_for_secrets(text, [KEY]) == []


@pytest.mark.parametrize(("form", "found"), [
    ("raw", "raw"), ("url", "url-encoded"), ("b64-0", "base64"), ("b64-1", "base64"),
    ("b64-2", "base64"), ("b64url-1", "base64"),
])
def test_key_in_a_response_body_is_refused(server: tuple[str, Echo], tmp_path: Path, form: str,
                                           found: str) -> None:
    base, _ = server
    root = tmp_path / "cassettes"
    unpatched = http.client.HTTPConnection
    with pytest.raises(SecretLeak) as info, \
            make_vcr(root, record_mode="once", secrets=[KEY]).use_cassette("c/leak"):
        requests.get(base + "/v3/users/me", timeout=10)  # a clean interaction first
        requests.get(base + "/leak", params={"form": form}, headers={"X-Api-Key": KEY},
                     timeout=10)
    assert found in info.value.forms and f"GET {base}/leak?form=" in str(info.value)
    assert scan_for_secrets(str(info.value) + repr(info.value), [KEY]) == []
    assert not root.exists() or not any(root.rglob("*")), "no file, not even a partial one"
    assert http.client.HTTPConnection is unpatched, "vcrpy's patches were removed"


def test_key_in_a_url_query_is_refused(server: tuple[str, Echo], tmp_path: Path) -> None:
    base, _ = server
    with pytest.raises(SecretLeak, match="url-encoded") as info, \
            make_vcr(tmp_path, record_mode="once", secrets=[KEY]).use_cassette("c/q"):
        requests.get(base + "/v3/users/me", params={"auth": KEY}, timeout=10)
    assert "URL withheld" in str(info.value) and quote(KEY, safe="") not in str(info.value)
    assert not any(tmp_path.rglob("*"))


def test_the_persister_gate_names_the_file(tmp_path: Path) -> None:
    """The backstop: whatever reaches the persister is gated again, binary bodies included."""
    path = tmp_path / "c" / "binary.yaml"
    body = b"\xff\xfe\x00" + base64.b64encode(b"user:" + KEY.encode()) + b"\xff"
    cassette = {"requests": [VRequest("GET", API + "/v3/users/me", None, {})],
                "responses": [{"status": {"code": 200, "message": "OK"}, "headers": {},
                               "body": {"string": body}}]}
    with pytest.raises(SecretLeak, match=r"binary\.yaml.*base64") as info:
        CassettePersister([KEY]).save_cassette(path, cassette)
    assert scan_for_secrets(repr(info.value), [KEY]) == [] and not any(tmp_path.rglob("*"))
    cassette["responses"][0]["body"]["string"] = b"\xff\xfe\x00 binary"
    CassettePersister([KEY]).save_cassette(path, cassette)
    assert "!!binary" in path.read_text() and yaml.safe_load(path.read_text())["version"] == 1


def test_the_environment_key_is_always_a_secret(server: tuple[str, Echo], tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    base, _ = server
    monkeypatch.setenv("HEYGEN_API_KEY", KEY)
    with pytest.raises(SecretLeak), make_vcr(tmp_path, record_mode="once").use_cassette("c/e"):
        requests.get(base + "/leak", headers={"X-Api-Key": KEY}, timeout=10)


def test_atomic_write_gates_and_replaces(tmp_path: Path) -> None:
    target = tmp_path / "reports" / "plan.json"
    atomic_write(target, "old")
    with pytest.raises(SecretLeak):
        atomic_write(target, f"key: {base64.b64encode(KEY.encode()).decode()}", secrets=[KEY])
    assert target.read_text() == "old"
    assert [p.name for p in target.parent.iterdir()] == ["plan.json"], "no temporary file left"
    atomic_write(target, b"new", secrets=[KEY])
    assert target.read_bytes() == b"new" and target.stat().st_mode & 0o777 == 0o644


# ------------------------------------------------------------------ lint
def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _good(recorded_at: str = "2026-01-01T00:00:00+00:00") -> str:
    return yaml.safe_dump({"version": 1, "metadata": {"provenance": {
        "kind": "emulator", "recorded_at": recorded_at, "tool": "heygen-lab 0.1.0"}},
        "interactions": []})


def test_lint_finds_each_kind(tmp_path: Path) -> None:
    now = datetime(2026, 2, 1, tzinfo=UTC)
    _write(tmp_path / "up/ok.yaml", _good())
    _write(tmp_path / "up/old.yaml", _good("2025-01-01T00:00:00+00:00"))
    _write(tmp_path / "up/undated.yaml", "interactions: []\nversion: 1\n")
    _write(tmp_path / "up/orphan.yaml", _good())
    _write(tmp_path / "up/big.yaml", _good() + "# " + "x" * 500 + "\n")
    _write(tmp_path / "up/leak.yaml", _good() + f"# {quote(KEY, safe='')}\n")
    _write(tmp_path / "up/tag.yaml", "interactions:\n- !!python/object/new:_io.BytesIO {}\n")
    _write(tmp_path / "up/bad.yaml", "interactions: [\n")
    _write(tmp_path / "up/notcassette.yaml", "- 1\n")
    (tmp_path / "up/binary.yaml").write_bytes(b"\xff\xfe")
    known = ["up/ok", "up/old", "up/undated", "up/big", "up/leak", "up/tag", "up/bad",
             "up/notcassette", "up/binary", "up/never-recorded"]
    findings = lint(tmp_path, known_cases=known, max_age_days=90, max_bytes=400,
                    secrets=[KEY], now=now)
    by = {(Path(f.path).stem, f.kind) for f in findings}
    assert by == {
        ("old", "stale"), ("undated", "stale"), ("orphan", "orphaned"), ("big", "oversized"),
        ("leak", "secret"), ("tag", "unsafe-yaml"), ("bad", "unsafe-yaml"),
        ("notcassette", "unreadable"), ("binary", "unreadable"), ("never-recorded", "missing"),
    }
    assert all(KEY not in f.message and quote(KEY, safe="") not in f.message for f in findings)
    assert all(isinstance(f, Finding) for f in findings)
    no_age = lint(tmp_path, max_age_days=None, max_bytes=400, secrets=[KEY])
    assert not {"stale", "orphaned", "missing"} & {f.kind for f in no_age}


def test_lint_accepts_a_recorded_cassette(server: tuple[str, Echo], tmp_path: Path,
                                          jpeg_bytes: bytes) -> None:
    base, _ = server
    with make_vcr(tmp_path, record_mode="once", secrets=[KEY]).use_cassette("upload-v3/ok"):
        _post_multipart(base + "/v3/assets", _fields(jpeg_bytes))
    assert lint(tmp_path, known_cases=["upload-v3/ok"], secrets=[KEY]) == []


@pytest.mark.parametrize("via", ["v1", "v3"])
def test_a_client_upload_being_recorded_streams_its_file(tmp_path: Path, media_dir: Path,
                                                        via: str) -> None:
    """The client hands requests its file bodies as 1 MiB blocks (not a file object): the
    recorder still streams them and stores their fingerprint. Recording a 30 MiB upload
    allocates less than half of it at any time; without streaming vcrpy holds it several
    times over."""
    import tracemalloc

    from heygen_lab.emulator import Emulator

    big = tmp_path / "big.jpg"
    with big.open("wb") as fh:
        fh.write((media_dir / "tiny.jpg").read_bytes())
        fh.truncate(30 << 20)  # under v3's 32 MB
    recorder = make_vcr(tmp_path / "cassettes", record_mode="once")
    with Emulator() as emu, emu.client() as client:
        client.upload_asset(media_dir / "tiny.jpg", via=via)  # warm up: imports, the pool
        with recorder.use_cassette(f"c/{via}"):
            tracemalloc.start()
            try:
                client.upload_asset(big, via=via)
                _, peak = tracemalloc.get_traced_memory()
            finally:
                tracemalloc.stop()
        assert emu.assets()[-1].size_bytes == 30 << 20
    assert peak < 15 << 20, f"peak Python allocation {peak} bytes recording a 30 MiB upload"
    stored = _cassette(tmp_path / "cassettes", f"c/{via}")["interactions"][0]["request"]["body"]
    assert stored.startswith(FINGERPRINT_PREFIX)


@pytest.mark.parametrize("encoding", ["raw", "multipart"])
def test_a_large_body_is_streamed_and_recorded_as_its_fingerprint_only(
    server: tuple[str, Echo], tmp_path: Path, media_dir: Path, encoding: str
) -> None:
    """Over STREAM_THRESHOLD, the recorder neither holds nor stores the body: the server gets
    the bytes (forwarded from a spool file), the cassette their fingerprint, and that
    fingerprint is the one fingerprint() gives for the whole body."""
    from heygen_lab.cassettes.recorder import STREAM_THRESHOLD

    base, echo = server
    data = (media_dir / "tiny.jpg").read_bytes() + random.Random(1).randbytes(
        STREAM_THRESHOLD + 123_456)
    source = tmp_path / "big.jpg"
    source.write_bytes(data)
    with make_vcr(tmp_path, record_mode="once").use_cassette("c/big"), \
            source.open("rb") as stream:
        if encoding == "raw":
            body: Any = stream
            content_type, sent = "image/jpeg", data
        else:
            body = MultipartEncoder(fields=_fields(stream), boundary="b" * 32)  # type: ignore[arg-type]
            content_type = body.content_type
            sent = MultipartEncoder(fields=_fields(data), boundary="b" * 32).to_string()
        requests.post(base + "/v3/assets", data=body, headers={"Content-Type": content_type},
                      timeout=30)
    assert echo.bodies == [sent], "the server got the body's bytes, unchanged"
    text = (tmp_path / "c/big.yaml").read_text()
    assert len(text) < 3000, "the cassette holds a fingerprint, not the body"
    stored = _cassette(tmp_path, "c/big")["interactions"][0]["request"]["body"]
    assert stored.startswith(FINGERPRINT_PREFIX)
    assert json.loads(stored[len(FINGERPRINT_PREFIX):]) == fingerprint(content_type, sent)
    with make_vcr(tmp_path).use_cassette("c/big"), source.open("rb") as again:
        replay_body: Any = again if encoding == "raw" else MultipartEncoder(
            fields=_fields(again), boundary="c" * 32)  # type: ignore[arg-type]
        ct = content_type if encoding == "raw" else replay_body.content_type
        replayed = requests.post(base + "/v3/assets", data=replay_body,
                                 headers={"Content-Type": ct}, timeout=30)
    assert replayed.json()["data"]["size"] == len(sent)
    assert len(echo.bodies) == 1, "the replay was answered from the cassette"
