"""Stable recordings: re-recording an unchanged answer rewrites nothing, a changed answer is a
small diff, and a large upload's cassette holds its fingerprint only."""

from __future__ import annotations

import difflib
import shutil
from pathlib import Path

import pytest
import yaml

from heygen_lab.cassettes.recorder import PINNED_BOUNDARY, normalize_interactions
from heygen_lab.contracts import run_check

ROOT = Path(__file__).resolve().parent.parent
# Representative cases: multipart bodies (random boundary), several steps with ids and times
# (videos, webhooks, direct upload), a v1 envelope, and the one whose payload is changed below.
CASES = ["upload-v1/multipart-type-asset", "upload-v3/ok-jpeg", "direct-upload/happy-path",
         "videos-v3/lifecycle", "account-v3/webhook-lifecycle", "upload-v1/multipart-file"]


@pytest.fixture(autouse=True)
def no_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HEYGEN_API_KEY", raising=False)


def record(directory: Path, **options: object) -> dict[str, bytes]:
    report = run_check(record="emulator", cassette_dir=directory, only=CASES,
                       emulator_options=dict(options) or None)
    assert not report.counts.get("error"), report.summary
    return {str(p.relative_to(directory)): p.read_bytes()
            for p in sorted(directory.rglob("*.yaml"))}


def test_recording_twice_writes_the_same_bytes(tmp_path: Path) -> None:
    first = record(tmp_path / "a")
    assert len(first) == len(CASES)
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    assert record(tmp_path / "b") == first
    # Also from scratch (no earlier file whose provenance could be kept): only the
    # provenance's timestamp may differ.
    fresh = record(tmp_path / "c")
    for name, data in fresh.items():
        changed = [line for line in difflib.unified_diff(
            first[name].decode().splitlines(), data.decode().splitlines(), lineterm="", n=0)
            if line[:1] in "+-" and not line.startswith(("+++", "---"))]
        assert all("recorded_at:" in line for line in changed), (name, changed)


def test_a_changed_answer_is_a_small_diff_in_its_cassette_only(tmp_path: Path) -> None:
    before = record(tmp_path)
    after = record(tmp_path, payload_overrides={
        "v1.asset_data_missing": {"message": "asset data is required"}})
    changed = {name for name in before if before[name] != after[name]}
    # Both v1 multipart probes get that payload; nothing else moved.
    assert changed == {"upload-v1/multipart-type-asset.yaml", "upload-v1/multipart-file.yaml"}
    for name in changed:
        diff = [line for line in difflib.unified_diff(
            before[name].decode().splitlines(), after[name].decode().splitlines(),
            lineterm="", n=0) if line[:1] in "+-" and not line.startswith(("+++", "---"))]
        # The message, the body's Content-Length, and (unless within the same second) when it
        # was recorded: one line each way.
        others = [line for line in diff if "recorded_at:" not in line]
        assert others == ["-      - '57'", "+      - '52'",
                          "-      string: '{\"code\": 40001, \"message\": \"asset data must be "
                          "provided\"}'",
                          "+      string: '{\"code\": 40001, \"message\": \"asset data is "
                          "required\"}'"], diff
        assert len(diff) - len(others) in (0, 2)


def test_shipped_cassettes_are_normalized() -> None:
    """The cassettes in the repository were written by the normalizing recorder: reading one
    and normalizing it again changes nothing."""
    for path in sorted((ROOT / "cassettes").rglob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert normalize_interactions(data["interactions"]) == data["interactions"], path


def test_normalization_sorts_pins_and_drops() -> None:
    raw = [{"request": {"uri": "https://api.heygen.com/v3/assets", "method": "POST",
                        "body": "x", "headers": {
                            "User-Agent": ["a"],
                            "Content-Type": ["multipart/form-data; boundary=abc123"]}},
            "response": {"body": {"string": "{}"}, "headers": {
                "X-Request-Id": ["5f0c-random"], "Date": ["Tue, 24 Nov 2026 06:00:00 GMT"],
                "Server": ["Werkzeug/3.1 Python/3.11"], "Content-Type": ["application/json"],
                "CF-Ray": ["8c1f"]}, "status": {"code": 200, "message": "OK"}}},
           {"request": {"method": "GET", "uri": "u", "body": None, "headers": {}},
            "response": {"status": {"code": 200, "message": "OK"}, "headers": {
                "X-Request-Id": ["emu-req-000002"]}, "body": {"string": ""}}}]
    first, second = normalize_interactions(raw)
    assert list(first["request"]) == ["method", "uri", "body", "headers"]
    assert list(first["response"]) == ["status", "headers", "body"]
    assert first["request"]["headers"] == {
        "Content-Type": [f"multipart/form-data; boundary={PINNED_BOUNDARY}"],
        "User-Agent": ["a"]}
    assert list(first["request"]["headers"]) == ["Content-Type", "User-Agent"]
    assert first["response"]["headers"] == {"Content-Type": ["application/json"],
                                            "X-Request-Id": ["req-000001"]}
    assert second["response"]["headers"] == {"X-Request-Id": ["emu-req-000002"]}
    assert normalize_interactions([first, second]) == [first, second]
