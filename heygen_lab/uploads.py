"""Request bodies, one builder per encoding.

Each returns a :class:`Payload`: the headers to send, a description of what is sent (for
``diagnose()`` and cassettes), and a body produced afresh for every attempt and streamed from
the file, never held whole in memory.

- ``raw``: the file's bytes, ``Content-Type`` its MIME type (v1 upload, direct-upload PUT).
- ``multipart``: ``multipart/form-data`` (v3 upload with a part ``file``; the v1 probes that
  reproduce the classic mistakes).
- ``json_body``: UTF-8 JSON (everything else).
- ``empty``: no body (probes).

A file body goes on the wire in :data:`BLOCK` (1 MiB) writes: :func:`blocks` turns it into an
iterable of blocks with a length, which requests frames with ``Content-Length`` and urllib3
hands to one ``sendall`` each (a file-like body would be read 16 KiB at a time, urllib3's
``blocksize``: 65,536 writes per GiB). A body under 8 MiB goes in eighths (at least 64 KiB), so
progress still moves several times for a small file.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field, replace
from typing import Any, BinaryIO

from requests_toolbelt import MultipartEncoder, MultipartEncoderMonitor

from heygen_lab.media import Media
from heygen_lab.wire import Sent

Progress = Callable[[int, int], None]
"""Called with (bytes sent so far, total bytes) while a body streams."""

Body = BinaryIO | bytes | MultipartEncoderMonitor | None

BLOCK = 1 << 20
"""Bytes per socket write of a file body of 8 MiB or more."""
MIN_BLOCK = 64 << 10


def block_size(length: int) -> int:
    """The write size for a body of ``length`` bytes: an eighth of it, from 64 KiB to 1 MiB."""
    return min(BLOCK, max(MIN_BLOCK, length // 8))


@dataclass(frozen=True)
class Payload:
    """Headers, a description of the body, and a factory for a fresh body per attempt."""

    headers: Mapping[str, str]
    sent: Sent
    open: Callable[[Progress | None], AbstractContextManager[Any]] = field(
        repr=False, compare=False
    )

    def with_headers(self, headers: Mapping[str, str]) -> Payload:
        return replace(self, headers=dict(headers))


class _Counting:
    """A read-only stream that reports progress and tells requests how long it is."""

    def __init__(self, stream: BinaryIO, total: int, on_progress: Progress | None) -> None:
        self._stream = stream
        self._total = total
        self._read = 0
        self._on_progress = on_progress
        self._origin = stream.tell() if stream.seekable() else None

    @property
    def len(self) -> int:
        """Bytes not read yet: the length protocol of requests and requests-toolbelt."""
        return self._total - self._read

    def tell(self) -> int:
        return self._read

    def seek(self, offset: int, whence: int = 0) -> int:
        """Rewind or move within the file (absolute positions only), as vcrpy does."""
        if whence != 0 or self._origin is None or not 0 <= offset <= self._total:
            raise io.UnsupportedOperation("only absolute seeks within a seekable file")
        self._stream.seek(self._origin + offset)
        self._read = offset
        return offset

    def read(self, size: int = -1) -> bytes:
        chunk = self._stream.read(size)
        self._read += len(chunk)
        if chunk and self._on_progress is not None:
            self._on_progress(self._read, self._total)
        return chunk


class Blocks:
    """A readable body as an iterable of :func:`block_size` blocks; ``len()`` is its length,
    so requests sends ``Content-Length`` (not chunked) and urllib3 writes block by block."""

    def __init__(self, body: Any, length: int) -> None:
        self.source, self._length = body, length
        self.block = block_size(length)

    def __len__(self) -> int:
        return self._length

    def __iter__(self) -> Iterator[bytes]:
        while block := self.source.read(self.block):
            yield block


def blocks(body: Any) -> Iterable[bytes] | Any:
    """``body`` as requests should get it: a readable file body (raw, multipart) as
    :class:`Blocks`, anything else (bytes, None) as it is."""
    if hasattr(body, "read") and hasattr(body, "len"):
        return Blocks(body, int(body.len))
    return body


def raw(media: Media, *, content_type: str | None = None, hashed: bool = False) -> Payload:
    """The file itself as the body, ``Content-Type`` its MIME type (legacy v1 upload, PUT).
    ``hashed``: learn the file's sha256 from the bytes sent (``Media.open(hashed=True)``)."""

    @contextmanager
    def open_body(on_progress: Progress | None) -> Iterator[_Counting]:
        with media.open(hashed=hashed) as stream:
            yield _Counting(stream, media.size, on_progress)

    mime = content_type or media.mime_type
    return Payload(
        headers={"Content-Type": mime},
        sent=Sent(encoding="raw", content_type=mime, size=media.size),
        open=open_body,
    )


def multipart(
    media: Media, *, file_field: str = "file", fields: Mapping[str, str] | None = None,
    hashed: bool = False,
) -> Payload:
    """``multipart/form-data``: text ``fields`` first, then the file in a part named ``file_field``.
    ``hashed`` as for :func:`raw`.

    The boundary is drawn once per payload, so every attempt sends identical bytes.
    """
    if not file_field:
        raise ValueError("file_field must be a non-empty part name, such as 'file'")
    extra = dict(fields or {})
    if file_field in extra:
        raise ValueError(f"part name {file_field!r} is used by both a field and the file")
    boundary = MultipartEncoder(fields={}).boundary_value

    def encoder(stream: _Counting) -> MultipartEncoder:
        parts: list[tuple[str, Any]] = list(extra.items())
        parts.append((file_field, (media.name, stream, media.mime_type)))
        return MultipartEncoder(fields=parts, boundary=boundary)

    @contextmanager
    def open_body(on_progress: Progress | None) -> Iterator[MultipartEncoderMonitor]:
        with media.open(hashed=hashed) as stream:
            enc = encoder(_Counting(stream, media.size, None))
            total = enc.len

            def report(monitor: MultipartEncoderMonitor) -> None:
                if on_progress is not None:
                    on_progress(min(monitor.bytes_read, total), total)

            yield MultipartEncoderMonitor(enc, report)

    content_type = f"multipart/form-data; boundary={boundary}"
    return Payload(
        headers={"Content-Type": content_type},
        sent=Sent(
            encoding="multipart",
            parts=(*extra, file_field),
            content_type=content_type,
            size=media.size,
        ),
        open=open_body,
    )


def json_body(value: Any) -> Payload:
    """A JSON body (UTF-8, compact)."""
    data = json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
    return Payload(
        headers={"Content-Type": "application/json"},
        sent=Sent(encoding="json", content_type="application/json", size=len(data)),
        open=lambda _progress: nullcontext(data),
    )


def empty(content_type: str | None = None) -> Payload:
    """No body at all, optionally with a ``Content-Type`` (a probe of the v1 upload)."""
    headers = {"Content-Type": content_type} if content_type else {}
    return Payload(
        headers=headers,
        sent=Sent(encoding="empty", content_type=content_type, size=0),
        open=lambda _progress: nullcontext(b""),
    )
