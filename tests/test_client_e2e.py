"""HeyGenClient end to end: real HTTP on 127.0.0.1 against the emulator, never mocks of our code.

Where heygen-api.md is specific about what goes on the wire (host, path, headers, body), a small
recording proxy sits between the client and the emulator and keeps every request exactly as the
server received it; the proxy forwards to the emulator, so the flows still run for real.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import signal
import subprocess
import sys
import threading
import tracemalloc
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from _support import LoopbackServer, read_lines
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from requests_toolbelt.multipart.decoder import MultipartDecoder
from werkzeug.wsgi import get_input_stream

from heygen_lab.client import Asset, HeyGenClient
from heygen_lab.emulator import DEMO_KEY, Emulator
from heygen_lab.errors import (
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    ConnectError,
    HeyGenError,
    InsufficientCreditError,
    MediaError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RequestTimeout,
    ResponseLost,
    ServerError,
)
from heygen_lab.media import V3_MAX_BYTES
from heygen_lab.retry import RetryPolicy

MIB = 1024 * 1024
ROOT = Path(__file__).resolve().parent.parent
IDEMPOTENCY_KEY = re.compile(r"[A-Za-z0-9_:.-]{1,255}")
NO_WAIT = RetryPolicy(max_retries=2, base_delay=0, max_delay=0)
SCENE = {"character": {"type": "avatar", "avatar_id": "emu_avatar_anna"},
         "voice": {"type": "text", "voice_id": "emu_voice_en_f", "input_text": "Hello there"}}
VIDEO = {"video_inputs": [SCENE], "dimension": {"width": 640, "height": 360}}
V3_VIDEO = {"avatar_id": "emu_avatar_anna", "script": "Hello there", "voice_id": "emu_voice_en_f"}


def make_video(client: HeyGenClient, via: str, body: dict[str, Any] | None = None) -> str:
    """One video by the legacy v2 route or v3's create_video."""
    if via == "v2":
        return client.legacy_generate_video(body or VIDEO)
    return client.create_video(**(body or V3_VIDEO)).id
# Headers any HTTP/1.1 request carries to frame itself; everything else must be asked for.
FRAMING = {"host", "content-length"}


# ---------------------------------------------------------------- a recording proxy
@dataclass(frozen=True)
class Received:
    """One request exactly as the server saw it (header names lower-cased)."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes


class Recorder(LoopbackServer):
    """A loopback HTTP server that records each request, then forwards it to ``target``.

    ``rewrite`` maps URLs in response bodies to other URLs, so that links the emulator hands out
    (the direct-upload URL, asset URLs) lead back through a recorder too.
    """

    def __init__(self, target: str) -> None:
        self.target = target
        self.rewrite: dict[str, str] = {}
        self.received: list[Received] = []
        self._lock = threading.Lock()
        self._forward = requests.Session()
        super().__init__()

    def close(self) -> None:
        super().close()
        self._forward.close()

    def only(self, method: str, path: str) -> list[Received]:
        with self._lock:
            return [r for r in self.received if r.method == method and r.path == path]

    def _app(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        headers = {k[5:].replace("_", "-").lower(): v for k, v in environ.items()
                   if k.startswith("HTTP_")}
        for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            if environ.get(key):
                headers[key.replace("_", "-").lower()] = environ[key]
        body = get_input_stream(environ).read()
        got = Received(environ["REQUEST_METHOD"], environ["PATH_INFO"],
                       environ.get("QUERY_STRING", ""), headers, body)
        with self._lock:
            self.received.append(got)
        forward = {k: v for k, v in headers.items()
                   if k not in {"host", "content-length", "connection", "transfer-encoding"}}
        url = self.target + got.path + (f"?{got.query}" if got.query else "")
        try:
            resp = self._forward.request(got.method, url, headers=forward, data=body,
                                         allow_redirects=False, timeout=30)
        except requests.RequestException:
            start_response("502 Bad Gateway", [("Content-Type", "text/plain")])
            return [b"recorder: upstream gave no response"]
        content = resp.content
        for old, new in self.rewrite.items():
            content = content.replace(old.encode(), new.encode())
        keep = [(k, v) for k, v in resp.headers.items()
                if k.lower() not in {"content-length", "transfer-encoding", "connection",
                                     "content-encoding"}]
        keep.append(("Content-Length", str(len(content))))
        start_response(f"{resp.status_code} {resp.reason}", keep)
        return [content]


@dataclass
class Wired:
    """An emulator behind two recorders (API host, upload host) and a client pointed at them."""

    emu: Emulator
    api: Recorder
    upload: Recorder
    client: HeyGenClient
    sleeps: list[float]


@pytest.fixture
def wired() -> Iterator[Wired]:
    with Emulator() as emu:
        api, upload = Recorder(emu.api_base), Recorder(emu.upload_base)
        api.rewrite = upload.rewrite = {emu.api_base: api.base}
        sleeps: list[float] = []
        client = HeyGenClient(DEMO_KEY, api_base=api.base, upload_base=upload.base,
                              retry_policy=NO_WAIT, sleep=sleeps.append)
        try:
            yield Wired(emu, api, upload, client, sleeps)
        finally:
            client.close()
            api.close()
            upload.close()


# ---------------------------------------------------------------- helpers
def fetch(url: str | None) -> bytes:
    assert url, "the asset has a URL"
    resp = requests.get(url, timeout=30)
    resp.raise_for_status()
    return resp.content


def sized_jpeg(path: Path, size: int) -> Path:
    """A file that sniffs as JPEG: a real JPEG's bytes, then deterministic filler up to size."""
    head = (ROOT / "contracts" / "media" / "tiny.jpg")
    data = head.read_bytes()
    filler = hashlib.sha256(b"filler").digest() * (size // 32 + 1)
    path.write_bytes((data + filler)[:size])
    return path


def tracked(emu: Emulator) -> tuple[int, int, int]:
    """What the emulator holds: assets, talking photos, videos."""
    state = emu.state
    with state.lock:
        return len(state.assets), len(state.talking_photos), len(state.videos)


@pytest.fixture(scope="module")
def big_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """33 MiB: JPEG bytes then zero padding (sparse on disk, so cheap to make)."""
    path = tmp_path_factory.mktemp("big") / "big.jpg"
    jpeg = (ROOT / "contracts" / "media" / "tiny.jpg")
    with path.open("wb") as fh:
        fh.write(jpeg.read_bytes())
        fh.truncate(33 * MIB)
    return path


# ================================================================ upload routes
@pytest.mark.parametrize("name", ["tiny.jpg", "tiny.png", "tiny.mp3", "tiny.wav", "tiny.mp4",
                                  "tiny.webm"])
@pytest.mark.parametrize("via", ["v1", "v3", "direct", "auto"])
def test_every_route_stores_the_exact_bytes(emulator: Emulator, media_dir: Path, via: str,
                                            name: str) -> None:
    path = media_dir / name
    data = path.read_bytes()
    with emulator.client() as client:
        asset = client.upload_asset(path, via=via)
    expected_mime = {"jpg": "image/jpeg", "png": "image/png", "mp3": "audio/mpeg",
                     "wav": "audio/wav", "mp4": "video/mp4", "webm": "video/webm"}[path.suffix[1:]]
    assert isinstance(asset, Asset)
    assert asset.id and asset.id in emulator.state.assets
    assert asset.via == ("v3" if via == "auto" else via)
    assert asset.mime_type == expected_mime
    assert asset.size == len(data)
    assert asset.file_type == expected_mime.split("/")[0]
    if via == "v1" and asset.file_type == "image":
        assert asset.image_key, "v1 returns image_key for images (needed for photo avatars)"
    else:
        assert asset.image_key is None
    assert asset.raw, "the raw payload is kept"
    assert fetch(asset.url) == data
    assert emulator.state.assets[asset.id].sha256 == hashlib.sha256(data).hexdigest()


def test_v3_takes_a_pdf_and_v1_refuses_it_before_sending(emulator: Emulator,
                                                         media_dir: Path) -> None:
    pdf = media_dir / "tiny.pdf"
    with emulator.client() as client:
        asset = client.upload_asset(pdf, via="v3")
        assert (asset.mime_type, asset.file_type) == ("application/pdf", "document")
        assert fetch(asset.url) == pdf.read_bytes()
        before = tracked(emulator)
        with pytest.raises(MediaError, match=r"tiny\.pdf.*application/pdf.*not accepted"):
            client.upload_asset(pdf, via="v1")
    assert tracked(emulator) == before


def test_auto_uses_direct_above_32_mib(emulator: Emulator, big_file: Path) -> None:
    with emulator.client() as client:
        asset = client.upload_asset(big_file)
    assert asset.via == "direct"
    assert asset.size == big_file.stat().st_size > V3_MAX_BYTES
    stored = emulator.state.assets[asset.id]
    assert stored.size_bytes == asset.size
    digest = hashlib.sha256()
    with big_file.open("rb") as fh:
        while chunk := fh.read(MIB):
            digest.update(chunk)
    assert stored.sha256 == digest.hexdigest()


@pytest.fixture(scope="module")
def served_emulator() -> Iterator[dict[str, str]]:
    """``heygen-lab serve`` in a child process: its allocations stay out of this process.

    One for the module: the routes' big uploads share it (a child costs a second to start)."""
    code = ("import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
            "from heygen_lab.cli import main; sys.exit(main(sys.argv[1:]))")
    proc = subprocess.Popen([sys.executable, "-c", code, "serve", "--api-port", "0"],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True)
    try:
        assert proc.stdout is not None
        env = dict(line.strip().split("=", 1) for line in read_lines(proc.stdout, 3))
        yield env
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.mark.parametrize("via", ["v1", "direct"])
def test_a_big_upload_streams_instead_of_loading_the_file(served_emulator: dict[str, str],
                                                          big_file: Path, via: str) -> None:
    with HeyGenClient(env=served_emulator) as client:
        client.upload_asset(ROOT / "contracts" / "media" / "tiny.jpg", via=via)  # warm up
        tracemalloc.start()
        try:
            asset = client.upload_asset(big_file, via=via)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert asset.size == 33 * MIB
    # A few 1 MiB blocks in flight (direct: the PUT's and the hashing read's; ~4 MiB), never
    # the file.
    assert peak < 8 * MIB, f"peak Python allocation {peak} bytes for a 33 MiB upload"


@pytest.mark.parametrize("via, parts", [("v1-multipart-file", ["file"]),
                                        ("v1-multipart-type-asset", ["type", "asset"])])
def test_probe_encodings_reproduce_40001_and_diagnose_it(emulator: Emulator, jpeg: Path,
                                                         via: str, parts: list[str]) -> None:
    with emulator.client() as client, pytest.raises(BadRequestError) as info:
        client.upload_asset(jpeg, via=via)
    err = info.value
    assert err.status == 400 and err.code == 40001
    assert err.diagnosis is not None and err.diagnosis.id == "wrong-encoding"
    text = str(err)
    assert "not a plan or permission problem" in text.lower()
    assert str(parts) in text, "the message says what was sent"
    assert "raw file bytes" in text and "image/jpeg" in text
    assert emulator.state.assets == {}


# ================================================================ on the wire
def test_v1_request_is_the_raw_file_on_the_upload_host(wired: Wired, jpeg: Path) -> None:
    asset = wired.client.upload_asset(jpeg, via="v1")
    assert wired.api.received == [], "nothing goes to the API host"
    (req,) = wired.upload.received
    assert (req.method, req.path, req.query) == ("POST", "/v1/asset", "")
    assert req.headers["content-type"] == "image/jpeg"
    assert req.headers["x-api-key"] == DEMO_KEY
    assert "authorization" not in req.headers
    assert req.body == jpeg.read_bytes()
    assert req.headers["content-length"] == str(len(req.body))
    assert "transfer-encoding" not in req.headers
    assert asset.image_key


def test_v3_request_is_one_multipart_part_named_file(wired: Wired, png: Path) -> None:
    asset = wired.client.upload_asset(png, via="v3")
    assert wired.upload.received == []
    (req,) = wired.api.received
    assert (req.method, req.path) == ("POST", "/v3/assets")
    assert req.headers["x-api-key"] == DEMO_KEY
    assert IDEMPOTENCY_KEY.fullmatch(req.headers["idempotency-key"])
    assert req.headers["content-type"].startswith("multipart/form-data; boundary=")
    parts = MultipartDecoder(req.body, req.headers["content-type"]).parts
    assert len(parts) == 1
    (part,) = parts
    disposition = part.headers[b"Content-Disposition"].decode()
    assert disposition == 'form-data; name="file"; filename="tiny.png"'
    assert part.content == png.read_bytes()
    assert fetch(asset.url) == png.read_bytes()


def test_each_v3_upload_gets_its_own_idempotency_key(wired: Wired, jpeg: Path, png: Path) -> None:
    wired.client.upload_asset(jpeg, via="v3")
    wired.client.upload_asset(jpeg, via="v3")
    wired.client.upload_asset(png, via="v3", idempotency_key="mine:1.a_b-c")
    keys = [r.headers["idempotency-key"] for r in wired.api.only("POST", "/v3/assets")]
    assert len(set(keys[:2])) == 2, "a key is never reused for a new upload"
    assert keys[2] == "mine:1.a_b-c"
    assert len(wired.emu.state.assets) == 3


def test_direct_upload_three_steps_and_a_bare_put(wired: Wired, jpeg: Path) -> None:
    data = jpeg.read_bytes()
    asset = wired.client.upload_asset(jpeg, via="direct")
    (init,) = wired.api.only("POST", "/v3/assets/direct-uploads")
    sent = json.loads(init.body)
    # no checksum yet: the file is hashed while the PUT streams, the sha256 goes with complete
    assert sent == {"filename": "tiny.jpg", "content_type": "image/jpeg", "size_bytes": len(data)}
    assert init.headers["content-type"] == "application/json"
    assert init.headers["x-api-key"] == DEMO_KEY
    (put,) = [r for r in wired.api.received if r.method == "PUT"]
    assert put.path == f"/_storage/{asset.id}"
    assert put.body == data
    assert "x-api-key" not in put.headers and "authorization" not in put.headers
    signed = {"content-type": "image/jpeg"}  # the emulator's upload_headers
    extra = {k: v for k, v in put.headers.items() if k not in FRAMING}
    assert extra == signed, "exactly the signed headers, nothing a library added"
    assert put.headers["content-length"] == str(len(data))
    (complete,) = wired.api.only("POST", f"/v3/assets/{asset.id}/complete")
    assert json.loads(complete.body) == {"checksum_sha256": hashlib.sha256(data).hexdigest()}
    order = [(r.method, r.path) for r in wired.api.received]
    assert order == [("POST", "/v3/assets/direct-uploads"), ("PUT", put.path),
                     ("POST", complete.path)]
    assert asset.via == "direct" and asset.size == len(data)


def test_direct_upload_retries_complete_on_409(jpeg: Path) -> None:
    with Emulator(complete_race=True) as emu:
        api = Recorder(emu.api_base)
        api.rewrite = {emu.api_base: api.base}
        sleeps: list[float] = []
        try:
            with HeyGenClient(DEMO_KEY, api_base=api.base, upload_base=emu.upload_base,
                              retry_policy=NO_WAIT, sleep=sleeps.append) as client:
                asset = client.upload_asset(jpeg, via="direct")
            completes = api.only("POST", f"/v3/assets/{asset.id}/complete")
            stored = fetch(asset.url)
        finally:
            api.close()
        assert len(completes) == 2, "the first complete got 409, the second succeeded"
        assert len(sleeps) == 1
        assert emu.state.assets[asset.id].status == "ready"
        assert stored == jpeg.read_bytes()


# ================================================================ pre-flight
def _preflight_cases(tmp_path: Path, media_dir: Path) -> dict[str, tuple[Any, dict[str, Any],
                                                                           str]]:
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    gif = tmp_path / "really-a-gif.jpg"
    gif.write_bytes((media_dir / "tiny.gif").read_bytes())
    text = tmp_path / "notes.png"
    text.write_text("just some text, not an image\n")
    return {
        "missing": (tmp_path / "nope.jpg", {}, r"nope\.jpg: no such file"),
        "directory": (tmp_path, {}, r"is a directory"),
        "empty": (empty, {}, r"empty\.jpg: the file is empty"),
        "gif renamed .jpg": (gif, {}, r"really-a-gif\.jpg: image/gif is not accepted.*Convert"),
        "unknown bytes": (text, {}, r"notes\.png: the bytes are not a recognised format"),
        "content_type contradicts": (media_dir / "tiny.png", {"content_type": "image/jpeg"},
                                     r"tiny\.png: content_type 'image/jpeg' contradicts the "
                                     r"bytes, which are image/png; drop content_type"),
    }


@pytest.mark.parametrize("case", ["missing", "directory", "empty", "gif renamed .jpg",
                                  "unknown bytes", "content_type contradicts"])
@pytest.mark.parametrize("via", ["v1", "v3", "direct", "auto"])
def test_preflight_refuses_before_any_byte_is_sent(wired: Wired, tmp_path: Path, media_dir: Path,
                                                   case: str, via: str) -> None:
    source, kwargs, message = _preflight_cases(tmp_path, media_dir)[case]
    with pytest.raises(MediaError, match=message):
        wired.client.upload_asset(source, via=via, **kwargs)
    assert wired.api.received == [] and wired.upload.received == []
    assert tracked(wired.emu) == (0, 0, 0)


def test_over_the_v3_limit_is_refused_with_the_fix(wired: Wired, big_file: Path) -> None:
    with pytest.raises(MediaError, match=r"big\.jpg: \d+ bytes is over the 33554432 byte limit"
                                         r".*via='direct'"):
        wired.client.upload_asset(big_file, via="v3")
    assert wired.api.received == [] and wired.upload.received == []
    assert tracked(wired.emu) == (0, 0, 0)


def test_unknown_via_is_a_configuration_error(wired: Wired, jpeg: Path) -> None:
    with pytest.raises(ConfigurationError, match="via must be one of"):
        wired.client.upload_asset(jpeg, via="v2")
    assert wired.api.received == [] and wired.upload.received == []


@pytest.mark.parametrize("method, name, kind", [
    ("upload_image", "tiny.mp3", "audio"), ("upload_image", "tiny.mp4", "video"),
    ("upload_audio", "tiny.jpg", "image"), ("upload_audio", "tiny.webm", "video"),
    ("upload_video", "tiny.png", "image"), ("upload_video", "tiny.wav", "audio"),
])
def test_kind_specific_uploads_refuse_the_wrong_kind(wired: Wired, media_dir: Path, method: str,
                                                     name: str, kind: str) -> None:
    with pytest.raises(MediaError, match=rf"{re.escape(name)}: expected .*use upload_{kind}\(\)"):
        getattr(wired.client, method)(media_dir / name)
    assert wired.api.received == [] and wired.upload.received == []


@pytest.mark.parametrize("method, name", [("upload_image", "tiny.jpg"),
                                          ("upload_audio", "tiny.mp3"),
                                          ("upload_video", "tiny.webm")])
def test_kind_specific_uploads_accept_their_kind(emulator: Emulator, media_dir: Path, method: str,
                                                 name: str) -> None:
    with emulator.client() as client:
        asset = getattr(client, method)(media_dir / name, via="v1")
    assert asset.via == "v1"
    assert fetch(asset.url) == (media_dir / name).read_bytes()


# ================================================================ sources and progress
@pytest.mark.parametrize("via", ["v1", "v3", "direct"])
def test_progress_is_monotonic_up_to_the_total(emulator: Emulator, tmp_path: Path,
                                               via: str) -> None:
    path = sized_jpeg(tmp_path / "progress.jpg", 300_000)
    seen: list[tuple[int, int]] = []
    with emulator.client() as client:
        asset = client.upload_asset(path, via=via, on_progress=lambda d, t: seen.append((d, t)))
    assert len(seen) > 1
    totals = {t for _, t in seen}
    assert len(totals) == 1
    (total,) = totals
    assert total >= path.stat().st_size
    if via != "v3":  # multipart adds its framing to the total
        assert total == path.stat().st_size
    done = [d for d, _ in seen]
    assert done == sorted(done) and all(0 <= d <= total for d in done)
    assert done[-1] == total
    assert fetch(asset.url) == path.read_bytes()


class _Pipe(io.RawIOBase):
    """A readable, non-seekable stream (like a pipe or a socket)."""

    def __init__(self, data: bytes) -> None:
        self._inner = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        chunk = self._inner.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)


@pytest.mark.parametrize("via", ["v1", "v3", "direct"])
@pytest.mark.parametrize("source", ["bytes", "bytearray", "file object", "pipe"])
def test_upload_from_bytes_and_file_objects(emulator: Emulator, jpeg: Path, via: str,
                                            source: str) -> None:
    data = jpeg.read_bytes()
    with emulator.client() as client:
        if source == "file object":
            with jpeg.open("rb") as fh:
                asset = client.upload_asset(fh, via=via)
                assert not fh.closed, "the caller's file stays the caller's to close"
        elif source == "pipe":
            asset = client.upload_asset(io.BufferedReader(_Pipe(data)), via=via, name="piped.jpg")
        else:
            raw = data if source == "bytes" else bytearray(data)
            asset = client.upload_asset(raw, via=via)
    assert asset.size == len(data) and asset.mime_type == "image/jpeg"
    assert fetch(asset.url) == data


def test_bytes_are_named_for_v3(wired: Wired, jpeg: Path) -> None:
    wired.client.upload_asset(jpeg.read_bytes(), via="v3", name="from-memory.jpg")
    (req,) = wired.api.received
    (part,) = MultipartDecoder(req.body, req.headers["content-type"]).parts
    assert b'filename="from-memory.jpg"' in part.headers[b"Content-Disposition"]
    assert part.content == jpeg.read_bytes()


# ================================================================ the rest of the surface
def test_videos_v2_and_v3_and_their_status(emulator: Emulator) -> None:
    with emulator.client(sleep=emulator.clock.advance) as client:
        v2 = client.legacy_generate_video(VIDEO)
        v3 = make_video(client, "v3")
        assert v2 != v3 and {v2, v3} <= set(emulator.state.videos)
        first = client.legacy_video_status(v2)
        assert (first.video_id, first.status, first.done) == (v2, "pending", False)
        assert client.get_video(v3).status == "pending"
        emulator.clock.advance(10)
        assert client.legacy_video_status(v2).status == "processing"
        done = client.wait_for_video(v3, interval=7)
        assert done.status == "completed" and done.done
        assert fetch(done.video_url)[4:8] == b"ftyp"
        legacy = client.wait_for_video(v2, via="v1")
        assert legacy.status == "completed" and legacy.video_url
        with pytest.raises(ConfigurationError):
            client.wait_for_video(v2, via="v2")


def test_wait_for_video_advances_the_injected_clock(emulator: Emulator) -> None:
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        emulator.clock.advance(seconds)

    with emulator.client(sleep=sleep) as client:
        video = client.legacy_generate_video(VIDEO)
        status = client.wait_for_video(video, via="v1", interval=10)
    assert status.status == "completed"
    assert waits == [10, 10, 10], "pending at 0 s, processing at 10 and 20 s, done at 30 s"


def test_a_failed_render_ends_the_wait_with_its_error(emulator: Emulator) -> None:
    failing = {"video_inputs": [{**SCENE, "voice": {**SCENE["voice"],
                                                    "input_text": "this will [fail]"}}]}
    with emulator.client(sleep=emulator.clock.advance) as client:
        video = client.legacy_generate_video(failing)
        status = client.wait_for_video(video, via="v1")
    assert status.status == "failed" and status.done
    assert status.error and status.error["code"] == 40119


def test_wait_for_video_gives_up_after_its_timeout(emulator: Emulator) -> None:
    with emulator.client(sleep=emulator.clock.advance) as client:
        video = client.legacy_generate_video(VIDEO)
        with pytest.raises(HeyGenError, match=r"still 'processing' after 5s"):
            client.wait_for_video(video, via="v1", timeout=5, interval=10)


def test_catalogue_and_account(emulator: Emulator) -> None:
    with emulator.client() as client:
        avatars = client.legacy_list_avatars()
        assert {a["avatar_id"] for a in avatars["avatars"]} >= {"emu_avatar_anna"}
        assert avatars["talking_photos"]
        voices = client.legacy_list_voices()
        assert "emu_voice_en_f" in {v["voice_id"] for v in voices}
        quota = client.legacy_remaining_quota()
        assert quota == emulator.plan.credits
        me = client.me()
        assert me["username"] == "emulator" and me["billing_type"] == "subscription"
        assert "subscription" in me
        client.legacy_generate_video(VIDEO)
        assert client.legacy_remaining_quota() == quota - emulator.plan.video_cost


def test_assets_list_paginates_get_and_delete(emulator: Emulator, media_dir: Path) -> None:
    names = ["tiny.jpg", "tiny.png", "tiny.mp3", "tiny.wav", "tiny.mp4"]
    with emulator.client() as client:
        ids = [client.upload_asset(media_dir / n, via="v3").id for n in names]
        page = client.list_assets(limit=2)
        assert [a["id"] for a in page.items] == ids[:2]
        assert page.has_more is True and page.next_token
        second = client.list_assets(limit=2, token=page.next_token)
        assert [a["id"] for a in second.items] == ids[2:4]
        assert [a["id"] for a in client.iter_assets(limit=2)] == ids
        got = client.get_asset(ids[1])
        assert (got["id"], got["name"], got["type"], got["owner"]) == (
            ids[1], "tiny.png", "image", "emulator")
        assert client.delete_asset(ids[1]) == {"id": ids[1]}
        with pytest.raises(NotFoundError):
            client.get_asset(ids[1])
        assert [a["id"] for a in client.iter_assets(limit=2)] == ids[:1] + ids[2:]
        legacy = client.legacy_list_assets()
        assert [a["id"] for a in legacy["assets"]] == ids[:1] + ids[2:]


def test_talking_photo_upload_and_use(emulator: Emulator, png: Path, media_dir: Path) -> None:
    with emulator.client(sleep=emulator.clock.advance) as client:
        photo = client.upload_talking_photo(png)
        photo_id = photo["talking_photo_id"]
        assert fetch(photo["talking_photo_url"]) == png.read_bytes()
        video = client.legacy_generate_video({"video_inputs": [
            {**SCENE, "character": {"type": "talking_photo", "talking_photo_id": photo_id}}]})
        assert client.wait_for_video(video, via="v1").status == "completed"
        before = tracked(emulator)
        with pytest.raises(MediaError, match=r"tiny\.mp3: audio/mpeg is not accepted"):
            client.upload_talking_photo(media_dir / "tiny.mp3")
        assert tracked(emulator) == before


def test_talking_photo_on_a_trial_plan_is_a_tier_problem(png: Path) -> None:
    with Emulator(plan="trial") as emu, emu.client() as client, \
            pytest.raises(PermissionDeniedError) as info:
        client.upload_talking_photo(png)
    assert info.value.code == 400599
    assert info.value.diagnosis is not None
    assert info.value.diagnosis.id == "tier-not-supported"


def test_unknown_avatar_is_not_found_with_its_diagnosis(emulator: Emulator) -> None:
    wrong = {"v2": {"video_inputs": [{**SCENE, "character": {"type": "avatar",
                                                             "avatar_id": "nobody"}}]},
             "v3": {**V3_VIDEO, "avatar_id": "nobody"}}
    with emulator.client() as client:
        for via in ("v2", "v3"):
            with pytest.raises(NotFoundError) as info:
                make_video(client, via, wrong[via])
            assert info.value.code == "avatar_not_found"
            assert info.value.diagnosis is not None
            assert info.value.diagnosis.id == "avatar-not-found"
    assert emulator.state.videos == {}


# ================================================================ errors
SECRET = "sk-test-" + "5f1c0ffee0ddba11ab1e5eed0fc0ffee"


@pytest.mark.parametrize("call, method, path, code", [
    (lambda c, f: c.upload_asset(f, via="v1"), "POST", "/v1/asset", "400112"),
    (lambda c, f: c.legacy_list_assets(), "GET", "/v1/asset/list", "400112"),
    (lambda c, f: c.legacy_remaining_quota(), "GET", "/v2/user/remaining_quota",
     "'internal_error'"),
    (lambda c, f: c.legacy_generate_video(VIDEO), "POST", "/v2/video/generate",
     "'internal_error'"),
    (lambda c, f: c.me(), "GET", "/v3/users/me", "'authentication_failed'"),
    (lambda c, f: c.upload_asset(f, via="v3"), "POST", "/v3/assets",
     "'authentication_failed'"),
    (lambda c, f: c.upload_asset(f, via="direct"), "POST", "/v3/assets/direct-uploads",
     "'authentication_failed'"),
], ids=["v1-upload", "v1-list", "v2-quota", "v2-generate", "v3-me", "v3-upload", "direct"])
def test_a_wrong_key_is_an_authentication_error(emulator: Emulator, jpeg: Path,
                                                call: Callable[[HeyGenClient, Path], Any],
                                                method: str, path: str, code: str) -> None:
    with HeyGenClient(SECRET, api_base=emulator.api_base,
                      upload_base=emulator.upload_base) as client:
        with pytest.raises(AuthenticationError) as info:
            call(client, jpeg)
        assert SECRET not in repr(client)
    err = info.value
    assert err.status == 401
    assert err.diagnosis is not None and err.diagnosis.id == "invalid-key"
    text = str(err)
    base = emulator.upload_base if path == "/v1/asset" else emulator.api_base
    assert f"{method} {base}{path} -> HTTP 401: code {code}" in text
    assert "Unauthorized" in text or "invalid or missing API key" in text
    assert re.search(r"\[request id emu-req-\d+\]", text)
    assert "Fix: Check HEYGEN_API_KEY" in text
    for shown in (text, repr(err), str(err.args)):
        assert SECRET not in shown
    assert tracked(emulator) == (0, 0, 0)


def test_trial_cap_is_a_rate_limit_that_retrying_will_not_fix() -> None:
    with Emulator(plan="trial") as emu:
        sleeps: list[float] = []
        with emu.client(retry_policy=NO_WAIT, sleep=sleeps.append) as client:
            for _ in range(emu.plan.daily_video_cap or 0):
                client.legacy_generate_video(VIDEO)
            assert client.legacy_remaining_quota() == 0
            for via in ("v2", "v3"):
                with pytest.raises(RateLimitError) as info:
                    make_video(client, via)
                err = info.value
                assert err.status == 429 and err.code == "trial_video_limit_exceeded"
                assert err.diagnosis is not None and err.diagnosis.id == "trial-cap"
                assert not err.diagnosis.retryable
                assert "Retrying now will not help" in str(err)
                assert "rolling 24-hour window" in str(err)
                assert sleeps == [], "the trial cap is final: no retry can outlast it"
            emu.clock.advance(86400)
            assert client.legacy_generate_video(VIDEO), "the cap resets the next day"


def test_payg_credit_runs_out(emulator: Emulator) -> None:
    with Emulator(plan="payg") as emu, emu.client() as client:
        for _ in range(emu.plan.credits):
            client.legacy_generate_video(VIDEO)
        assert client.me()["wallet"]["remaining_balance"] == 0
        for via in ("v2", "v3"):
            with pytest.raises(InsufficientCreditError) as info:
                make_video(client, via)
            assert info.value.status == 402 and info.value.code == "insufficient_credit"
            assert info.value.diagnosis is not None
            assert info.value.diagnosis.id == "insufficient-credit"


def test_legacy_upload_to_the_api_host_is_the_wrong_host(emulator: Emulator,
                                                         jpeg: Path) -> None:
    with HeyGenClient(DEMO_KEY, api_base=emulator.api_base,
                      upload_base=emulator.api_base) as client, \
            pytest.raises(NotFoundError) as info:
        client.upload_asset(jpeg, via="v1")
    err = info.value
    assert err.status == 404
    assert err.diagnosis is not None and err.diagnosis.id == "wrong-host"
    assert "https://upload.heygen.com" in str(err)
    assert emulator.state.assets == {}


def test_a_v1_error_on_http_200_is_still_an_error(jpeg: Path) -> None:
    overrides = {"v1.asset_data_missing": {"status": 200}}
    with Emulator(payload_overrides=overrides) as emu, emu.client() as client, \
            pytest.raises(BadRequestError) as info:
        client.upload_asset(jpeg, via="v1-multipart-file")
    assert info.value.status == 200 and info.value.code == 40001
    assert info.value.diagnosis is not None and info.value.diagnosis.id == "wrong-encoding"


def test_v3_errors_carry_their_code_and_message(emulator: Emulator) -> None:
    with emulator.client() as client, pytest.raises(NotFoundError) as info:
        client.get_video("no-such-video")
    err = info.value
    assert err.code == "video_not_found"
    assert err.diagnosis is not None and err.diagnosis.id == "video-not-found"
    assert "GET " + emulator.api_base + "/v3/videos/no-such-video -> HTTP 404" in str(err)


# ================================================================ retries
@pytest.mark.parametrize("retry_after, cap, expected", [(7, 30.0, 7.0), (120, 30.0, 30.0)])
def test_429_is_retried_for_a_post_honouring_retry_after(retry_after: int, cap: float,
                                                         expected: float) -> None:
    faults = f"rate_limit:route=/v2/video/generate,retry_after={retry_after},times=1"
    sleeps: list[float] = []
    policy = RetryPolicy(max_retries=2, base_delay=0, max_delay=cap)
    with Emulator(faults=faults) as emu, \
            emu.client(retry_policy=policy, sleep=sleeps.append) as client:
        video = client.legacy_generate_video(VIDEO)
        assert list(emu.state.videos) == [video]
    assert sleeps == [expected]


def test_429_gives_up_after_max_retries_with_retry_after(jpeg: Path) -> None:
    sleeps: list[float] = []
    policy = RetryPolicy(max_retries=2, base_delay=0, max_delay=30)
    with Emulator(faults="rate_limit:route=/v1/asset,retry_after=3") as emu, \
            emu.client(retry_policy=policy, sleep=sleeps.append) as client, \
            pytest.raises(RateLimitError) as info:
        client.upload_asset(jpeg, via="v1")
    assert sleeps == [3.0, 3.0]
    assert info.value.retry_after == 3.0
    assert "Retry-After 3s" in str(info.value)
    assert info.value.diagnosis is not None and info.value.diagnosis.id == "rate-limited"


def test_5xx_is_retried_for_a_get() -> None:
    sleeps: list[float] = []
    with Emulator(faults="error:status=503,route=/v3/users/me,times=2") as emu, \
            emu.client(retry_policy=NO_WAIT, sleep=sleeps.append) as client:
        assert client.me()["username"] == "emulator"
    assert sleeps == [0.0, 0.0]


def test_5xx_is_not_retried_for_a_post_without_idempotency_key() -> None:
    sleeps: list[float] = []
    with Emulator(faults="error:status=500,route=/v2/video/generate,times=1") as emu, \
            emu.client(retry_policy=NO_WAIT, sleep=sleeps.append) as client:
        with pytest.raises(ServerError) as info:
            client.legacy_generate_video(VIDEO)
        assert sleeps == []
        assert info.value.diagnosis is not None
        assert info.value.diagnosis.id == "server-error"
        assert "Idempotency-Key" in info.value.diagnosis.remedy
        assert emu.state.videos == {}
        assert client.legacy_generate_video(VIDEO), "the fault is spent; a deliberate retry works"


def test_5xx_on_v3_upload_is_retried_with_the_same_key_and_a_fresh_stream(tmp_path: Path) -> None:
    path = sized_jpeg(tmp_path / "retried.jpg", 100_000)
    with Emulator(faults="error:status=502,route=/v3/assets,times=2") as emu:
        api = Recorder(emu.api_base)
        sleeps: list[float] = []
        progress: list[tuple[int, int]] = []
        try:
            with HeyGenClient(DEMO_KEY, api_base=api.base, upload_base=emu.upload_base,
                              retry_policy=NO_WAIT, sleep=sleeps.append) as client:
                asset = client.upload_asset(path, via="v3",
                                            on_progress=lambda d, t: progress.append((d, t)))
            attempts = api.only("POST", "/v3/assets")
        finally:
            api.close()
        assert len(attempts) == 3 and sleeps == [0.0, 0.0]
        assert len({a.headers["idempotency-key"] for a in attempts}) == 1
        for attempt in attempts:
            (part,) = MultipartDecoder(attempt.body, attempt.headers["content-type"]).parts
            assert part.content == path.read_bytes(), "every attempt sends the whole file"
        assert emu.state.assets[asset.id].sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
        assert fetch(asset.url) == path.read_bytes()
        total = progress[-1][1]
        assert [p for p in progress if p[0] == total] and progress[-1] == (total, total)


def test_a_dropped_connection_on_a_v1_upload_is_not_retried(jpeg: Path) -> None:
    sleeps: list[float] = []
    with Emulator(faults="drop:route=/v1/asset,times=1") as emu, \
            emu.client(retry_policy=NO_WAIT, sleep=sleeps.append) as client:
        with pytest.raises(ResponseLost) as info:
            client.upload_asset(jpeg, via="v1")
        assert not isinstance(info.value, ConnectError), "it connected: the URL is fine"
        assert sleeps == []
        assert info.value.method == "POST"
        assert info.value.url == emu.upload_base + "/v1/asset"
        assert "no response" in str(info.value)
        assert "asset may have been created" in str(info.value)
        assert "check the URL" not in str(info.value)
        assert emu.state.assets == {}
        assert client.upload_asset(jpeg, via="v1").id


def test_a_dropped_connection_on_a_get_is_retried() -> None:
    sleeps: list[float] = []
    with Emulator(faults="drop:route=/v2/voices,times=1") as emu, \
            emu.client(retry_policy=NO_WAIT, sleep=sleeps.append) as client:
        assert client.legacy_list_voices()
    assert sleeps == [0.0]


def test_connecting_to_a_closed_port_is_a_connect_error() -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    sleeps: list[float] = []
    base = f"http://127.0.0.1:{port}"
    with HeyGenClient(DEMO_KEY, api_base=base, upload_base=base, retry_policy=NO_WAIT,
                      sleep=sleeps.append) as client, pytest.raises(ConnectError) as info:
        client.me()
    assert sleeps == [0.0, 0.0], "a GET is retried before giving up"
    assert f"GET {base}/v3/users/me: no response" in str(info.value)


def test_a_timed_out_post_may_have_been_submitted() -> None:
    sleeps: list[float] = []
    with Emulator(faults="latency:route=/v2/video/generate,seconds=30,times=1") as emu, \
            emu.client(timeout=0.2, retry_policy=NO_WAIT, sleep=sleeps.append) as client:
        with pytest.raises(RequestTimeout) as info:
            client.legacy_generate_video(VIDEO)
        assert sleeps == []
        assert "may have been" in str(info.value)
        assert info.value.method == "POST"
        assert emu.state.videos == {}, "still waiting in the emulator's latency"
    # And it was: stopping the emulator ended the latency, and the server went on with the
    # request the client had stopped waiting for.
    assert len(emu.state.videos) == 1


def test_a_timed_out_get_is_retried_and_then_reported_plainly() -> None:
    sleeps: list[float] = []
    with Emulator(faults="latency:route=/v3/users/me,seconds=0.6,times=3") as emu, \
            emu.client(timeout=0.1, retry_policy=NO_WAIT, sleep=sleeps.append) as client:
        with pytest.raises(RequestTimeout) as info:
            client.me()
        assert sleeps == [0.0, 0.0]
        assert "may have been" not in str(info.value)
    assert info.value.method == "GET"


# ================================================================ hypothesis
MAGIC = {
    "image/png": b"\x89PNG\r\n\x1a\n",
    "image/jpeg": b"\xff\xd8\xff\xe0",
    "audio/mpeg": b"ID3\x04\x00",
    "audio/wav": b"RIFF\x24\x00\x00\x00WAVEfmt ",
    "video/mp4": b"\x00\x00\x00\x18ftypmp42",
    "video/webm": b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x84webm",
}


def test_arbitrary_content_with_a_valid_header_round_trips() -> None:
    with Emulator() as emu, emu.client() as client:

        @settings(max_examples=25, deadline=None,
                  suppress_health_check=[HealthCheck.too_slow])
        @given(mime=st.sampled_from(sorted(MAGIC)), tail=st.binary(max_size=4096),
               via=st.sampled_from(["v1", "v3"]))
        def round_trip(mime: str, tail: bytes, via: str) -> None:
            data = MAGIC[mime] + tail
            asset = client.upload_asset(data, via=via, name="random.bin")
            assert (asset.mime_type, asset.size) == (mime, len(data))
            stored = emu.state.assets[asset.id]
            assert stored.sha256 == hashlib.sha256(data).hexdigest()
            assert fetch(asset.url) == data

        round_trip()


def test_env_settings_reach_the_emulator(emulator: Emulator, jpeg: Path) -> None:
    env = {"HEYGEN_API_KEY": DEMO_KEY, "HEYGEN_API_BASE": emulator.api_base,
           "HEYGEN_UPLOAD_BASE": emulator.upload_base}
    with HeyGenClient(env=env) as client:
        assert client.upload_asset(jpeg, via="v1").id
        assert client.me()["username"] == "emulator"
    with HeyGenClient(env={**env, "HEYGEN_API_KEY": ""}) as keyless, \
            pytest.raises(ConfigurationError, match="no API key"):
        keyless.me()

