"""v3 avatars: groups (list, get, create, delete, consent) and their looks (list, get, update,
delete).

The public catalogue is one group per entry of :data:`~..state.AVATARS`, whose id is the group's
only look (so ``POST /v3/videos`` keeps taking it); the group ids ``group_<look id>`` are
simulated. A created group starts ``processing`` and is ``completed`` :data:`READY_AFTER`
seconds later on the emulator's clock (``failed`` if its name or prompt holds ``[fail]``); a
digital twin waits in ``pending_consent`` until ``POST /v3/avatars/{group_id}/consent``. Created
looks are usable in ``POST /v3/videos`` at once [sim]; deleting them takes them out again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from ..http import Call, invalid, v3
from ..payloads import Refusal
from ..state import AVATARS, FAIL_MARKER, VOICES, EmulatorState, Page
from ._store import PUBLIC_CREATED_AT, Store, check_media, refuse_public, ripen

#: AvatarCreate ``type`` -> (the look's ``avatar_type``, its media field, the media's kind) [sim].
VARIANTS: Final = {
    "photo": ("photo_avatar", "file", "image"),
    "digital_twin": ("digital_twin", "file", "video"),
    "prompt": ("photo_avatar", "reference_images", "image"),
}
#: Group status by precedence: the first one any of its looks has [sim].
_PRECEDENCE: Final = ("pending_consent", "processing", "completed", "failed")


@dataclass
class Look:
    """One look (``avatar_id`` in videos) of a group."""

    id: str
    group_id: str
    name: str
    avatar_type: str
    seq: int
    public: bool = False
    gender: str | None = None
    default_voice_id: str | None = None
    #: When processing started; None while the group's consent is pending.
    started_at: float | None = None
    fails: bool = False


@dataclass
class Group:
    """An avatar group: a person (or photo subject) with one or more looks."""

    id: str
    name: str
    created_at: float
    seq: int
    public: bool = False
    gender: str | None = None
    default_voice_id: str | None = None
    #: None unless the group holds a digital twin: then ``pending``, later ``approved`` [sim].
    consent_status: str | None = None


def _avatar_missing(param: str, what: str) -> Callable[[str], Refusal]:
    """The 404 for an unknown id of ``what`` named by ``param`` [doc: code]."""
    return lambda rid: Refusal("v3.avatar_not_found", param=param, what=what, avatar_id=rid)


class AvatarBackend:
    """Groups and looks, seeded with the public catalogue; the rules of avatars."""

    def __init__(self, state: EmulatorState) -> None:
        self.state = state
        self.groups: Store[Group] = Store(state, _avatar_missing("group_id", "avatar group"))
        self.looks: Store[Look] = Store(state, _avatar_missing("look_id", "avatar look"))
        for entry in AVATARS:
            look_id, gender = entry["avatar_id"], entry["gender"]
            voice = next((v["voice_id"] for v in VOICES if v["gender"] == gender), None)
            group = self.groups.add(Group(f"group_{look_id}", entry["avatar_name"],
                                          PUBLIC_CREATED_AT, state.next_seq(), True, gender,
                                          voice))
            self.looks.add(Look(look_id, group.id, entry["avatar_name"], "studio_avatar",
                                state.next_seq(), True, gender, voice, PUBLIC_CREATED_AT))

    # ---- reading ----
    def status(self, look: Look) -> str:
        """The look's status now (see :func:`ripen`)."""
        return ripen(look.started_at, self.state.now(), look.fails)

    def looks_of(self, group: Group) -> list[Look]:
        """The group's looks in creation order."""
        return self.looks.where(lambda lk: lk.group_id == group.id)

    def group_status(self, group: Group) -> str | None:
        """The most pressing status among the group's looks (None when it has none) [sim]."""
        found = {self.status(lk) for lk in self.looks_of(group)}
        return next((s for s in _PRECEDENCE if s in found), None)

    # ---- rules ----
    def create(self, kind: str, name: str, fails: bool, group_id: str | None) -> Look:
        """A new look, in a new group or (``group_id``) in one of the account's groups."""
        state = self.state
        avatar_type = VARIANTS[kind][0]
        with state.lock:
            if group_id is None:
                group = self.groups.add(Group(state.new_id("avg_"), name, state.now(),
                                              state.next_seq()))
            elif group_id not in self.groups:
                raise _avatar_missing("avatar_group_id", "avatar group")(group_id)
            else:
                group = self.groups.get(group_id)
                refuse_public(group.public, "avatar group", group_id, "avatar_group_id")
            if avatar_type == "digital_twin" and group.consent_status is None:
                group.consent_status = "pending"
            waits = avatar_type == "digital_twin" and group.consent_status == "pending"
            look = self.looks.add(Look(state.new_id("avl_"), group.id, name, avatar_type,
                                       state.next_seq(), started_at=None if waits else state.now(),
                                       fails=fails))
            state.custom_avatar_ids.add(look.id)
        return look

    def consent(self, group_id: str) -> Group:
        """Record consent: the group's waiting looks start processing [sim: at once]."""
        with self.state.lock:
            group = self.groups.get(group_id)
            refuse_public(group.public, "avatar group", group_id, "group_id")
            if group.consent_status is None:
                raise Refusal("v3.conflict", param="group_id",
                               detail=f"avatar group {group_id!r} holds no digital twin; "
                                      "it needs no consent")
            group.consent_status = "approved"
            for look in self.looks_of(group):
                if look.started_at is None:
                    look.started_at = self.state.now()
        return group

    def delete_look(self, look_id: str) -> Look:
        """Delete one of the account's looks (its group stays, possibly empty) [sim]."""
        with self.state.lock:
            look = self.looks.get(look_id)
            refuse_public(look.public, "avatar look", look_id, "look_id")
            self.looks.pop(look_id)
            self.state.custom_avatar_ids.discard(look_id)
        return look

    def delete_group(self, group_id: str) -> Group:
        """Delete one of the account's groups with all its looks."""
        with self.state.lock:
            group = self.groups.get(group_id)
            refuse_public(group.public, "avatar group", group_id, "group_id")
            for look in self.looks_of(group):
                self.delete_look(look.id)
            self.groups.pop(group_id)
        return group


def _backend(call: Call) -> AvatarBackend:
    return call.state.backend(AvatarBackend)


def _error(status: str) -> dict[str, str] | None:
    return ({"code": "avatar_training_failed", "message": "the avatar could not be trained"}
            if status == "failed" else None)


def group_item(call: Call, group: Group) -> dict[str, Any]:
    """A group as the avatar routes show it [doc: spec; preview image and error sim]."""
    backend = _backend(call)
    status = backend.group_status(group)
    return {"id": group.id, "name": group.name, "created_at": int(group.created_at),
            "looks_count": len(backend.looks_of(group)), "status": status,
            "consent_status": group.consent_status, "gender": group.gender,
            "default_voice_id": group.default_voice_id,
            "preview_image_url": call.file_url("preview.png") if status == "completed" else None,
            "preview_video_url": None, "error": _error(status or "")}


def look_item(call: Call, look: Look) -> dict[str, Any]:
    """A look as the look routes show it [doc: spec; sizes, engines and tags sim]."""
    status = _backend(call).status(look)
    return {"id": look.id, "name": look.name, "avatar_type": look.avatar_type,
            "group_id": look.group_id, "status": status, "gender": look.gender,
            "default_voice_id": look.default_voice_id,
            "preview_image_url": call.file_url("preview.png") if status == "completed" else None,
            "preview_video_url": None, "image_width": None, "image_height": None,
            "preferred_orientation": None, "supported_api_engines": [], "tags": [],
            "error": _error(status)}


def _owned_by(ownership: str | None) -> Callable[[Group | Look], bool]:
    """A filter on ``public`` for ``ownership=public|private`` (None: everything)."""
    return lambda record: ownership is None or record.public == (ownership == "public")


# ---------------------------------------------------------------------- groups
@v3("AvatarList")
def list_(call: Call) -> Page:
    """GET /v3/avatars?ownership=&limit=&token= [doc]; public catalogue first [sim]."""
    return call.page(_backend(call).groups.where(_owned_by(call.arg("ownership"))),
                   lambda g: group_item(call, g))


@v3("AvatarGet")
def get(call: Call) -> Any:
    """GET /v3/avatars/{group_id} [doc]."""
    return group_item(call, _backend(call).groups.get(call.params["group_id"]))


@v3("AvatarCreate")
def create(call: Call) -> Any:
    """POST /v3/avatars -- ``type`` photo | digital_twin | prompt [doc: spec]; the media and
    ids are checked, and the new look ripens on the clock [sim]."""
    body, kind = call.body, call.body["type"]
    _, field, media_kind = VARIANTS[kind]
    if not body["name"].strip():
        raise invalid("v3", "name", "name must not be blank")
    refs = body.get(field) or []
    for i, ref in enumerate(refs if isinstance(refs, list) else [refs]):
        check_media(call, ref, f"{field}[{i}]" if isinstance(refs, list) else field, media_kind)
    backend = _backend(call)
    if body.get("avatar_id") and body["avatar_id"] not in backend.looks:
        raise _avatar_missing("avatar_id", "avatar look")(body["avatar_id"])
    text = f"{body['name']} {body.get('prompt') or ''}"
    look = backend.create(kind, body["name"], FAIL_MARKER in text, body.get("avatar_group_id"))
    return {"avatar_group": group_item(call, backend.groups.get(look.group_id)),
            "avatar_item": look_item(call, look)}


@v3("AvatarDelete")
def delete(call: Call) -> Any:
    """DELETE /v3/avatars/{group_id} [doc]; the public catalogue refuses with 403 [sim]."""
    return {"id": _backend(call).delete_group(call.params["group_id"]).id}


@v3("AvatarConsentCreate")
def consent(call: Call) -> Any:
    """POST /v3/avatars/{group_id}/consent [doc]; consent counts at once, ``url`` is null
    (HeyGen's consent page has no emulator counterpart), a video is checked [sim]."""
    if call.field("consent_video"):
        check_media(call, call.field("consent_video"), "consent_video", "video")
    group = _backend(call).consent(call.params["group_id"])
    return {"avatar_group": group_item(call, group), "url": None}


# ---------------------------------------------------------------------- looks
@v3("AvatarLooksList")
def looks_list(call: Call) -> Page:
    """GET /v3/avatars/looks?group_id=&avatar_type=&ownership=&limit=&token= [doc]."""
    group_id, avatar_type = call.arg("group_id"), call.arg("avatar_type")
    owned = _owned_by(call.arg("ownership"))
    looks = _backend(call).looks.where(
        lambda lk: owned(lk) and group_id in (None, lk.group_id)
        and avatar_type in (None, lk.avatar_type))
    return call.page(looks, lambda lk: look_item(call, lk))


@v3("AvatarLooksGet")
def looks_get(call: Call) -> Any:
    """GET /v3/avatars/looks/{look_id} [doc]."""
    return look_item(call, _backend(call).looks.get(call.params["look_id"]))


@v3("AvatarLooksUpdate")
def looks_update(call: Call) -> Any:
    """PATCH /v3/avatars/looks/{look_id} -- rename [doc]; public looks refuse with 403 [sim]."""
    name = call.field("name")
    look = _backend(call).looks.get(call.params["look_id"])
    refuse_public(look.public, "avatar look", look.id, "look_id")
    if name is not None:
        if not name.strip():
            raise invalid("v3", "name", "name must not be blank")
        look.name = name
    return look_item(call, look)


@v3("AvatarLooksDelete")
def looks_delete(call: Call) -> Any:
    """DELETE /v3/avatars/looks/{look_id} [doc]; public looks refuse with 403 [sim]."""
    return {"id": _backend(call).delete_look(call.params["look_id"]).id}
