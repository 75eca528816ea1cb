"""Issue 11: what an upload reads, hashes and writes (behaviour, not timing).

- ``load_media`` reads the head only; the sha256 is learnt while the direct PUT streams (and
  sent at complete), never for v1 and never for v3 of a file given by path.
- A file body goes to the socket in 1 MiB writes (eighths of a small body, from 64 KiB).
- An Idempotency-Key given again is checked against the bytes it was first sent with.
"""

from __future__ import annotations

import hashlib
import http.client
import io
import json
import os
import threading
from pathlib import Path
from typing import Any

import pytest

from heygen_lab import media as media_module
from heygen_lab import uploads
from heygen_lab.emulator import Emulator
from heygen_lab.errors import ConfigurationError, MediaError
from heygen_lab.media import load_media

MIB = 1 << 20
MP4_HEAD = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"


def _mp4(path: Path, size: int) -> Path:
    block = hashlib.sha256(b"x").digest() * (MIB // 32)
    with path.open("wb") as fh:
        fh.write(MP4_HEAD + block[len(MP4_HEAD):])
        left = size - MIB
        while left > 0:
            fh.write(block[:left])
            left -= MIB
    return path


class _Counted:
    """A file object that counts the bytes read from it."""

    def __init__(self, inner: Any, reads: list[int]) -> None:
        self._inner, self._reads = inner, reads

    def read(self, size: int = -1) -> bytes:
        data: bytes = self._inner.read(size)
        self._reads.append(len(data))
        return data

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def __enter__(self) -> _Counted:
        return self

    def __exit__(self, *exc: object) -> None:
        self._inner.close()


def test_load_media_reads_the_head_not_the_file(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    path = _mp4(tmp_path / "big.mp4", 8 * MIB)
    reads: list[int] = []
    real = media_module._open_regular
    monkeypatch.setattr(media_module, "_open_regular", lambda p: _Counted(real(p), reads))
    media = load_media(path)
    assert media.size == 8 * MIB and media.mime_type == "video/mp4"
    assert sum(reads) == media_module.HEAD_BYTES, "the head only"
    assert media.known_sha256 is None, "not hashed up front"
    assert media.sha256 == hashlib.sha256(path.read_bytes()).hexdigest(), "on demand"
    assert sum(reads) == media_module.HEAD_BYTES + 8 * MIB, "then one read of the file"


def _sends(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    sizes: list[int] = []
    real = http.client.HTTPConnection.send

    def send(self: http.client.HTTPConnection, data: Any) -> None:
        sizes.append(len(data))
        real(self, data)

    monkeypatch.setattr(http.client.HTTPConnection, "send", send)
    return sizes


@pytest.mark.parametrize("via", ["v1", "direct"])
def test_a_large_body_is_written_in_1_mib_blocks(tmp_path: Path, via: str,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    path = _mp4(tmp_path / "big.mp4", 16 * MIB + 5)
    with Emulator() as emu, emu.client() as client:
        sizes = _sends(monkeypatch)
        asset = client.upload_asset(path, via=via)
        held = {a.asset_id: a for a in emu.assets()}[asset.id]
    body = [n for n in sizes if n >= 64 << 10]
    assert body == [MIB] * 16, "16 writes of 1 MiB, then the 5 bytes left"
    assert 5 in sizes
    assert held.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_small_body_goes_in_eighths_so_progress_moves() -> None:
    assert uploads.block_size(300_000) == 64 << 10
    assert uploads.block_size(4 * MIB) == MIB // 2
    assert uploads.block_size(8 * MIB) == MIB == uploads.block_size(5 << 30)


def test_v3_multipart_is_written_in_blocks(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    path = _mp4(tmp_path / "v3.mp4", 12 * MIB)
    with Emulator() as emu, emu.client() as client:
        sizes = _sends(monkeypatch)
        client.upload_asset(path, via="v3")
    assert sizes.count(MIB) == 12, "the multipart encoder is read 1 MiB at a time"


def test_direct_hashes_beside_the_put_and_sends_the_sha_at_complete(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _mp4(tmp_path / "d.mp4", 3 * MIB)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    media = load_media(path)
    opens: list[tuple[bool, str]] = []
    real_open = type(media).open

    def spy(self: Any, *, hashed: bool = False) -> Any:
        opens.append((hashed, threading.current_thread().name))
        return real_open(self, hashed=hashed)

    monkeypatch.setattr(type(media), "open", spy)
    with Emulator() as emu, emu.client() as client:
        client.upload_asset(media, via="direct")
        assert sorted(opens) == [(False, "MainThread"), (False, "heygen-lab-sha256")], \
            "a file by path: the PUT sends, a read of its own on a helper thread hashes"
        client.upload_asset(load_media(path), via="v1")
        client.upload_asset(load_media(path), via="v3")
        client.upload_asset(path.read_bytes(), via="direct")
    assert opens[2:] == [(False, "MainThread"), (False, "MainThread"), (True, "MainThread")], \
        "v1 and v3 never hash; bytes (one stream only) are hashed as the PUT sends them"
    assert media.known_sha256 == digest


def test_a_file_that_changes_while_it_is_hashed_fails_complete_not_silently(
        tmp_path: Path) -> None:
    path = _mp4(tmp_path / "d.mp4", 2 * MIB)
    media = load_media(path)
    with path.open("ab") as fh:
        fh.write(b"late")
    media.hash_ahead()
    with pytest.raises(MediaError, match=r"changed|grew|modified"):
        media.sha256  # noqa: B018 - the helper thread's failure is handed to whoever asks
    assert media.known_sha256 is None


def test_direct_init_declares_no_checksum_but_complete_does(tmp_path: Path) -> None:
    path = _mp4(tmp_path / "d.mp4", 2 * MIB)
    bodies: dict[str, Any] = {}
    with Emulator() as emu, emu.client() as client:
        real = client.call

        def call(route_id: str, **kwargs: Any) -> Any:
            payload = kwargs.get("payload")
            if route_id in {"direct-init", "direct-complete"} and payload is not None:
                with payload.open(None) as body:
                    bodies[route_id] = json.loads(body)
            return real(route_id, **kwargs)

        client.call = call  # type: ignore[method-assign]
        client.upload_asset(path, via="direct")
    assert "checksum_sha256" not in bodies["direct-init"]
    assert bodies["direct-complete"] == {
        "checksum_sha256": hashlib.sha256(path.read_bytes()).hexdigest()}


def test_a_key_given_again_for_the_same_bytes_from_another_source_is_accepted(
        jpeg: Path, png: Path) -> None:
    data = jpeg.read_bytes()
    with Emulator() as emu, emu.client() as client:
        first = client.upload_asset(jpeg, via="v3", idempotency_key="k-1")
        again = client.upload_asset(data, via="v3", idempotency_key="k-1")  # bytes: hashed
        assert again.id == first.id
        assert client.upload_asset(io.BytesIO(data), via="v3", idempotency_key="k-1").id
        with pytest.raises(ConfigurationError, match="other bytes"):
            client.upload_asset(png.read_bytes(), via="v3", idempotency_key="k-1")
        with pytest.raises(ConfigurationError, match="other bytes"):
            client.upload_asset(data[:-1] + b"\0", via="v3", idempotency_key="k-1")
        assert len(emu.assets()) == 1


def test_a_key_for_a_file_that_changed_since_is_refused(tmp_path: Path, jpeg: Path) -> None:
    path = tmp_path / "x.jpg"
    path.write_bytes(jpeg.read_bytes())
    with Emulator() as emu, emu.client() as client:
        client.upload_asset(path, via="v3", idempotency_key="k-2")
        data = bytearray(path.read_bytes())
        data[-3] ^= 0xFF
        path.write_bytes(bytes(data))
        os.utime(path, ns=(1, 1))  # a new mtime even within the clock's tick
        with pytest.raises(ConfigurationError, match="other bytes"):
            client.upload_asset(path, via="v3", idempotency_key="k-2")
        assert len(emu.assets()) == 1
