"""The indexed replay: same answers as vcrpy's scan, one fingerprint per request, lazy hashes."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import vcr
import yaml
from vcr.errors import CannotOverwriteExistingCassetteException
from vcr.request import Request

from heygen_lab.cassettes import MATCHER_NAME, body_matcher, make_vcr
from heygen_lab.cassettes import fingerprints as fps
from heygen_lab.cassettes.replay import IndexedCassette, IndexedVCR, index_key_functions
from heygen_lab.emulator import DEMO_KEY, Emulator
from heygen_lab.emulator.state import Spool

API = "https://api.heygen.com"


def _cassette(path: Path, bodies: list[dict[str, Any]]) -> None:
    """POSTs of JSON bodies (two share one body) and a GET, each answered with its position."""
    interactions = []
    for i, body in enumerate(bodies):
        fp = fps.encode_fingerprint(fps.fingerprint("application/json", json.dumps(body)))
        interactions.append({
            "request": {"method": "POST", "uri": f"{API}/v3/videos", "body": fp,
                        "headers": {"Content-Type": ["application/json"]}},
            "response": {"status": {"code": 200, "message": "OK"}, "headers": {},
                         "body": {"string": json.dumps({"n": i})}}})
    interactions.append({
        "request": {"method": "GET", "uri": f"{API}/v3/videos?b=2&a=1", "body": None,
                    "headers": {}},
        "response": {"status": {"code": 200, "message": "OK"}, "headers": {},
                     "body": {"string": json.dumps({"n": "get"})}}})
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump({"version": 1, "interactions": interactions}))


BODIES = [{"t": "a"}, {"t": "b"}, {"t": "a"}, {"t": "c", "x": [1, {"y": 2}]}]


def _replay(recorder: vcr.VCR) -> list[Any]:
    with recorder.use_cassette("c/case"), requests.Session() as s:
        got = [s.post(f"{API}/v3/videos", json=b).json()["n"]
               for b in [BODIES[3], BODIES[0], BODIES[0], BODIES[1]]]
        got.append(s.get(f"{API}/v3/videos", params={"a": "1", "b": "2"}).json()["n"])
    return got


def test_indexed_replay_answers_like_plain_vcrpy(tmp_path: Path) -> None:
    _cassette(tmp_path / "c/case.yaml", BODIES)
    recorder = make_vcr(tmp_path)
    assert isinstance(recorder, IndexedVCR)
    plain = vcr.VCR(cassette_library_dir=str(tmp_path), record_mode="none",
                    path_transformer=vcr.VCR.ensure_suffix(".yaml"),
                    match_on=["method", "scheme", "host", "port", "path", "query", MATCHER_NAME],
                    before_record_request=fps.fingerprint_request)
    plain.register_matcher(MATCHER_NAME, body_matcher)
    # the same body twice is played in recorded order, the first unplayed one each time
    assert _replay(recorder) == _replay(plain) == [3, 0, 2, 1, "get"]


def test_a_request_is_matched_only_against_its_bucket(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    _cassette(tmp_path / "c/case.yaml", BODIES * 50)
    calls: list[int] = []
    original = fps.fingerprint

    def counting(content_type: str | None, body: bytes | str | None) -> dict[str, Any]:
        if body:  # (an empty body, the stored GET's, costs nothing)
            calls.append(1)
        return original(content_type, body)

    monkeypatch.setattr(fps, "fingerprint", counting)
    with make_vcr(tmp_path).use_cassette("c/case") as cassette, requests.Session() as s:
        assert isinstance(cassette, IndexedCassette)
        s.post(f"{API}/v3/videos", json=BODIES[3])
    assert len(calls) == 1  # the new request's body, once; stored ones are parsed, not hashed


def test_unknown_matchers_are_still_run_on_the_candidates(tmp_path: Path) -> None:
    _cassette(tmp_path / "c/case.yaml", BODIES)
    recorder = make_vcr(tmp_path)
    recorder.register_matcher("never", lambda r1, r2: False)
    with pytest.raises(CannotOverwriteExistingCassetteException), \
            recorder.use_cassette("c/case", match_on=["method", "never"]), \
            requests.Session() as s:
        s.post(f"{API}/v3/videos", json=BODIES[0])
    assert index_key_functions(()) == ()


def test_request_fingerprint_is_cached_until_the_body_changes() -> None:
    request = Request("POST", API, b'{"a": 1}', {"Content-Type": "application/json"})
    first = fps.request_fingerprint(request)
    assert fps.request_fingerprint(request) is first
    request.body = b'{"a": 2}'
    assert fps.request_fingerprint(request)["json"] == {"a": 2}


def test_a_large_multipart_part_is_fingerprinted_in_place() -> None:
    content = b"\x00" * (4 << 20)
    body = (b"--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x.mp4\"\r\n"
            b"Content-Type: video/mp4\r\n\r\n" + content + b"\r\n--B--\r\n")
    fp = fps.fingerprint("multipart/form-data; boundary=B", body)
    assert fp["parts"] == [{"name": "file", "filename": "x.mp4", "content_type": "video/mp4",
                            "size": len(content),
                            "sha256": hashlib.sha256(content).hexdigest()}]


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator() as e:
        yield e


def test_uploaded_asset_is_hashed_only_when_asked(emu: Emulator) -> None:
    data = b"\x89PNG\r\n\x1a\n" + b"\x00" * 5000
    r = requests.post(f"{emu.upload_base}/v1/asset", data=data,
                      headers={"X-Api-Key": DEMO_KEY, "Content-Type": "image/png"})
    assert r.status_code == 200, r.text
    [asset] = emu.state.assets.values()
    assert asset.__dict__.get("_sha256") is None  # nothing hashed on the way in
    assert asset.sha256 == hashlib.sha256(data).hexdigest()
    assert asset.__dict__["_sha256"] == asset.sha256  # and kept


def test_spool_hashes_its_file_when_asked(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.write(b"abc")
    assert spool.sha256 == hashlib.sha256(b"abc").hexdigest()
    spool.discard()
