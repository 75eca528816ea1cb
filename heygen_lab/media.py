"""A file to upload: a path, bytes, or a binary file object, checked before any byte is sent.

``load_media()`` reads the file once (streaming) to learn its size, its sha256 and its first
bytes; the MIME type is sniffed from those bytes, never trusted from the extension.
``Media.open()`` gives a fresh stream for every attempt, so a retried upload re-sends the whole
file, and the file never sits in memory as a whole.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import tempfile
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, cast

from heygen_lab.errors import MediaError

HEAD_BYTES = 64
_CHUNK = 1 << 20

# MIME types HeyGen accepts, per upload route (docs/heygen-api.md), in the documentation's
# order; the client's pre-flight and the emulator both read them from here. audio/wav on v1 is
# [once].
V1_TYPES = ("image/png", "image/jpeg", "audio/mpeg", "video/mp4", "video/webm", "audio/wav")
TALKING_PHOTO_TYPES = ("image/jpeg", "image/png")
V3_TYPES = ("image/png", "image/jpeg", "video/mp4", "video/webm", "audio/mpeg", "audio/wav",
            "application/pdf")
V3_MAX_BYTES = 32 * 1024 * 1024
# HeyGen documents "32 MB". Switching to the direct upload at 32,000,000 bytes works whichever
# unit is meant; the pre-flight refusal uses the larger reading so it never refuses a valid file.
AUTO_DIRECT_ABOVE = 32_000_000

_ALIASES = {
    "image/jpg": "image/jpeg",
    "image/pjpeg": "image/jpeg",
    "audio/mp3": "audio/mpeg",
    "audio/x-wav": "audio/wav",
    "audio/wave": "audio/wav",
    "audio/vnd.wave": "audio/wav",
}


def normalise_mime(value: str) -> str:
    """Lower-case a MIME type, drop its parameters and map common aliases (image/jpg...)."""
    base = value.split(";", 1)[0].strip().lower()
    return _ALIASES.get(base, base)


def sniff(head: bytes) -> str | None:
    """The MIME type the leading bytes prove, or None when they match no known format."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "audio/wav"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "video/webm" if b"webm" in head else "video/x-matroska"
    if head[4:8] == b"ftyp":
        return "video/quicktime" if head[8:10] == b"qt" else "video/mp4"
    if head.startswith(b"ID3") or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0
                                   and head[1] & 0x06 != 0):
        return "audio/mpeg"
    return None


def file_type(mime: str, other: str = "document") -> str:
    """HeyGen's coarse kind of a MIME type: image, video, audio, or ``other``."""
    major = mime.split("/", 1)[0]
    return major if major in {"image", "video", "audio"} else other


@dataclass(frozen=True)
class Media:
    """A checked file: name, size, sniffed MIME type, sha256 and a way to re-open it."""

    name: str
    size: int
    mime_type: str
    sha256: str
    head: bytes = field(repr=False)
    path: Path | None = None
    _opener: Callable[[], BinaryIO] = field(repr=False, compare=False, default=io.BytesIO)

    @contextmanager
    def open(self) -> Iterator[BinaryIO]:
        """A fresh stream positioned at the first byte; closed on exit."""
        stream = self._opener()
        try:
            yield stream
        finally:
            stream.close()

    @property
    def file_type(self) -> str:
        return file_type(self.mime_type)

    def check(self, allowed: Collection[str], *, route: str, max_bytes: int | None = None,
              hint: str = "") -> None:
        """Refuse a type or size that ``route`` does not accept, naming the file and the fix."""
        if self.mime_type not in allowed:
            raise MediaError(
                f"{self.name}: {self.mime_type} is not accepted by {route}; "
                f"accepted: {', '.join(sorted(allowed))}. Convert the file to one of those types"
            )
        if max_bytes is not None and self.size > max_bytes:
            raise MediaError(
                f"{self.name}: {self.size} bytes is over the {max_bytes} byte limit of {route}"
                + (f"; {hint}" if hint else "")
            )


Source = str | os.PathLike[str] | bytes | bytearray | memoryview | BinaryIO


def load_media(
    source: Source, *, content_type: str | None = None, name: str | None = None
) -> Media:
    """Check a file and learn what it is; raises MediaError before anything is sent."""
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
        return _describe(name or "upload.bin", _digest_stream(io.BytesIO(data)),
                         lambda: io.BytesIO(data), content_type, None)
    if isinstance(source, str | os.PathLike):
        return _from_path(Path(source), content_type, name)
    if hasattr(source, "read"):
        return _from_stream(source, content_type, name)
    raise MediaError(
        f"cannot upload a {type(source).__name__}; pass a path, bytes, or a binary file object"
    )


def _from_path(path: Path, content_type: str | None, name: str | None) -> Media:
    if not path.exists():
        raise MediaError(f"{path}: no such file; check the path")
    if path.is_dir():
        raise MediaError(f"{path}: is a directory; pass a file inside it")
    try:
        with path.open("rb") as fh:
            digest = _digest_stream(fh)
    except OSError as exc:
        raise MediaError(
            f"{path}: cannot be read ({exc.strerror}); check its permissions"
        ) from None
    return _describe(name or path.name, digest, lambda: path.open("rb"),
                     content_type, path)


def _from_stream(stream: BinaryIO, content_type: str | None, name: str | None) -> Media:
    label = name or os.path.basename(str(getattr(stream, "name", "") or "")) or "upload.bin"
    probe = stream.read(0)
    if isinstance(probe, str):
        raise MediaError(f"{label}: the file object is opened in text mode; open it with 'rb'")
    if stream.seekable():
        start = stream.tell()
        digest = _digest_stream(stream)

        def reopen() -> BinaryIO:
            stream.seek(start)
            return cast(BinaryIO, _Borrowed(stream))

        return _describe(label, digest, reopen, content_type, None)
    # A pipe or socket can be read once: spool it to a temporary file so retries can re-read it.
    spool = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the Media
    shutil.copyfileobj(stream, spool, _CHUNK)
    spool.seek(0)
    digest = _digest_stream(spool)

    def reopen_spool() -> BinaryIO:
        spool.seek(0)
        return cast(BinaryIO, _Borrowed(spool))

    return _describe(label, digest, reopen_spool, content_type, None)


class _Borrowed(io.RawIOBase):
    """A view of a caller's stream whose close() leaves the caller's stream open."""

    def __init__(self, inner: BinaryIO) -> None:
        self._inner = inner

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self._inner.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def read(self, size: int = -1) -> bytes:
        return self._inner.read(size)

    def seekable(self) -> bool:
        return self._inner.seekable()

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._inner.seek(offset, whence)

    def tell(self) -> int:
        return self._inner.tell()


def _digest_stream(stream: BinaryIO) -> tuple[str, bytes, int]:
    sha = hashlib.sha256()
    head = b""
    size = 0
    while chunk := stream.read(_CHUNK):
        if len(head) < HEAD_BYTES:
            head += chunk[: HEAD_BYTES - len(head)]
        sha.update(chunk)
        size += len(chunk)
    return sha.hexdigest(), head, size


def _describe(name: str, digest: tuple[str, bytes, int],
              opener: Callable[[], BinaryIO], content_type: str | None, path: Path | None) -> Media:
    sha, head, size = digest
    if size == 0:
        raise MediaError(f"{name}: the file is empty; HeyGen needs the file's bytes")
    sniffed = sniff(head)
    if sniffed is None:
        raise MediaError(
            f"{name}: the bytes are not a recognised format (PNG, JPEG, MP4, WebM, MP3, WAV, PDF); "
            "the type is read from the content, not the extension"
        )
    if content_type is not None and normalise_mime(content_type) != sniffed:
        raise MediaError(
            f"{name}: content_type {content_type!r} contradicts the bytes, which are {sniffed}; "
            f"drop content_type or pass {sniffed!r}"
        )
    return Media(name=name, size=size, mime_type=sniffed, sha256=sha, head=head, path=path,
                 _opener=opener)
