"""A generic store of v3 jobs and resources, and the job families it serves as tables.

A :class:`Kind` says what one family calls things (id prefix, path parameter, status words, what
a finished job carries); :func:`serve` registers its create/get/list/update/delete handlers from
the operation names. Records keep the checked request body, so answers echo the fields whose
names the response schema shares (:mod:`..synth` keeps only those that fit). Progress is
:func:`~..state.job_status` on the emulator's clock; a ``[fail]`` anywhere in the request (a
title, prompt, text or URL) makes the job fail [sim]. Ids referenced in a body (assets, avatars,
voices, brand kits, glossaries, styles) must exist, else 404 naming the field's path.

Served here [doc: routes and shapes from the spec; progress, outputs and failures sim]: lipsync
(create, get, list, update, delete), background removal (create, get, list, delete; a repeated
body ``request_id`` returns the first job [doc]) and AI clipping (create -> 202, get, list,
delete; clips per requested duration once completed).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from werkzeug.wrappers import Response

from ..http import Call, Reply, legacy, v3
from ..payloads import Refusal, error_object
from ..state import (
    AVATARS,
    COMPLETED_AFTER,
    FAIL_MARKER,
    TINY_MP4,
    VOICES,
    EmulatorState,
    Page,
    job_status,
    tiny_png,
)
from ._store import Store
from .catalogue import BRAND_KITS, GLOSSARIES, SOUNDS, STYLES, shaped, strings

__all__ = ["Kind", "Record", "Records", "check_refs", "fails", "serve", "start", "view"]

#: [sim] seconds of media every finished job reports.
JOB_SECONDS: Final = 10.0
#: [sim] bytes served for a finished job's files, by extension.
_MEDIA: Final[Mapping[str, tuple[bytes, str]]] = {
    "mp4": (TINY_MP4, "video/mp4"), "png": (tiny_png(), "image/png"),
    "mp3": (b"ID3\x04\x00\x00\x00\x00\x00\x00\xff\xfb\x90\x00" + b"\x00" * 64, "audio/mpeg"),
    "srt": (b"1\n00:00:00,000 --> 00:00:01,000\nemulator\n", "application/x-subrip"),
    "vtt": (b"WEBVTT\n\n00:00:00.000 --> 00:00:01.000\nemulator\n", "text/vtt"),
}


@dataclass
class Record:
    """One stored job or resource: the checked request fields plus the emulator's own."""

    kind: str
    id: str
    seq: int
    created_at: float
    fields: dict[str, Any]
    fails: bool
    #: Set by a family when the job is cut short (a stopped agent session) [sim].
    stopped: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Kind:
    """What one family calls things, and what its finished jobs carry."""

    name: str
    prefix: str
    #: The path parameter of its routes; also the ``param`` of its 404 and an answer's id field.
    param: str
    #: :func:`job_status` word -> this family's word (missing: the same word).
    words: Mapping[str, str] = field(default_factory=dict)
    #: Output URL fields of a completed job -> file extension.
    media: Mapping[str, str] = field(default_factory=dict)
    #: One record per element of this request list (its singular names the element).
    fanout: str | None = None
    #: A body field that makes a repeated create return the first job [doc for request_id].
    dedupe: str | None = None
    #: Family-specific fields of the answer, by (call, record, status).
    extra: Callable[[Call, Record, str], dict[str, Any]] | None = None
    #: The status of a record now, when not the clock's job progression.
    status: Callable[[EmulatorState, Record], str] | None = None
    #: Family rules on a checked request body, by (call, body, path prefix).
    check: Callable[[Call, dict[str, Any], str], None] | None = None


class Records:
    """Every record of every kind: one :class:`~._store.Store` per kind (one per emulator)."""

    def __init__(self, state: EmulatorState) -> None:
        self.state = state
        self.stores: dict[str, Store[Record]] = {}

    def _store(self, kind: Kind) -> Store[Record]:
        with self.state.lock:
            if kind.name not in self.stores:
                self.stores[kind.name] = Store(self.state, lambda rid: Refusal(
                    "v3.not_found", param=kind.param, detail=f"{kind.name} {rid!r} not found"))
            return self.stores[kind.name]

    def add(self, kind: Kind, fields: dict[str, Any], fails: bool) -> Record:
        """Store a new record, created now."""
        state = self.state
        with state.lock:
            return self._store(kind).add(Record(kind.name, state.new_id(kind.prefix),
                                                state.next_seq(), state.now(), fields, fails))

    def find(self, kind: Kind, record_id: str) -> Record | None:
        """A record by id, or None."""
        store = self._store(kind)
        with self.state.lock:
            return store.get(record_id) if record_id in store else None

    def get(self, kind: Kind, record_id: str) -> Record:
        """A record by id, else 404 ``not_found`` naming the kind's parameter."""
        return self._store(kind).get(record_id)

    def all(self, kind: Kind) -> list[Record]:
        """Records of a kind in creation order."""
        return self._store(kind).where()

    def delete(self, kind: Kind, record_id: str) -> Record:
        """Remove a record (404 if unknown)."""
        return self._store(kind).pop(record_id)


# ---------------------------------------------------------------------- request rules
def _known(ids: Any) -> Callable[[Call, str], bool]:
    return lambda call, value: value in ids


def _asset(call: Call, value: str) -> bool:
    with call.state.lock:
        asset = call.state.assets.get(value)
    return asset is not None and asset.status == "ready"


#: Body field -> (does the id exist?, the 404 payload and its format) [doc codes; sim rule].
REFS: Final[Mapping[str, tuple[Callable[[Call, str], bool], str, dict[str, str]]]] = {
    "asset_id": (_asset, "v3.not_found", {"what": "asset"}),
    "avatar_id": (lambda call, v: v in {a["avatar_id"] for a in AVATARS}
                  or v in call.state.custom_avatar_ids, "v3.avatar_not_found",
                  {"what": "avatar"}),
    "voice_id": (lambda call, v: v in {x["voice_id"] for x in VOICES}
                 or v in call.state.custom_voice_ids, "v3.voice_not_found", {}),
    "brand_kit_id": (_known({k["brand_kit_id"] for k in BRAND_KITS}), "v3.not_found",
                     {"what": "brand kit"}),
    "brand_glossary_id": (_known({g["brand_glossary_id"] for g in GLOSSARIES}), "v3.not_found",
                          {"what": "brand glossary"}),
    "style_id": (_known({s["style_id"] for s in STYLES}), "v3.not_found", {"what": "style"}),
}


def _walk(value: Any, at: str) -> Iterator[tuple[str, str, Any]]:
    """(path, key, value) of every object member inside a JSON value."""
    if isinstance(value, Mapping):
        for key, v in value.items():
            path = f"{at}.{key}" if at else str(key)
            yield path, str(key), v
            yield from _walk(v, path)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _walk(v, f"{at}[{i}]")


def check_refs(call: Call, body: Any, at: str = "") -> None:
    """404 for the first id in ``body`` (at any depth) that the emulator does not know."""
    for path, key, value in _walk(body, at):
        if key in REFS and isinstance(value, str) and value:
            exists, pid, fmt = REFS[key]
            if not exists(call, value):
                what = fmt.get("what", key)
                raise Refusal(pid, param=path, avatar_id=value, voice_id=value, what=what,
                               detail=f"{what} {value!r} not found")


def fails(body: Any) -> bool:
    """Whether the request asks the emulator to fail the job: ``[fail]`` in any string [sim]."""
    return any(FAIL_MARKER in s for s in strings(body))


def start(call: Call, kind: Kind, body: dict[str, Any], at: str = "") -> list[Record]:
    """Create the records of one checked request body (one per ``fanout`` element)."""
    check_refs(call, body, at)
    if kind.check is not None:
        kind.check(call, body, at)
    store = call.state.backend(Records)
    if kind.dedupe and body.get(kind.dedupe):
        with call.state.lock:
            for rec in store.all(kind):
                if rec.fields.get(kind.dedupe) == body[kind.dedupe]:
                    return [rec]
    failing = fails(body)
    if kind.fanout is None:
        return [store.add(kind, dict(body), failing)]
    single = kind.fanout.removesuffix("s")
    return [store.add(kind, {**body, single: element}, failing)
            for element in dict.fromkeys(body[kind.fanout])]


# ---------------------------------------------------------------------- answers
def status_of(state: EmulatorState, kind: Kind, rec: Record) -> str:
    """The record's status now, in the family's words."""
    if kind.status is not None:
        return kind.status(state, rec)
    word = job_status(rec.created_at, state.now(), rec.fails)
    return kind.words.get(word, word)


def job_url(call: Call, name: str) -> str:
    """Where the emulator serves a finished job's file."""
    return f"{call.service.api_base}/_files/jobs/{name}"


def facts(call: Call, kind: Kind, rec: Record) -> dict[str, Any]:
    """What the emulator really knows of a record now; the schema picks the names it has."""
    status = status_of(call.state, kind, rec)
    done, failed = status == "completed", status == "failed"
    message = (error_object("v3.job_failed", call.service.overrides, what=kind.name)["message"]
               if failed else None)
    out: dict[str, Any] = {
        **rec.fields, "id": rec.id, kind.param: rec.id, "status": status,
        "created_at": int(rec.created_at),
        "completed_at": int(rec.created_at + COMPLETED_AFTER) if done or failed else None,
        "progress": 100 if done or failed else 0 if status in ("pending", "thinking") else 50,
        "duration": JOB_SECONDS if done else None, "failure_message": message,
        "error": message}
    out.update({name: job_url(call, f"{rec.id}-{name}.{ext}") if done else None
                for name, ext in kind.media.items()})
    if kind.extra is not None:
        out.update(kind.extra(call, rec, status))
    return out


def view(call: Call, kind: Kind, rec: Record, **extra: Any) -> Any:
    """The record as the call's operation shows it (schema-shaped, deterministic)."""
    return shaped(call, {**facts(call, kind, rec), **extra}, rec.id)


def serve(kind: Kind, *, create: str | None = None, get: str | None = None,
          list_: str | None = None, update: str | None = None, delete: str | None = None,
          accepted: bool = False) -> None:
    """Register the generic handlers of ``kind`` under these operation names."""
    def store(call: Call) -> Records:
        return call.state.backend(Records)

    if create:
        @v3(create)
        def _create(call: Call) -> Any:
            """Create one job per request (or per ``fanout`` element)."""
            recs = start(call, kind, call.body)
            if accepted:  # no response schema: 202 with the id [sim shape]
                return Reply({"id": recs[0].id, "status": status_of(call.state, kind, recs[0])},
                             202)
            return view(call, kind, recs[0], **{f"{kind.param}s": [r.id for r in recs]})
    if get:
        @v3(get)
        def _get(call: Call) -> Any:
            """One record by its path id."""
            return view(call, kind, store(call).get(kind, call.params[kind.param]))
    if list_:
        @v3(list_)
        def _list(call: Call) -> Page:
            """Records in creation order, paginated by ``limit`` / ``token``."""
            return call.page(store(call).all(kind), lambda r: view(call, kind, r))
    if update:
        @v3(update)
        def _update(call: Call) -> Any:
            """Change the record's stored fields (``title``)."""
            with call.state.lock:
                rec = store(call).get(kind, call.params[kind.param])
                rec.fields.update(call.body)
            return view(call, kind, rec)
    if delete:
        @v3(delete)
        def _delete(call: Call) -> Any:
            """Remove the record."""
            rec = store(call).delete(kind, call.params[kind.param])
            return view(call, kind, rec, deleted=True)


@legacy("api", "/_files/jobs/<name>", ["GET"], public=True)
def job_file(call: Call) -> Response:
    """GET /_files/jobs/{name} -- a finished job's output, or a library sound (emulator only)."""
    name = call.params["name"]
    stem, _, ext = name.rpartition(".")
    record_id = stem.rpartition("-")[0]
    state = call.state
    with state.lock:
        found = [(k, r) for k, store in state.backend(Records).stores.items()
                 for r in store.where(lambda r: r.id == record_id)]
    ready = bool(found) and status_of(state, KINDS[found[0][0]], found[0][1]) == "completed"
    if ext in _MEDIA and (ready or (ext == "mp3" and stem in {s["id"] for s in SOUNDS})):
        data, mime = _MEDIA[ext]
        return Response(data, 200, mimetype=mime)
    raise Refusal("storage.not_found")


# ---------------------------------------------------------------------- the job families
def _layers(call: Call, rec: Record, status: str) -> dict[str, Any]:
    names = rec.fields.get("layers") or ["foreground"]
    done = status == "completed"
    return {"layers": {n: job_url(call, f"{rec.id}-{n}.mp4") for n in names} if done else {}}


def _clips(call: Call, rec: Record, status: str) -> dict[str, Any]:
    settings = rec.fields.get("output_settings") or {}
    if status != "completed":
        return {"clips": []}
    lengths = settings.get("duration_types") or ["60"]
    return {"source_duration": 600.0, "clips": [
        {"id": f"{rec.id}_{i}", "status": "completed",
         "aspect_ratio": settings.get("aspect_ratio", "portrait"),
         "duration_seconds": 90.0 if kind == "long" else float(kind),
         "video_url": job_url(call, f"{rec.id}-clip{i}.mp4"),
         "thumbnail_url": job_url(call, f"{rec.id}-clip{i}.png"),
         "virality_score": 90 - 10 * i, "failure_message": None}
        for i, kind in enumerate(lengths)]}


LIPSYNC: Final = Kind("lipsync", "ls_", "lipsync_id", {"processing": "running"},
                      {"video_url": "mp4", "caption_url": "srt"})
BACKGROUND_REMOVAL: Final = Kind("background removal", "bgr_", "job_id", dedupe="request_id",
                                 extra=_layers)
AI_CLIPPING: Final = Kind("ai clipping", "clip_", "job_id", {"processing": "running"},
                          extra=_clips)
#: Every kind by name (families add theirs), for the file route and the batches.
KINDS: Final[dict[str, Kind]] = {k.name: k for k in (LIPSYNC, BACKGROUND_REMOVAL, AI_CLIPPING)}

serve(LIPSYNC, create="LipsyncCreate", get="LipsyncGet", list_="LipsyncList",
      update="LipsyncUpdate", delete="LipsyncDelete")
serve(BACKGROUND_REMOVAL, create="BackgroundRemovalCreate", get="BackgroundRemovalGet",
      list_="BackgroundRemovalList", delete="BackgroundRemovalDelete")
serve(AI_CLIPPING, create="AiClippingCreate", get="AiClippingGet", list_="AiClippingList",
      delete="AiClippingDelete", accepted=True)
