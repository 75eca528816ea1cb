"""What the avatar, voice and webhook families share: a store of records, the refusal to change
the public catalogue, readiness on the clock, and the check of a media reference.

A family's backend (one per emulator, from :meth:`EmulatorState.backend`) holds one
:class:`Store` per kind of record and the family's rules; handlers parse, call it, render.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Final, Generic, Protocol, TypeVar

from ..http import Call, invalid
from ..payloads import Refusal
from ..state import COMPLETED_AFTER, EmulatorState
from .legacy import check_source

__all__ = ["PUBLIC_CREATED_AT", "READY_AFTER", "Record", "Store", "check_media", "iso",
           "refuse_public", "ripen"]

#: [sim] Seconds from the start of processing (creation, or consent) until a created avatar or
#: cloned voice is ready; the same as a video's render.
READY_AFTER: Final = COMPLETED_AFTER
#: [sim] ``created_at`` of the public catalogue's entries: 2025-01-01T00:00:00Z.
PUBLIC_CREATED_AT: Final = 1_735_689_600


class Record(Protocol):
    """Anything a :class:`Store` keeps: an ``id`` and its creation order ``seq``."""

    id: str
    seq: int


R = TypeVar("R", bound=Record)


class Store(Generic[R]):
    """Records by id, listed in creation order; an unknown id raises the family's 404."""

    def __init__(self, state: EmulatorState, missing: Callable[[str], Refusal]) -> None:
        self._state = state
        self._missing = missing
        self._records: dict[str, R] = {}

    def add(self, record: R) -> R:
        """Keep ``record`` (its id must be new)."""
        with self._state.lock:
            self._records[record.id] = record
        return record

    def get(self, rid: str) -> R:
        """The record ``rid``, else the family's 404."""
        with self._state.lock:
            record = self._records.get(rid)
        if record is None:
            raise self._missing(rid)
        return record

    def pop(self, rid: str) -> R:
        """Remove and return the record ``rid``, else the family's 404."""
        with self._state.lock:
            record = self.get(rid)
            del self._records[rid]
        return record

    def where(self, keep: Callable[[R], bool] = lambda r: True) -> list[R]:
        """The records ``keep`` accepts, in creation order."""
        with self._state.lock:
            return sorted((r for r in self._records.values() if keep(r)), key=lambda r: r.seq)

    def __contains__(self, rid: object) -> bool:
        with self._state.lock:
            return rid in self._records


def refuse_public(public: bool, what: str, rid: str, param: str) -> None:
    """403 for a change to the public catalogue [sim: HeyGen's answer is not documented]."""
    if public:
        raise Refusal("v3.public_catalogue", param=param, what=what, id=rid)


def ripen(started_at: float | None, now: float, fails: bool) -> str:
    """``pending_consent`` (not started) -> ``processing`` -> ``completed`` | ``failed`` [sim]."""
    if started_at is None:
        return "pending_consent"
    if now - started_at < READY_AFTER:
        return "processing"
    return "failed" if fails else "completed"


def iso(ts: float) -> str:
    """Unix seconds as ISO 8601 in UTC (``2026-01-01T00:00:00Z``)."""
    return datetime.fromtimestamp(int(ts), UTC).isoformat().replace("+00:00", "Z")


def check_media(call: Call, ref: dict[str, Any], param: str, kind: str) -> None:
    """A spec ``AssetUrl`` / ``AssetId`` / ``AssetBase64`` reference to media of ``kind``
    (image, video, audio) [doc: spec]: an http(s) URL, a ready asset of that kind, or base64
    data whose ``media_type`` is of that kind [sim: the checks are the emulator's]."""
    if ref["type"] in ("url", "asset_id"):
        check_source(call, ref, param, "url", "asset_id", kind)
        return
    if ref["type"] != "base64":
        raise invalid("v3", f"{param}.type", f"{param}.type must be url, asset_id or base64")
    if not str(ref["media_type"]).startswith(f"{kind}/"):
        raise invalid("v3", f"{param}.media_type", f"{param}.media_type must be {kind}/*")
    try:
        if not base64.b64decode(ref["data"], validate=True):
            raise ValueError("empty")
    except (binascii.Error, ValueError):
        raise invalid("v3", f"{param}.data", f"{param}.data must be non-empty base64") from None
