"""Pre-flight checks: every way a file can be wrong is refused before a byte is sent."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from heygen_lab.errors import MediaError
from heygen_lab.media import V3_TYPES, load_media, normalise_mime, sniff

EXPECTED = {
    "tiny.jpg": "image/jpeg", "tiny.png": "image/png", "tiny.mp3": "audio/mpeg",
    "tiny.wav": "audio/wav", "tiny.mp4": "video/mp4", "tiny.webm": "video/webm",
    "tiny.pdf": "application/pdf", "tiny.gif": "image/gif",
}


@pytest.mark.parametrize(("name", "mime"), sorted(EXPECTED.items()))
def test_sniff_real_files(media_dir: Path, name: str, mime: str) -> None:
    path = media_dir / name
    media = load_media(path)
    assert media.mime_type == mime
    assert media.size == path.stat().st_size
    assert media.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_path_bytes_and_stream_agree(jpeg: Path) -> None:
    data = jpeg.read_bytes()
    a, b, c = load_media(jpeg), load_media(data), load_media(io.BytesIO(data))
    assert a.sha256 == b.sha256 == c.sha256
    with c.open() as s1:
        assert s1.read() == data
    with c.open() as s2:  # re-opened for a retry: from the first byte again
        assert s2.read() == data


def test_stream_reopens_from_its_start_position(jpeg: Path) -> None:
    data = jpeg.read_bytes()
    stream = io.BytesIO(b"JUNK" + data)
    stream.seek(4)
    media = load_media(stream, name="x.jpg")
    for _ in range(2):
        with media.open() as s:
            assert s.read() == data
    assert not stream.closed, "the caller's stream stays open"


def test_unseekable_stream_is_spooled(jpeg: Path) -> None:
    data = jpeg.read_bytes()

    class Pipe(io.RawIOBase):
        def __init__(self) -> None:
            self._inner = io.BytesIO(data)

        def readable(self) -> bool:
            return True

        def seekable(self) -> bool:
            return False

        def readinto(self, b: memoryview) -> int:  # type: ignore[override]
            chunk = self._inner.read(len(b))
            b[: len(chunk)] = chunk
            return len(chunk)

    media = load_media(Pipe())  # type: ignore[arg-type]
    for _ in range(2):
        with media.open() as s:
            assert s.read() == data


@pytest.mark.parametrize(
    ("make", "fragment"),
    [
        (lambda d: d / "missing.jpg", "no such file"),
        (lambda d: d, "is a directory"),
        (lambda d: (d / "empty.jpg", (d / "empty.jpg").write_bytes(b""))[0], "empty"),
        (lambda d: (d / "photo.jpg", (d / "photo.jpg").write_bytes(b"hello, not a jpeg"))[0],
         "not a recognised format"),
    ],
)
def test_preflight_errors_name_file_and_fix(tmp_path: Path, make: object, fragment: str) -> None:
    path = make(tmp_path)  # type: ignore[operator]
    with pytest.raises(MediaError, match=fragment) as info:
        load_media(path)
    assert str(path.name) in str(info.value) or str(path) in str(info.value)


def test_content_type_contradicting_bytes(jpeg: Path) -> None:
    with pytest.raises(MediaError, match=r"contradicts the bytes, which are image/jpeg"):
        load_media(jpeg, content_type="image/png")
    assert load_media(jpeg, content_type="image/jpg").mime_type == "image/jpeg"


def test_text_mode_stream_refused(tmp_path: Path) -> None:
    p = tmp_path / "a.txt"
    p.write_text("x")
    with p.open("r") as fh, pytest.raises(MediaError, match="text mode"):
        load_media(fh)  # type: ignore[arg-type]


def test_unsupported_type_and_size_limits(media_dir: Path) -> None:
    gif = load_media(media_dir / "tiny.gif")
    with pytest.raises(MediaError, match=r"tiny.gif: image/gif is not accepted by v3"):
        gif.check(V3_TYPES, route="v3")
    jpg = load_media(media_dir / "tiny.jpg")
    with pytest.raises(MediaError, match="over the 10 byte limit of v3; use direct"):
        jpg.check(V3_TYPES, route="v3", max_bytes=10, hint="use direct")


def test_wrong_source_type() -> None:
    with pytest.raises(MediaError, match="cannot upload a int"):
        load_media(42)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("raw", "norm"),
    [("IMAGE/JPG; charset=x", "image/jpeg"), ("audio/mp3", "audio/mpeg"),
     ("audio/x-wav", "audio/wav")],
)
def test_normalise_mime(raw: str, norm: str) -> None:
    assert normalise_mime(raw) == norm


@given(st.binary(max_size=64))
def test_sniff_total(head: bytes) -> None:
    result = sniff(head)
    assert result is None or "/" in result


@given(st.binary(min_size=1, max_size=256))
def test_load_media_never_crashes(data: bytes) -> None:
    try:
        media = load_media(data)
    except MediaError as exc:
        assert "upload.bin" in str(exc)
    else:
        assert media.size == len(data) and media.mime_type == sniff(data[:64])


def _iso_head(brand: bytes) -> bytes:
    """The first bytes of an ISO media file whose major (and only compatible) brand is ``brand``."""
    return b"\x00\x00\x00\x18ftyp" + brand + b"\x00\x00\x00\x00" + brand


def test_the_client_names_every_brand_the_emulator_knows() -> None:
    """The emulator keeps its own brand table; the client's pre-flight names the same type for
    each brand, so a refused file is called what HeyGen (as emulated) would call it."""
    from heygen_lab.emulator.facts import _FTYP_BRANDS
    from heygen_lab.emulator.facts import sniff as emulator_sniff

    for brand in _FTYP_BRANDS:
        head = _iso_head(brand)
        assert sniff(head) == emulator_sniff(head), brand


@pytest.mark.parametrize(("brand", "mime"), [
    (b"mp42", "video/mp4"), (b"isom", "video/mp4"), (b"heic", "image/heic"),
    (b"mif1", "image/heic"), (b"avif", "image/avif"), (b"M4A ", "audio/mp4"),
    (b"qt  ", "video/quicktime"), (b"3gp4", "video/3gpp"), (b"3g2a", "video/3gpp2"),
    (b"zzzz", "application/octet-stream"),
])
def test_iso_media_is_told_apart_by_its_brand(tmp_path: Path, brand: bytes, mime: str) -> None:
    from heygen_lab.emulator.facts import sniff as emulator_sniff

    head = _iso_head(brand)
    assert sniff(head) == mime
    assert emulator_sniff(head) == mime  # the emulator keeps its own copy: both must agree
    if mime != "video/mp4":
        path = tmp_path / "photo.mp4"
        path.write_bytes(head + b"\x00" * 64)
        with pytest.raises(MediaError, match=mime.replace("/", "/")):
            load_media(path).check(["video/mp4"], route="v3")
