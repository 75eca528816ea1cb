"""A file to upload: a path, bytes, or a binary file object, checked before any byte is sent.

``load_media()`` learns the size from the file's metadata and the MIME type from its first bytes
(sniffed, never trusted from the extension); it does not read the whole file. The sha256 is
learnt where a route needs it: for a file by path, by a read of its own on a helper thread
while the bytes stream to the server (``Media.hash_ahead()``, the direct upload's PUT), so the
send never waits for the hash; for bytes or a file object, from the bytes as they stream
(``Media.open(hashed=True)``); or on demand (``Media.sha256`` reads the file once if nothing
learnt it yet). ``Media.open()`` gives a fresh stream for every attempt, so a retried upload
re-sends the whole file, and the file never sits in memory as a whole.

Only regular files are read (a directory, ``/dev/zero``, a FIFO or a socket is refused before
reading, without blocking). Every stream ``open()`` gives yields exactly ``size`` bytes: a file
that grew, shrank, was replaced or modified (size, mtime, inode) since it was checked, or was
deleted before a retry, raises :class:`MediaError` instead of sending different bytes; these
checks ride on the read that sends the file, never a second one.
"""

from __future__ import annotations

import errno
import hashlib
import io
import os
import stat
import sys
import tempfile
import threading
from collections.abc import Callable, Collection, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, cast

from heygen_lab.errors import MediaError

HEAD_BYTES = 64
_CHUNK = 1 << 20
MAX_UPLOAD_BYTES = 5 * 1024**3
"""The largest file read at all (HeyGen's direct upload takes up to 5 GiB)."""

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


# ISO base media ("ftyp") major brands. HEIC, AVIF and M4A share MP4's container; HeyGen
# detects types from the bytes, so they must not pass the pre-flight as video/mp4.
_FTYP = {
    **dict.fromkeys((b"isom", b"iso2", b"iso3", b"iso4", b"iso5", b"iso6", b"mp41", b"mp42",
                     b"avc1", b"dash", b"M4V ", b"M4VH", b"M4VP", b"mmp4", b"f4v "), "video/mp4"),
    **dict.fromkeys((b"M4A ", b"M4B ", b"M4P ", b"f4a "), "audio/mp4"),
    **dict.fromkeys((b"heic", b"heix", b"heim", b"heis", b"mif1", b"msf1", b"hevc", b"hevx"),
                    "image/heic"),
    **dict.fromkeys((b"avif", b"avis"), "image/avif"),
    b"qt  ": "video/quicktime",
    b"3gp4": "video/3gpp", b"3gp5": "video/3gpp", b"3g2a": "video/3gpp2",
}


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
    if head[4:8] == b"ftyp":  # ISO media: the major brand says what it is (HEIC is no MP4)
        return _FTYP.get(head[8:12], "application/octet-stream")
    if head.startswith(b"ID3") or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0
                                   and head[1] & 0x06 != 0):
        return "audio/mpeg"
    return None


def file_type(mime: str, other: str = "document") -> str:
    """HeyGen's coarse kind of a MIME type: image, video, audio, or ``other``."""
    major = mime.split("/", 1)[0]
    return major if major in {"image", "video", "audio"} else other


class _Digest:
    """A Media's sha256 once learnt (shared by every stream the Media opens), and the helper
    thread's answer while one is learning it."""

    __slots__ = ("lock", "pending", "value")

    def __init__(self) -> None:
        self.value: str | None = None
        self.pending: Future[str] | None = None
        self.lock = threading.Lock()


Identity = tuple[int, int, int, int]
"""A file's (device, inode, size, mtime_ns): unchanged identity, unchanged bytes."""


@dataclass(frozen=True)
class Media:
    """A checked file: name, size, sniffed MIME type, a way to re-open it, and its sha256
    (learnt while it streams, or on demand)."""

    name: str
    size: int
    mime_type: str
    head: bytes = field(repr=False)
    path: Path | None = None
    identity: Identity | None = field(default=None, repr=False, compare=False)
    """For a file given by path: its identity when it was checked (the streams refuse any other)."""
    _opener: Callable[[], BinaryIO] = field(repr=False, compare=False, default=io.BytesIO)

    _verify: Callable[[BinaryIO], None] | None = field(repr=False, compare=False, default=None)
    _digest: _Digest = field(repr=False, compare=False, default_factory=_Digest)

    @contextmanager
    def open(self, *, hashed: bool = False) -> Iterator[BinaryIO]:
        """A fresh stream positioned at the first byte that yields exactly ``size`` bytes;
        closed on exit. MediaError if the file is gone or changed since it was checked.
        ``hashed=True``: the stream hashes what it hands out, and once all of it was read (and the
        file found unchanged) that is :attr:`sha256`, without a second read."""
        stream = self._opener()
        exact = None
        try:
            exact = _Exact(stream, self.size, self.name, self._verify,
                           self._digest if hashed else None)
            yield cast(BinaryIO, exact)
        finally:
            if exact is not None:
                exact.close()
            stream.close()

    def hash_ahead(self) -> bool:
        """For a file by path whose sha256 is not known: start learning it on a helper thread,
        by a read of its own (with the same exact-byte and change checks as an upload), so a
        stream sending the file meanwhile never waits for the hash. :attr:`sha256` waits for
        it. Returns whether the sha256 is known or being learnt that way; False for bytes and
        file objects, whose one stream cannot be read twice at once: the stream that sends them
        hashes them (``open(hashed=True)``)."""
        digest = self._digest
        with digest.lock:
            if digest.value is not None or digest.pending is not None:
                return True
            if self.identity is None:
                return False
            answer = digest.pending = Future()

        def learn() -> None:
            if sys.platform.startswith("linux"):  # a thread's own priority (its id is a TID)
                with suppress(AttributeError, OSError):  # background work: the send goes first
                    os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
            try:
                answer.set_result(self._read_sha256())
            except BaseException as exc:  # handed to whoever asks for .sha256
                answer.set_exception(exc)

        threading.Thread(target=learn, name="heygen-lab-sha256", daemon=True).start()
        return True

    def _read_sha256(self) -> str:
        sha = hashlib.sha256()
        with self.open() as stream:
            while block := stream.read(_CHUNK):
                sha.update(block)
        value = self._digest.value = sha.hexdigest()
        return value

    @property
    def sha256(self) -> str:
        """The sha256 of the bytes: the one learnt already (by a hashing stream, or the helper
        thread :meth:`hash_ahead` started, waited for), else read now (once, with the same
        exact-byte and change checks as an upload)."""
        digest = self._digest
        pending = digest.pending
        if digest.value is None and pending is not None:
            try:
                return pending.result()
            finally:
                with digest.lock:
                    digest.pending = None  # a failed read (the file changed) is not kept
        return digest.value if digest.value is not None else self._read_sha256()

    @property
    def known_sha256(self) -> str | None:
        """The sha256 if it was learnt already (never reads)."""
        return self._digest.value

    def fingerprint(self) -> Fingerprint:
        """What tells these bytes apart later, without reading them now (nor keeping them)."""
        return Fingerprint(self.size, self.mime_type, self._digest, self.identity, self.path)

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


@dataclass(frozen=True)
class Fingerprint:
    """A Media's size, type, file identity and (once learnt) sha256, kept to recognise the same
    bytes later (an Idempotency-Key's claim) without holding the Media or its bytes."""

    size: int
    mime_type: str
    _digest: _Digest = field(repr=False)
    identity: Identity | None = None
    path: Path | None = None

    def matches(self, other: Media) -> bool:
        """Whether ``other`` holds the same bytes, reading only when nothing cheaper tells: the
        same Media, the same unchanged file, or else equal sha256s (a file read now, once)."""
        if (self.size, self.mime_type) != (other.size, other.mime_type):
            return False
        if self._digest is other._digest or (
                self.identity is not None and self.identity == other.identity):
            return True
        mine = self._digest.value
        if mine is None and self.path is not None:
            with suppress(MediaError):  # the file as it was checked, if it still is
                again = load_media(self.path)
                if again.identity == self.identity:
                    mine = self._digest.value = again.sha256
        return mine is not None and mine == other.sha256


Source = str | os.PathLike[str] | bytes | bytearray | memoryview | BinaryIO


def load_media(
    source: Source, *, content_type: str | None = None, name: str | None = None
) -> Media:
    """Check a file and learn what it is; raises MediaError before anything is sent."""
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
        return _describe(name or "upload.bin", data[:HEAD_BYTES], len(data),
                         lambda: io.BytesIO(data), content_type, None)
    if isinstance(source, str | os.PathLike):
        return _from_path(Path(source), content_type, name)
    if hasattr(source, "read"):
        return _from_stream(source, content_type, name)
    raise MediaError(
        f"cannot upload a {type(source).__name__}; pass a path, bytes, or a binary file object"
    )


_KINDS = ((stat.S_ISDIR, "is a directory; pass a file inside it"),
          (stat.S_ISFIFO, "is a FIFO (named pipe), not a regular file; pass a file, or read the "
                          "pipe yourself and pass the file object"),
          (stat.S_ISSOCK, "is a socket, not a regular file"),
          (stat.S_ISCHR, "is a character device (like /dev/zero), not a regular file"),
          (stat.S_ISBLK, "is a block device, not a regular file"))


def _not_regular(label: object, mode: int) -> MediaError:
    for test, problem in _KINDS:
        if test(mode):
            return MediaError(f"{label}: {problem}")
    return MediaError(f"{label}: is not a regular file; pass a file")


def _identity(st: os.stat_result) -> Identity:
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns


def _open_regular(path: Path) -> BinaryIO:
    """``path`` opened for reading, refused (without blocking on a FIFO) unless it is a
    regular file; OSError for the caller to word."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise _not_regular(path, mode)
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _os_problem(path: Path, exc: OSError) -> MediaError:
    if exc.errno == errno.ENOENT:
        return MediaError(f"{path}: no such file; check the path")
    if exc.errno in {errno.EACCES, errno.EPERM}:
        return MediaError(f"{path}: cannot be read (permission denied); check its permissions")
    if exc.errno == errno.EISDIR:
        return MediaError(f"{path}: is a directory; pass a file inside it")
    return MediaError(f"{path}: cannot be read ({exc.strerror or exc}); check the path")


def _from_path(path: Path, content_type: str | None, name: str | None) -> Media:
    try:
        mode = path.stat().st_mode  # stat never blocks, even on a FIFO
        if not stat.S_ISREG(mode):
            raise _not_regular(path, mode)
        with _open_regular(path) as fh:
            before = _identity(os.fstat(fh.fileno()))
            if before[2] > MAX_UPLOAD_BYTES:
                raise _too_big(str(path))
            head = fh.read(HEAD_BYTES)  # the size is the metadata's; the streams hold to it
            after = _identity(os.fstat(fh.fileno()))
    except OSError as exc:
        raise _os_problem(path, exc) from None
    if before != after or len(head) != min(HEAD_BYTES, after[2]):
        raise MediaError(f"{path}: changed while it was being checked; wait until whatever "
                         "writes it has finished, then upload again")

    def reopen() -> BinaryIO:
        try:
            fh = _open_regular(path)
        except FileNotFoundError:
            raise MediaError(f"{path}: was deleted after it was checked; nothing more was "
                             "sent. Upload it again") from None
        except OSError as exc:
            raise _os_problem(path, exc) from None
        now = _identity(os.fstat(fh.fileno()))
        if now != after:
            fh.close()
            raise MediaError(f"{path}: {_change(after, now)} after it was checked; nothing "
                             "more was sent. Upload it again once it is final")
        return fh

    def verify(stream: BinaryIO) -> None:
        inner = getattr(stream, "fileno", None)
        now = _identity(os.fstat(inner())) if inner else after
        if now == after:
            try:
                now = _identity(os.stat(path))  # replaced (renamed over) meanwhile?
            except OSError:
                raise MediaError(f"{path}: was deleted while it was being sent; the upload "
                                 "was stopped. Upload it again") from None
        if now != after:
            raise MediaError(f"{path}: {_change(after, now)} while it was being sent; the "
                             "upload was stopped before its last bytes. Upload it again "
                             "once it is final")

    return _describe(name or path.name, head, after[2], reopen, content_type, path, verify,
                     identity=after)


def _change(old: Identity, new: Identity) -> str:
    if old[:2] != new[:2]:
        return "was replaced by another file"
    if old[2] != new[2]:
        return f"changed size ({old[2]} -> {new[2]} bytes)"
    return "was modified"


def _from_stream(stream: BinaryIO, content_type: str | None, name: str | None) -> Media:
    label = name or os.path.basename(str(getattr(stream, "name", "") or "")) or "upload.bin"
    try:
        mode = os.fstat(stream.fileno()).st_mode
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        mode = None  # an in-memory stream
    if mode is not None and (stat.S_ISDIR(mode) or stat.S_ISCHR(mode) or stat.S_ISBLK(mode)):
        raise _not_regular(label, mode)  # /dev/zero claims to be seekable and never ends
    probe = stream.read(0)
    if isinstance(probe, str):
        raise MediaError(f"{label}: the file object is opened in text mode; open it with 'rb'")
    if stream.seekable():
        start = stream.tell()
        size = stream.seek(0, io.SEEK_END) - start
        stream.seek(start)
        if size > MAX_UPLOAD_BYTES:
            raise _too_big(label)
        head = _read_head(stream)
        stream.seek(start)

        def reopen() -> BinaryIO:
            stream.seek(start)
            return cast(BinaryIO, _Borrowed(stream))

        return _describe(label, head, max(size, 0), reopen, content_type, None)
    # A pipe or socket can be read once: spool it to a temporary file so retries can re-read it.
    spool = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the Media
    try:
        copied = 0
        head = b""
        while chunk := stream.read(_CHUNK):
            copied += len(chunk)
            if copied > MAX_UPLOAD_BYTES:
                raise _too_big(label)
            head = head or chunk[:HEAD_BYTES]
            spool.write(chunk)
        if len(head) < min(HEAD_BYTES, copied):  # a pipe may hand out a few bytes at a time
            spool.seek(0)
            head = _read_head(spool)
    except BaseException:
        spool.close()  # unlinked already: closing frees the disk space now
        raise

    def reopen_spool() -> BinaryIO:
        spool.seek(0)
        return cast(BinaryIO, _Borrowed(spool))

    return _describe(label, head, copied, reopen_spool, content_type, None)


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


class _Exact(io.RawIOBase):
    """Exactly ``size`` bytes of ``inner``, or a MediaError: never more (a file that grew is not
    sent past its declared length), never fewer (a file that shrank does not leave the request
    waiting), and ``verify`` runs before the last bytes are handed out, so a file modified
    while it streamed stops the request before it completes. With a ``digest`` it hashes
    what it hands out in order and, once all of it was read and checked, records the sha256."""

    def __init__(self, inner: BinaryIO, size: int, name: str,
                 verify: Callable[[BinaryIO], None] | None, digest: _Digest | None = None
                 ) -> None:
        self._inner, self._size, self._name, self._verify = inner, size, name, verify
        self._pos = 0
        self._base = inner.tell() if inner.seekable() else 0
        self._done = False
        self._digest = digest
        self._sha = _Hasher() if digest is not None else None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:  # everything that is left, as readall() would
            parts = []
            while part := self.read(_CHUNK):
                parts.append(part)
            return b"".join(parts)
        left = self._size - self._pos
        if left <= 0:
            self._finish()
            return b""
        want = min(size, left)
        chunk = self._inner.read(want)
        if not chunk and want:
            raise MediaError(f"{self._name}: shrank while it was being sent ({self._pos} of "
                             f"{self._size} bytes left to read); the upload was stopped. "
                             "Upload it again once it is final")
        self._pos += len(chunk)
        if self._sha is not None:
            self._sha.update(chunk)
        if self._pos >= self._size:
            self._finish()
        return chunk

    def _finish(self) -> None:
        if self._done:
            return
        if self._inner.read(1):
            raise MediaError(f"{self._name}: grew while it was being sent (more than its "
                             f"{self._size} checked bytes); the upload was stopped before its "
                             "last bytes. Upload it again once it is final")
        if self._verify is not None:
            self._verify(self._inner)
        if self._sha is not None and self._digest is not None:
            self._digest.value = self._sha.hexdigest()
        self._done = True

    def seekable(self) -> bool:
        return self._inner.seekable()

    def seek(self, offset: int, whence: int = 0) -> int:
        if whence != 0 or not 0 <= offset <= self._size:
            raise io.UnsupportedOperation("only absolute seeks within the file")
        self._inner.seek(self._base + offset)
        self._pos, self._done = offset, False
        if self._digest is not None:  # hash again from the start; from elsewhere, not at all
            if self._sha is not None:
                self._sha.close()
            self._sha = _Hasher() if offset == 0 else None
        return offset

    def close(self) -> None:
        if self._sha is not None:
            self._sha.close()
        super().close()

    def tell(self) -> int:
        return self._pos


class _Hasher:
    """sha256 one block behind the reader, on a helper thread: hashlib lets go of the GIL for
    large blocks, so a block is hashed while it is sent (a 1 GiB file costs ~0.7 s to hash,
    which would otherwise add to the upload). Small blocks are hashed inline."""

    _THREADED = 256 << 10

    def __init__(self) -> None:
        self._sha = hashlib.sha256()
        self._pool: ThreadPoolExecutor | None = None
        self._pending: Future[None] | None = None

    def update(self, data: bytes) -> None:
        self._wait()
        if len(data) < self._THREADED:
            self._sha.update(data)
            return
        if self._pool is None:
            self._pool = ThreadPoolExecutor(1, thread_name_prefix="heygen-lab-sha256")
        self._pending = self._pool.submit(self._sha.update, data)

    def _wait(self) -> None:
        if self._pending is not None:
            self._pending.result()
            self._pending = None

    def hexdigest(self) -> str:
        self._wait()
        return self._sha.hexdigest()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool, self._pending = None, None


def _too_big(label: str) -> MediaError:
    return MediaError(f"{label}: more than {MAX_UPLOAD_BYTES} bytes (5 GiB), over what any "
                      "HeyGen upload route takes; is it an endless stream?")


def _read_head(stream: BinaryIO) -> bytes:
    """The first HEAD_BYTES (fewer if the stream is shorter), however few a read returns."""
    head = b""
    while len(head) < HEAD_BYTES and (chunk := stream.read(HEAD_BYTES - len(head))):
        head += chunk
    return head


def _describe(name: str, head: bytes, size: int,
              opener: Callable[[], BinaryIO], content_type: str | None, path: Path | None,
              verify: Callable[[BinaryIO], None] | None = None, *,
              identity: Identity | None = None) -> Media:
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
    return Media(name=name, size=size, mime_type=sniffed, head=head, path=path,
                 identity=identity, _opener=opener, _verify=verify)
