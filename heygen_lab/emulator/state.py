"""The emulator's state and its business rules: what HeyGen would do, without HTTP.

Handlers (in :mod:`.families`) parse a request, call a method here, and render what it returns.
The rules (adding an asset, spending credit on a video, a job's progress on the clock) live
here, so the same rule holds whichever route reaches it. Family-specific stores hang off
:meth:`EmulatorState.backend`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import random
import struct
import tempfile
import threading
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal, TypeVar

from .clock import Clock
from .facts import USERNAME, V3_TYPES, kind_of, sniff
from .payloads import Refusal
from .plans import PlanProfile

__all__ = [
    "AVATARS",
    "TALKING_PHOTOS",
    "VOICES",
    "EmulatorState",
    "IdemRecord",
    "Page",
    "Spool",
    "StoredAsset",
    "TalkingPhoto",
    "TooLarge",
    "Video",
    "job_status",
    "sniff_mime",
    "tiny_png",
]

#: Seconds after creation when a job turns ``processing`` / ``completed`` (simulated).
PROCESSING_AFTER: Final = 5.0
COMPLETED_AFTER: Final = 30.0
#: Marker in a script or ``input_text`` that makes the render fail (simulated).
FAIL_MARKER: Final = "[fail]"
IDEMPOTENCY_WINDOW: Final = 24 * 3600.0
#: Items per page when a list request gives no ``limit``: 20, the default HeyGen's reference
#: and official CLI give the asset, avatar, look and voice lists [doc]; taken for every list [sim].
DEFAULT_LIMIT: Final = 20

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
    """The MIME type of a file's first bytes if it is one v3 accepts, else None."""
    mime = sniff(head)
    return mime if mime in V3_TYPES else None


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


def job_status(created_at: float, now: float, fails: bool) -> str:
    """pending -> processing -> completed | failed, by clock time since creation [sim]."""
    elapsed = now - created_at
    if elapsed < PROCESSING_AFTER:
        return "pending"
    if elapsed < COMPLETED_AFTER:
        return "processing"
    return "failed" if fails else "completed"


class TooLarge(Exception):
    """A spool went past its byte limit."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"more than {limit} bytes")
        self.limit = limit


class Spool:
    """A write-only temp file on disk that counts and keeps the first bytes.

    Also usable as the container werkzeug's multipart parser streams a file part into. Its
    :attr:`sha256` is computed from the file when first asked for, not while writing: most
    uploads (v1, v3) never need it, and hashing was a third of the upload path's time.
    """

    HEAD: Final = 64

    def __init__(self, directory: Path, limit: int | None = None) -> None:
        fd, name = tempfile.mkstemp(dir=directory, prefix="spool-")
        self.path = Path(name)
        self._file = os.fdopen(fd, "wb")
        self.limit = limit
        self.size = 0
        self.head = b""
        self._digest: str | None = None

    def write(self, data: bytes) -> int:
        """Append ``data``; raise :class:`TooLarge` past the limit."""
        self.size += len(data)
        if self.limit is not None and self.size > self.limit:
            raise TooLarge(self.limit)
        if len(self.head) < self.HEAD:
            self.head += bytes(data[: self.HEAD - len(self.head)])
        self._file.write(data)
        return len(data)

    def seek(self, offset: int, whence: int = 0) -> int:
        """No-op (werkzeug rewinds containers; the spool is only read back from ``path``)."""
        return 0

    @property
    def sha256(self) -> str:
        """Hex sha256 of everything written (read back from the file the first time)."""
        if self._digest is None:
            if not self._file.closed:
                self._file.flush()
            self._digest = file_sha256(self.path)
        return self._digest

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


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file's bytes, read in 1 MiB blocks."""
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


class _LazySha256:
    """``StoredAsset.sha256``: the value given, else the stored file's sha256, computed when
    first read (and kept). None while there is no file, or when it is gone."""

    def __get__(self, obj: StoredAsset | None,
                owner: type[StoredAsset] | None = None) -> str | None:
        if obj is None:
            return None  # the dataclass field's default
        value: str | None = obj.__dict__.get("_sha256")
        if value is None and obj.path is not None:
            try:
                value = file_sha256(obj.path)
            except OSError:
                return None
            obj.__dict__["_sha256"] = value
        return value

    def __set__(self, obj: StoredAsset, value: str | None) -> None:
        obj.__dict__["_sha256"] = value


@dataclass
class StoredAsset:
    """An uploaded (or pending direct-upload) asset."""

    asset_id: str
    name: str
    mime_type: str
    size_bytes: int
    created_ts: int
    seq: int
    status: Literal["ready", "pending_upload"] = "ready"
    path: Path | None = None
    sha256: _LazySha256 = _LazySha256()  # hashed from ``path`` only when asked for
    declared_checksum: str | None = None
    expires_at: float | None = None
    raced: bool = False
    folder_id: str | None = None

    @property
    def kind(self) -> str:
        """image, video, audio or file."""
        return kind_of(self.mime_type)


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
    seq: int = 0
    output_format: str = "mp4"
    folder_id: str | None = None
    callback_id: str | None = None


@dataclass
class IdemRecord:
    """What an Idempotency-Key has produced: nothing yet (in flight) or a response."""

    started_at: float
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


@dataclass(frozen=True)
class Page:
    """One page of a v3 list: ``{"data": items, "has_more", "next_token"}``."""

    items: list[Any]
    has_more: bool
    next_token: str | None


B = TypeVar("B")


class EmulatorState:
    """All mutable state, behind one re-entrant lock (``state.lock``)."""

    def __init__(self, plan: PlanProfile, clock: Clock, storage_dir: Path, seed: int = 0) -> None:
        self.plan = plan
        self.clock = clock
        self.storage_dir = storage_dir
        self.lock = threading.RLock()
        self.assets: dict[str, StoredAsset] = {}
        self.talking_photos: dict[str, TalkingPhoto] = {}
        self.videos: dict[str, Video] = {}
        self.credits = plan.credits
        self.credits_used = 0
        self.videos_per_day: dict[int, int] = {}
        self.idempotency: dict[tuple[str, ...], IdemRecord] = {}
        self.complete_race = False
        self.username = USERNAME
        #: Avatar look ids and voice ids the account created (besides the public catalogue).
        self.custom_avatar_ids: set[str] = set()
        self.custom_voice_ids: set[str] = set()
        self._backends: dict[Callable[[EmulatorState], Any], Any] = {}
        self._rng = random.Random(seed)
        self._seq = 0
        self._ids: set[str] = set()

    # ---- ids, order and paths ----
    def new_id(self, prefix: str = "") -> str:
        """A fresh opaque id (deterministic per seed and call order)."""
        with self.lock:
            while True:
                candidate = f"{prefix}{self._rng.getrandbits(96):024x}"
                if candidate not in self._ids:
                    self._ids.add(candidate)
                    return candidate

    def next_seq(self) -> int:
        """Creation order counter (list cursors follow it)."""
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

    def backend(self, cls: Callable[[EmulatorState], B]) -> B:
        """The one store of a family (``cls(state)``, created on first use)."""
        with self.lock:
            if cls not in self._backends:
                self._backends[cls] = cls(self)
            return self._backends[cls]  # type: ignore[no-any-return]

    def now(self) -> float:
        """The emulator clock's time."""
        return self.clock.now()

    # ---- assets ----
    def add_asset(self, spool: Spool, mime: str, name: str | None) -> StoredAsset:
        """Keep an uploaded file as a ready asset."""
        with self.lock:
            asset_id = self.new_id()
            spool.keep(self.object_path(asset_id))
            asset = StoredAsset(asset_id, name or asset_id, mime, spool.size, int(self.now()),
                          self.next_seq(), path=spool.path)  # sha256: lazily, from path
            self.assets[asset_id] = asset
        return asset

    def asset(self, asset_id: str, *, ready: bool = False) -> StoredAsset:
        """An asset by id, else 404 ``not_found`` (also for a pending one when ``ready``)."""
        with self.lock:
            asset = self.assets.get(asset_id)
        if asset is None or (ready and asset.status != "ready"):
            raise Refusal("v3.not_found", param="asset_id", detail=f"asset {asset_id!r} not found")
        return asset

    def delete_asset(self, asset_id: str) -> StoredAsset:
        """Remove an asset and its bytes."""
        with self.lock:
            asset = self.asset(asset_id)
            del self.assets[asset_id]
        if asset.path is not None:
            asset.path.unlink(missing_ok=True)
        return asset

    def ready_assets(self) -> list[StoredAsset]:
        """Ready assets in creation order."""
        with self.lock:
            return sorted((a for a in self.assets.values() if a.status == "ready"),
                          key=lambda a: a.seq)

    # ---- videos and plan ----
    def day(self) -> int:
        """Index of the current clock day (UTC)."""
        return int(self.now() // 86400)

    def videos_today(self) -> int:
        """Videos created on the current clock day."""
        with self.lock:
            return self.videos_per_day.get(self.day(), 0)

    def status(self, video: Video) -> str:
        """The video's status now (see :func:`job_status`)."""
        return job_status(video.created_at, self.now(), video.fails)

    def create_video(self, version: str, *, duration: float, fails: bool,
                     title: str | None = None, output_format: str = "mp4",
                     folder_id: str | None = None, callback_id: str | None = None) -> Video:
        """Start a render: the trial cap and the credit balance decide, then credit is spent."""
        plan = self.plan
        with self.lock:
            if plan.daily_video_cap is not None and self.videos_today() >= plan.daily_video_cap:
                raise Refusal(f"{version}.trial_video_limit_exceeded", limit=plan.daily_video_cap)
            if self.credits < plan.video_cost:
                raise Refusal(f"{version}.insufficient_credit", balance=self.credits,
                               cost=plan.video_cost)
            self.credits -= plan.video_cost
            self.credits_used += plan.video_cost
            self.videos_per_day[self.day()] = self.videos_today() + 1
            video = Video(self.new_id(), self.now(), duration, fails, title, self.next_seq(),
                          output_format, folder_id, callback_id)
            self.videos[video.video_id] = video
        return video

    def video(self, video_id: str, version: str = "v3") -> Video:
        """A video by id, else 404 in the envelope of ``version``."""
        with self.lock:
            video = self.videos.get(video_id)
        if video is None:
            if version == "v1":
                raise Refusal("v1.video_not_found", video_id=video_id)
            raise Refusal("v3.video_not_found", param="video_id", video_id=video_id)
        return video

    def in_flight_idempotency_keys(self) -> int:
        """How many Idempotency-Key requests are running right now."""
        with self.lock:
            return sum(1 for r in self.idempotency.values() if r.status is None)


# ---------------------------------------------------------------------- pagination
def _cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(f"seq:{seq}".encode()).decode()


def paginate(items: Iterable[Any], seq: Callable[[Any], int], limit: str | None,
             token: str | None) -> Page:
    """One page of ``items`` (ordered by ``seq``) after the cursor ``token``.

    ``limit`` was checked against the operation's min/max by the spec before this runs.
    """
    after = 0
    if token:
        try:
            after = int(base64.urlsafe_b64decode(token.encode()).decode().removeprefix("seq:"))
        except (ValueError, binascii.Error, UnicodeError):
            raise Refusal("v3.invalid_parameter", param="token",
                           detail="token is not a cursor this list returned") from None
    size = int(limit) if limit else DEFAULT_LIMIT
    ordered: Sequence[Any] = sorted((i for i in items if seq(i) > after), key=seq)
    page = list(ordered[:size])
    has_more = len(ordered) > size
    return Page(page, has_more, _cursor(seq(page[-1])) if has_more else None)
