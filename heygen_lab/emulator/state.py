"""The emulator's in-memory state (assets, talking photos, videos, wallet, trial counters,
idempotency records), byte sniffing, and the disk spool every upload streams into."""

from __future__ import annotations

import hashlib
import os
import random
import struct
import tempfile
import threading
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Literal

from heygen_lab.media import V3_TYPES, sniff
from heygen_lab.media import file_type as media_file_type

from .clock import Clock
from .plans import PlanProfile

__all__ = ["AVATARS", "TALKING_PHOTOS", "VOICES", "Asset", "EmulatorState", "IdemRecord",
           "Spool", "TalkingPhoto", "TooLarge", "Video", "file_type", "sniff_mime", "tiny_png"]

#: Seconds after creation when a video turns ``processing`` / ``completed`` (simulated).
PROCESSING_AFTER: Final = 5.0
COMPLETED_AFTER: Final = 30.0
#: Marker in a scene's ``input_text`` that makes the render fail (simulated).
FAIL_MARKER: Final = "[fail]"
IDEMPOTENCY_WINDOW: Final = 24 * 3600.0

AVATARS: Final = (
    {"avatar_id": "emu_avatar_anna", "avatar_name": "Anna (emulator)", "gender": "female"},
    {"avatar_id": "emu_avatar_ben", "avatar_name": "Ben (emulator)", "gender": "male"},
    {"avatar_id": "emu_avatar_chen", "avatar_name": "Chen (emulator)", "gender": "female"},
)
TALKING_PHOTOS: Final = (
    {"talking_photo_id": "emu_talking_photo_demo", "talking_photo_name": "Demo photo (emulator)"},
)
VOICES: Final = (
    {"voice_id": "emu_voice_en_f", "language": "English", "gender": "female", "name": "Ava (emu)"},
    {"voice_id": "emu_voice_en_m", "language": "English", "gender": "male", "name": "Max (emu)"},
    {"voice_id": "emu_voice_de_f", "language": "German", "gender": "female", "name": "Lena (emu)"},
)


def sniff_mime(head: bytes) -> str | None:
    """MIME type from a file's first bytes (png, jpeg, mp4, webm, mp3, wav, pdf), else None.

    The same sniffer as the client's pre-flight, so both sides agree on what a file is.
    """
    mime = sniff(head)
    return mime if mime in V3_TYPES else None


def file_type(mime: str) -> str:
    """The v1 ``file_type`` of a MIME type: image, video, audio (anything else: file)."""
    return media_file_type(mime, other="file")


def tiny_png() -> bytes:
    """A valid 1x1 PNG (used for thumbnails)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
            + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00")) + chunk(b"IEND", b""))


#: A minimal MP4 (an ``ftyp`` box) served as every rendered video.
TINY_MP4: Final = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"


class TooLarge(Exception):
    """A spool went past its byte limit."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"more than {limit} bytes")
        self.limit = limit


class Spool:
    """A write-only temp file on disk that counts, hashes and keeps the first bytes.

    Also usable as the container werkzeug's multipart parser streams a file part into.
    """

    HEAD: Final = 64

    def __init__(self, directory: Path, limit: int | None = None) -> None:
        fd, name = tempfile.mkstemp(dir=directory, prefix="spool-")
        self.path = Path(name)
        self._file = os.fdopen(fd, "wb")
        self.limit = limit
        self.size = 0
        self.head = b""
        self._sha = hashlib.sha256()

    def write(self, data: bytes) -> int:
        """Append ``data``; raise :class:`TooLarge` past the limit."""
        self.size += len(data)
        if self.limit is not None and self.size > self.limit:
            raise TooLarge(self.limit)
        if len(self.head) < self.HEAD:
            self.head += bytes(data[: self.HEAD - len(self.head)])
        self._sha.update(data)
        self._file.write(data)
        return len(data)

    def seek(self, offset: int, whence: int = 0) -> int:
        """No-op (werkzeug rewinds containers; the spool is only read back from ``path``)."""
        return 0

    @property
    def sha256(self) -> str:
        """Hex sha256 of everything written."""
        return self._sha.hexdigest()

    def keep(self, dest: Path) -> None:
        """Close and move the file to ``dest``."""
        self._file.close()
        os.replace(self.path, dest)
        self.path = dest

    def discard(self) -> None:
        """Close and delete the file (safe to call twice)."""
        self._file.close()
        self.path.unlink(missing_ok=True)

    def close(self) -> None:
        """Close the file (keeps it on disk)."""
        self._file.close()


@dataclass
class Asset:
    """An uploaded (or pending direct-upload) asset."""

    asset_id: str
    name: str
    mime_type: str
    size_bytes: int
    created_ts: int
    seq: int
    status: Literal["ready", "pending_upload"] = "ready"
    path: Path | None = None
    sha256: str | None = None
    declared_checksum: str | None = None
    expires_at: float | None = None
    raced: bool = False


@dataclass
class TalkingPhoto:
    """A photo uploaded to ``/v1/talking_photo``."""

    talking_photo_id: str
    mime_type: str
    path: Path
    created_ts: int


@dataclass
class Video:
    """A video job; its status is derived from the clock (see :meth:`EmulatorState.status`)."""

    video_id: str
    created_at: float
    duration: float
    fails: bool
    title: str | None = None


@dataclass
class IdemRecord:
    """What an Idempotency-Key has produced: nothing yet (in flight) or a response."""

    started_at: float
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


class EmulatorState:
    """All mutable state, behind one re-entrant lock (``state.lock``)."""

    def __init__(self, plan: PlanProfile, clock: Clock, storage_dir: Path, seed: int = 0) -> None:
        self.plan = plan
        self.clock = clock
        self.storage_dir = storage_dir
        self.lock = threading.RLock()
        self.assets: dict[str, Asset] = {}
        self.talking_photos: dict[str, TalkingPhoto] = {}
        self.videos: dict[str, Video] = {}
        self.credits = plan.credits
        self.credits_used = 0
        self.videos_per_day: dict[int, int] = {}
        self.idempotency: dict[tuple[str, ...], IdemRecord] = {}
        self.complete_race = False
        self._rng = random.Random(seed)
        self._seq = 0

    # ---- ids and paths ----
    def new_id(self, prefix: str = "") -> str:
        """A fresh opaque id (deterministic per seed and call order)."""
        with self.lock:
            while True:
                candidate = f"{prefix}{self._rng.getrandbits(96):024x}"
                if candidate not in self.assets and candidate not in self.videos:
                    return candidate

    def next_seq(self) -> int:
        """Creation order counter (the assets list cursor)."""
        with self.lock:
            self._seq += 1
            return self._seq

    def object_path(self, object_id: str) -> Path:
        """Where the bytes of ``object_id`` live."""
        return self.storage_dir / "objects" / object_id

    @property
    def tmp_dir(self) -> Path:
        """Directory for in-flight spools."""
        return self.storage_dir / "tmp"

    # ---- videos and plan ----
    def day(self) -> int:
        """Index of the current clock day (UTC)."""
        return int(self.clock.now() // 86400)

    def videos_today(self) -> int:
        """Videos created on the current clock day."""
        with self.lock:
            return self.videos_per_day.get(self.day(), 0)

    def status(self, video: Video) -> str:
        """pending -> processing -> completed | failed, by clock time since creation."""
        elapsed = self.clock.now() - video.created_at
        if elapsed < PROCESSING_AFTER:
            return "pending"
        if elapsed < COMPLETED_AFTER:
            return "processing"
        return "failed" if video.fails else "completed"

    def in_flight_idempotency_keys(self) -> int:
        """How many Idempotency-Key requests are running right now."""
        with self.lock:
            return sum(1 for r in self.idempotency.values() if r.status is None)

    def ready_assets(self) -> list[Asset]:
        """Ready assets in creation order."""
        with self.lock:
            return sorted((a for a in self.assets.values() if a.status == "ready"),
                          key=lambda a: a.seq)
