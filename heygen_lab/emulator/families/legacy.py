"""The legacy v1/v2 routes: the upload host's raw-bytes uploads and the v1/v2 API.

HeyGen announced the end of v1/v2 for 2026-10-31 (one page says 2026-10-01) [doc]
(https://developers.heygen.com/endpoint-version-comparison,
https://developers.heygen.com/more-legacy-api). What they answer after that date is not
documented, so by default (``Emulator(legacy="available")``) these routes keep the behaviour last
documented or reported; ``Emulator(legacy="retired")`` answers every v1/v2 path with 410 Gone in
the route's envelope instead [sim] (:mod:`..http`, payloads ``v1/v2.endpoint_removed``).
"""

from __future__ import annotations

import re
from typing import Any, Final

from werkzeug.wrappers import Response

from ..facts import PHOTO_TYPES, V1_MAX_BYTES, V1_TYPES, kind_of
from ..http import Call, invalid, legacy
from ..payloads import Refusal, error_object
from ..state import (
    AVATARS,
    FAIL_MARKER,
    TALKING_PHOTOS,
    VOICES,
    Spool,
    StoredAsset,
    TalkingPhoto,
    Video,
)

COLOR: Final = re.compile(r"#[0-9a-fA-F]{6}")


def v1_asset(call: Call, a: StoredAsset) -> dict[str, Any]:
    """An asset as ``upload.heygen.com/v1/asset`` and ``/v1/asset/list`` show it [doc]."""
    data: dict[str, Any] = {
        "id": a.asset_id, "name": a.name, "file_type": a.kind, "folder_id": "", "meta": None,
        "created_ts": a.created_ts, "url": call.file_url(a.asset_id)}
    if data["file_type"] == "image":
        data["image_key"] = f"image/{a.asset_id}/original"
    return data


def _text(obj: Any, key: str) -> str | None:
    value = obj.get(key) if isinstance(obj, dict) else None
    return value if isinstance(value, str) and value else None


# ---------------------------------------------------------------------- upload host
def _raw_upload(call: Call, allowed: tuple[str, ...]) -> Spool:
    request = call.request
    empty = request.content_length == 0 or (request.content_length is None
                                           and "wsgi.input_terminated" not in request.environ)
    if request.mimetype.startswith("multipart/") or empty:
        raise Refusal("v1.asset_data_missing")
    if request.mimetype not in allowed:
        raise Refusal("v1.unsupported_content_type",
                       content_type=request.headers.get("Content-Type", ""),
                       allowed=", ".join(allowed))
    spool = call.spool(V1_MAX_BYTES, Refusal("v1.payload_too_large", limit=V1_MAX_BYTES))
    if spool.size == 0:
        spool.discard()
        raise Refusal("v1.asset_data_missing")
    return spool


@legacy("upload", "/v1/asset", ["POST"])
def upload_asset(call: Call) -> Response:
    """POST upload:/v1/asset -- raw bytes, Content-Type = the file's MIME type."""
    spool = _raw_upload(call, V1_TYPES)
    return call.ok(v1_asset(call, call.state.add_asset(spool, call.request.mimetype, None)))


@legacy("upload", "/v1/talking_photo", ["POST"])
def upload_talking_photo(call: Call) -> Response:
    """POST upload:/v1/talking_photo -- raw JPEG/PNG bytes."""
    call.gate("talking_photo")
    spool = _raw_upload(call, PHOTO_TYPES)
    state = call.state
    with state.lock:
        photo_id = state.new_id("tp_")
        spool.keep(state.object_path(photo_id))
        state.talking_photos[photo_id] = TalkingPhoto(photo_id, call.request.mimetype,
                                                      spool.path, int(state.now()))
    return call.ok({"talking_photo_id": photo_id, "talking_photo_url": call.file_url(photo_id)})


# ---------------------------------------------------------------------- API host: v1
@legacy("api", "/v1/asset", public=True)
@legacy("api", "/v1/talking_photo", public=True)
def wrong_host(call: Call) -> Response:
    """/v1/asset on the API host: the wrong-host mistake [rep once]."""
    raise Refusal("v1.wrong_host")


@legacy("api", "/v1/asset/list", ["GET"])
def list_assets(call: Call) -> Response:
    """GET /v1/asset/list [doc]."""
    return call.ok({"assets": [v1_asset(call, a) for a in call.state.ready_assets()]})


@legacy("api", "/v1/video_status.get", ["GET"])
def video_status(call: Call) -> Response:
    """GET /v1/video_status.get?video_id=... [doc]."""
    video_id = call.arg("video_id")
    if not video_id:
        raise invalid("v1", "video_id", "video_id is required")
    return call.ok(video_view(call, call.state.video(video_id, "v1"), "v1"))


def video_view(call: Call, video: Video, version: str) -> dict[str, Any]:
    """A video's status as v1 ``video_status.get`` (or the legacy v3 view) shows it."""
    status = call.state.status(video)
    done = status == "completed"
    data: dict[str, Any] = {
        "id": video.video_id, "status": status, "created_at": int(video.created_at),
        "duration": round(video.duration, 2) if done else None,
        "video_url": call.file_url(f"{video.video_id}.mp4") if done else None,
        "thumbnail_url": call.file_url(f"{video.video_id}.png") if done else None,
        "callback_id": video.callback_id,
        "error": error_object(f"{version}.video_render_failed", call.service.overrides)
        if status == "failed" else None}
    return data


# ---------------------------------------------------------------------- API host: v2 video
def _check_character(call: Call, c: Any, at: str) -> None:
    version = call.version
    if not isinstance(c, dict):
        raise invalid(version, f"{at}.character", f"{at}.character must be an object")
    kind = c.get("type")
    if kind == "avatar":
        avatar_id = _text(c, "avatar_id")
        if avatar_id is None:
            raise invalid(version, f"{at}.character.avatar_id",
                          f"{at}.character.avatar_id is required")
        if avatar_id not in {a["avatar_id"] for a in AVATARS}:
            raise Refusal(f"{version}.avatar_not_found", param=f"{at}.character.avatar_id",
                           what="avatar", avatar_id=avatar_id)
    elif kind == "talking_photo":
        photo_id = _text(c, "talking_photo_id")
        if photo_id is None:
            raise invalid(version, f"{at}.character.talking_photo_id",
                          f"{at}.character.talking_photo_id is required")
        with call.state.lock:
            known = photo_id in call.state.talking_photos
        if not known and photo_id not in {p["talking_photo_id"] for p in TALKING_PHOTOS}:
            raise Refusal(f"{version}.avatar_not_found", what="talking photo",
                           param=f"{at}.character.talking_photo_id", avatar_id=photo_id)
    else:
        raise invalid(version, f"{at}.character.type",
                      "character.type must be 'avatar' or 'talking_photo'")


def check_source(call: Call, obj: dict[str, Any], at: str, url_key: str, asset_key: str,
                 kind: str) -> None:
    """Exactly one of a URL or an existing ready asset of the right kind [doc]."""
    version = call.version
    given = [k for k in (url_key, asset_key) if obj.get(k) not in (None, "")]
    if len(given) != 1:
        raise invalid(version, at, f"{at}: exactly one of {url_key} / {asset_key} is required")
    value = obj[given[0]]
    if given[0] == url_key:
        if not (isinstance(value, str) and value.startswith(("http://", "https://"))):
            raise invalid(version, f"{at}.{url_key}", f"{at}.{url_key} must be an http(s) URL")
        return
    with call.state.lock:
        asset = call.state.assets.get(value) if isinstance(value, str) else None
    if asset is None or asset.status != "ready":
        raise Refusal(f"{version}.not_found", param=f"{at}.{asset_key}",
                       detail=f"asset {value!r} not found")
    if kind_of(asset.mime_type) != kind:
        raise invalid(version, f"{at}.{asset_key}",
                      f"asset {value!r} is {asset.mime_type}, not {kind}")


def _check_scenes(call: Call, body: dict[str, Any]) -> tuple[float, bool]:
    """Validate ``video_inputs``; return (simulated duration, whether the render fails)."""
    version = call.version
    scenes = body.get("video_inputs")
    if not isinstance(scenes, list) or not 1 <= len(scenes) <= 50:
        raise invalid(version, "video_inputs", "video_inputs must be a list of 1 to 50 scenes")
    duration, fails = 0.0, False
    for i, scene in enumerate(scenes):
        at = f"video_inputs[{i}]"
        if not isinstance(scene, dict):
            raise invalid(version, at, f"{at} must be an object")
        _check_character(call, scene.get("character"), at)
        voice = scene.get("voice")
        vkind = voice.get("type") if isinstance(voice, dict) else None
        if isinstance(voice, dict) and vkind == "text":
            voice_id, text = _text(voice, "voice_id"), _text(voice, "input_text")
            if voice_id is None or text is None or len(text) > 5000:
                raise invalid(version, f"{at}.voice",
                              f"{at}.voice needs voice_id and input_text (1-5000 characters)")
            if voice_id not in {v["voice_id"] for v in VOICES}:
                raise Refusal(f"{version}.voice_not_found", param=f"{at}.voice.voice_id",
                               voice_id=voice_id)
            duration += max(1.0, len(text.split()) / 2.5)
            fails = fails or FAIL_MARKER in text
        elif isinstance(voice, dict) and vkind == "audio":
            check_source(call, voice, f"{at}.voice", "audio_url", "audio_asset_id", "audio")
            duration += 10.0
        else:
            raise invalid(version, f"{at}.voice",
                          f"{at}.voice must be an object with type 'text' or 'audio'")
        bg = scene.get("background")
        if bg is None:
            continue
        bkind = bg.get("type") if isinstance(bg, dict) else None
        if isinstance(bg, dict) and bkind == "color":
            if not COLOR.fullmatch(str(bg.get("value", bg.get("color", "")))):
                raise invalid(version, f"{at}.background",
                              "a color background needs value '#rrggbb'")
        elif isinstance(bg, dict) and bkind in ("image", "video"):
            check_source(call, bg, f"{at}.background", "url", f"{bkind}_asset_id", str(bkind))
        else:
            raise invalid(version, f"{at}.background",
                          "background.type must be color, image or video")
    dim = body.get("dimension")
    if dim is not None and not (isinstance(dim, dict) and all(
            isinstance(dim.get(k), int) and not isinstance(dim.get(k), bool)
            and 1 <= dim[k] <= 4096 for k in ("width", "height"))):
        raise invalid(version, "dimension",
                      "dimension needs integer width and height from 1 to 4096")
    return duration, fails


@legacy("api", "/v2/video/generate", ["POST"])
def generate_video(call: Call) -> Response:
    """POST /v2/video/generate [many]."""
    body = call.json()
    duration, fails = _check_scenes(call, body)
    title = body.get("title")
    video = call.state.create_video("v2", duration=duration, fails=fails,
                                    title=title if isinstance(title, str) else None)
    return call.ok({"video_id": video.video_id})


# ---------------------------------------------------------------------- catalogue and account
@legacy("api", "/v2/avatars", ["GET"])
def avatars(call: Call) -> Response:
    """GET /v2/avatars [many]: a small fixed catalogue [sim ids] plus uploaded photos."""
    preview = call.file_url("preview.png")
    with call.state.lock:
        uploaded = [{"talking_photo_id": p.talking_photo_id,
                     "talking_photo_name": p.talking_photo_id,
                     "preview_image_url": call.file_url(p.talking_photo_id)}
                    for p in call.state.talking_photos.values()]
    return call.ok({
        "avatars": [{**a, "preview_image_url": preview, "preview_video_url": None,
                     "premium": False} for a in AVATARS],
        "talking_photos": [{**p, "preview_image_url": preview} for p in TALKING_PHOTOS]
        + uploaded})


@legacy("api", "/v2/avatar_group.list", ["GET"])
def avatar_groups(call: Call) -> Response:
    """GET /v2/avatar_group.list [doc: https://docs.heygen.com/reference/list-all-avatar-groups,
    with ``include_public``]: ``data.avatar_group_list`` of ``{id, name, group_type,
    train_status}`` [many: third-party clients read these]; the groups (one per catalogue
    avatar, public only with ``include_public=true``) and ``created_at`` [sim]."""
    public = (call.arg("include_public") or "").lower() == "true"
    groups = [{"id": f"{a['avatar_id']}_group", "name": a["avatar_name"],
               "group_type": "PUBLIC_PHOTO", "train_status": "ready", "created_at": 0}
              for a in AVATARS] if public else []
    with call.state.lock:
        groups += [{"id": f"{p.talking_photo_id}_group", "name": p.talking_photo_id,
                    "group_type": "PHOTO", "train_status": "ready",
                    "created_at": p.created_ts}
                   for p in call.state.talking_photos.values()]
    return call.ok({"avatar_group_list": groups})


@legacy("api", "/v2/voices", ["GET"])
def voices(call: Call) -> Response:
    """GET /v2/voices [doc via a reconstructed reference]: ``preview_audio`` is a URL [doc]
    (the emulator serves no audio there [sim]); ``support_interactive_avatar`` [many: several
    clients filter on it]; its value, ``support_pause`` and ``emotion_support`` [sim]."""
    return call.ok({"voices": [
        {**v, "preview_audio": call.file_url(f"{v['voice_id']}-preview.mp3"),
         "support_pause": True, "emotion_support": False,
         "support_interactive_avatar": v["gender"] == "female"} for v in VOICES]})


@legacy("api", "/v2/user/remaining_quota", ["GET"])
def remaining_quota(call: Call) -> Response:
    """GET /v2/user/remaining_quota [doc]: credits (free capped plans: videos left today [sim])."""
    plan, state = call.state.plan, call.state
    with state.lock:
        if plan.video_cost == 0 and plan.daily_video_cap is not None:
            remaining = max(0, plan.daily_video_cap - state.videos_today())
        else:
            remaining = state.credits
    # details{api, seat}: one typed client models it [once] (teamduality/heygen-typescript-sdk);
    # the split (everything on api, no seat quota) is the emulator's [sim].
    return call.ok({"remaining_quota": remaining, "details": {"api": remaining, "seat": 0}})


@legacy("api", "/v1/user/me", ["GET"])
def user_me(call: Call) -> Response:
    """GET /v1/user/me [once: teamduality/heygen-typescript-sdk]: the v1 envelope (``msg`` and
    ``message`` null [doc for v1]) around ``{username, email, first_name, last_name}``; the
    values are the v3 user's [sim]."""
    from .users import me  # the one emulator user, as GET /v3/users/me shows it

    user = me(call)
    return call.ok({k: user[k] for k in ("username", "email", "first_name", "last_name")})
