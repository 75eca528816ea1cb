"""v3 batches and bulk statuses for assets, videos, lipsyncs and video translations.

A batch's items are real: videos made through ``POST /v3/videos``'s rules, lipsyncs and
translations in :mod:`.jobs`' store, assets through the direct-upload rules of :mod:`.assets`.
An item whose request breaks a rule is a ``failed`` item carrying the error; the others follow
their job on the emulator's clock [doc: routes, shapes, item statuses queued|processing|
completed|failed and the per-item id field ``video_id``; the rest sim]. Creating a batch of jobs
answers 202 ``{batch_id, status, total_items}`` [rep once: a third-party client's sample].
``GET .../statuses?<kind>_ids=&batch_ids=`` (at most 100 ids [doc]) reports each id (``not_found``
when unknown [doc]) and each item of each batch.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Final

from ..http import Call, Reply, invalid, v3
from ..payloads import PAYLOADS, Refusal
from ..state import Page
from . import assets, videos
from .catalogue import shaped
from .jobs import LIPSYNC, Kind, Records, start, status_of
from .translations import TRANSLATION

__all__ = ["Batch", "Batches"]

MAX_IDS: Final = 100
#: An item's own status -> the batch's word for it.
_WORDS: Final = {"pending": "queued", "pending_upload": "queued", "running": "processing",
                 "ready": "completed"}


@dataclass
class Item:
    """One item of a batch: the id it made, or the error that stopped it."""

    ref: str | None
    error: dict[str, Any] | None = None


@dataclass
class Batch:
    """A batch of one family's items."""

    id: str
    family: str
    created_at: float
    items: list[Item] = field(default_factory=list)


class Batches:
    """Every batch (one store per emulator state)."""

    def __init__(self, state: Any) -> None:
        self.state = state
        self.by_id: dict[str, Batch] = {}

    def add(self, family: str, items: list[Item]) -> Batch:
        """Store a new batch."""
        with self.state.lock:
            batch = Batch(self.state.new_id("batch_"), family, self.state.now(), items)
            self.by_id[batch.id] = batch
        return batch

    def get(self, family: str, batch_id: str) -> Batch:
        """A batch of ``family``, else 404 ``not_found`` on ``batch_id``."""
        with self.state.lock:
            batch = self.by_id.get(batch_id)
        if batch is None or batch.family != family:
            raise Refusal("v3.not_found", param="batch_id",
                           detail=f"{family} batch {batch_id!r} not found")
        return batch

    def of(self, ref: str) -> tuple[Batch, int] | None:
        """The batch an id belongs to and its index there."""
        with self.state.lock:
            for batch in self.by_id.values():
                for i, item in enumerate(batch.items):
                    if item.ref == ref:
                        return batch, i
        return None


def _error(err: Refusal, at: str) -> dict[str, Any]:
    p = PAYLOADS[err.pid]
    return {"code": p.code, "message": p.message.format(**err.fmt),
            "param": f"{at}.{err.param}" if err.param and not err.param.startswith(at)
            else err.param or at}


def _job(kind: Kind) -> Callable[[Call, Any, str], list[str]]:
    """Make an item's job(s) in :mod:`.jobs`' store."""
    return lambda call, body, at: [r.id for r in start(call, kind, body, at)]


def _video(call: Call, body: Any, at: str) -> list[str]:
    return [videos.create(replace(call, body=body))["video_id"]]


def _job_status(kind: Kind) -> Callable[[Call, str], str | None]:
    def status(call: Call, ref: str) -> str | None:
        rec = call.state.backend(Records).find(kind, ref)
        return None if rec is None else status_of(call.state, kind, rec)
    return status


def _video_status(call: Call, ref: str) -> str | None:
    with call.state.lock:
        video = call.state.videos.get(ref)
    return None if video is None else call.state.status(video)


def _asset_status(call: Call, ref: str) -> str | None:
    with call.state.lock:
        asset = call.state.assets.get(ref)
    return None if asset is None else asset.status


@dataclass(frozen=True)
class Family:
    """How a family's batches are made and read."""

    name: str
    status: Callable[[Call, str], str | None]
    field: str = ""
    make: Callable[[Call, Any, str], list[str]] | None = None


FAMILIES: Final[Mapping[str, Family]] = {
    "VideoBatches": Family("video", _video_status, "videos", _video),
    "LipsyncBatches": Family("lipsync", _job_status(LIPSYNC), "lipsyncs", _job(LIPSYNC)),
    "VideoTranslateBatches": Family("video translation", _job_status(TRANSLATION),
                                    "video_translations", _job(TRANSLATION)),
    "AssetBatches": Family("asset", _asset_status),
}


def _word(family: Family, call: Call, item: Item) -> str:
    if item.error is not None or item.ref is None:
        return "failed"
    raw = family.status(call, item.ref)
    return "failed" if raw is None else _WORDS.get(raw, raw)


def _summary(family: Family, call: Call, batch: Batch) -> dict[str, Any]:
    counts = Counter(_word(family, call, i) for i in batch.items)
    done = counts["completed"] + counts["failed"] == len(batch.items)
    status = ("processing" if not done else
              "failed" if counts["failed"] == len(batch.items) else "completed")
    return {"batch_id": batch.id, "status": status, "total_items": len(batch.items),
            "counts_by_status": dict(counts), "created_at": int(batch.created_at)}


def _create(family: Family) -> Callable[[Call], Reply]:
    assert family.make is not None
    make = family.make

    def create(call: Call) -> Reply:
        """Make every item (a broken one is a failed item); 202 with the batch's id."""
        items: list[Item] = []
        for i, body in enumerate(call.field(family.field) or ()):
            at = f"{family.field}[{i}]"
            try:
                items += [Item(ref) for ref in make(call, body, at)]
            except Refusal as err:
                items.append(Item(None, _error(err, at)))
        if not items:
            raise invalid("v3", family.field, f"{family.field} needs at least one item")
        batch = call.state.backend(Batches).add(family.name, items)
        summary = _summary(family, call, batch)
        return Reply({k: summary[k] for k in ("batch_id", "status", "total_items")}, 202)
    return create


def _get(family: Family) -> Callable[[Call], Any]:
    def get(call: Call) -> Any:
        """The batch's summary and one page of its items."""
        batch = call.state.backend(Batches).get(family.name, call.params["batch_id"])
        page = call.page(list(enumerate(batch.items, 1)), seq=lambda p: p[0])
        items = [{"item_index": n - 1, "status": _word(family, call, item),
                  "video_id": item.ref, "error": item.error} for n, item in page.items]
        return shaped(call, {**_summary(family, call, batch), "items": items,
                             "has_more": page.has_more, "next_token": page.next_token},
                      batch.id)
    return get


for _prefix, _family in FAMILIES.items():
    if _family.make is not None:
        v3(f"{_prefix}Create")(_create(_family))
    v3(f"{_prefix}Get")(_get(_family))


# ---------------------------------------------------------------------- bulk statuses
def _statuses(family: Family, ids_param: str) -> Callable[[Call], Any]:
    def statuses(call: Call) -> Any:
        """Each id's status (``not_found`` if unknown) and every item of each batch."""
        ids, batch_ids = call.args(ids_param), call.args("batch_ids")
        for name, given in ((ids_param, ids), ("batch_ids", batch_ids)):
            if len(given) > MAX_IDS:
                raise invalid("v3", name, f"at most {MAX_IDS} ids per request")
        store = call.state.backend(Batches)
        rows: list[dict[str, Any]] = []
        for ref in ids:
            where = store.of(ref)
            known = family.status(call, ref) is not None
            item = where[0].items[where[1]] if where else Item(ref)
            rows.append({"video_id": ref, "batch_id": where[0].id if where else None,
                         "item_index": where[1] if where else None, "error": item.error,
                         "status": _word(family, call, item) if known else "not_found"})
        for batch_id in batch_ids:
            with call.state.lock:
                batch = store.by_id.get(batch_id)
            if batch is None or batch.family != family.name:
                rows.append({"batch_id": batch_id, "status": "not_found"})
                continue
            rows += [{"video_id": item.ref, "batch_id": batch.id, "item_index": i,
                      "status": _word(family, call, item), "error": item.error}
                     for i, item in enumerate(batch.items)]
        return Page([shaped(call, r, str(n)) for n, r in enumerate(rows)], False, None)
    return statuses


v3("AssetStatusesList")(_statuses(FAMILIES["AssetBatches"], "asset_ids"))
v3("LipsyncStatusesList")(_statuses(FAMILIES["LipsyncBatches"], "lipsync_ids"))
v3("VideoTranslateStatusesList")(_statuses(FAMILIES["VideoTranslateBatches"],
                                           "video_translation_ids"))


# ---------------------------------------------------------------------- asset batches
@v3("AssetDirectUploadsBatchesCreate")
def direct_uploads(call: Call) -> Any:
    """POST /v3/assets/direct-uploads/batches [doc]: up to 100 direct uploads at once, each by
    the single upload's rules; a bad file is 400 naming ``files[i].<field>`` [sim]."""
    files = call.field("files") or []
    if not 1 <= len(files) <= MAX_IDS:
        raise invalid("v3", "files", f"files needs 1 to {MAX_IDS} entries")
    made: list[dict[str, Any]] = []
    for i, body in enumerate(files):
        try:
            made.append(assets.direct_create(replace(call, body=body)))
        except Refusal as err:
            raise Refusal(err.pid, param=f"files[{i}].{err.param}", status=err.status,
                           headers=err.headers, **err.fmt) from None
    batch = call.state.backend(Batches).add("asset", [Item(m["asset_id"]) for m in made])
    return {"batch_id": batch.id, "items": made}


@v3("AssetCompleteBatchesCreate")
def complete(call: Call) -> Reply:
    """POST /v3/assets/complete/batches [doc] -> 202: completes every uploaded asset of the
    batch by the single complete's rules; one that fails is a failed item [sim]."""
    batch = call.state.backend(Batches).get("asset", call.field("batch_id"))
    for i, item in enumerate(batch.items):
        if item.ref is None or item.error is not None:
            continue
        try:
            assets.complete(replace(call, params={"asset_id": item.ref}, body={}))
        except Refusal as err:
            item.error = _error(err, f"items[{i}]")
    summary = _summary(FAMILIES["AssetBatches"], call, batch)
    return Reply({k: summary[k] for k in ("batch_id", "status", "total_items")}, 202)
