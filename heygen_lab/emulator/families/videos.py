"""v3 videos: create (avatar, image, cinematic_avatar, studio), get, list, delete, statuses.

The spec has already checked each body's shape (the variant named by ``type``, its required
fields, enums); what is left here is HeyGen's business: the ids must exist, a script needs a
voice, exactly one audio source, and the plan must allow (and pay for) the render.
"""

from __future__ import annotations

from typing import Any

from ..http import Call, invalid, v3
from ..payloads import Refusal, error_object
from ..state import AVATARS, FAIL_MARKER, VOICES, Page, Video
from .legacy import check_source

_AVATAR_IDS = frozenset(a["avatar_id"] for a in AVATARS)
_VOICE_IDS = frozenset(v["voice_id"] for v in VOICES)


def _avatar(call: Call, avatar_id: str, param: str) -> None:
    if avatar_id not in _AVATAR_IDS and avatar_id not in call.state.custom_avatar_ids:
        raise Refusal("v3.avatar_not_found", param=param, what="avatar", avatar_id=avatar_id)


def _speech(call: Call, obj: dict[str, Any], at: str) -> tuple[float, bool]:
    """A script with a voice, or audio by URL or asset: exactly one source [doc on v2; sim v3].

    Returns (simulated seconds, whether the render will fail).
    """
    prefix = f"{at}." if at else ""
    script = obj.get("script")
    sources = [k for k in ("script", "audio_url", "audio_asset_id") if obj.get(k)]
    if len(sources) != 1:
        raise invalid("v3", f"{prefix}script",
                      f"give exactly one of {prefix}script (with {prefix}voice_id), "
                      f"{prefix}audio_url or {prefix}audio_asset_id; got "
                      f"{', '.join(sources) or 'none'}")
    if script:
        voice_id = obj.get("voice_id")
        if not voice_id:
            raise invalid("v3", f"{prefix}voice_id", f"{prefix}voice_id is required with a script")
        if voice_id not in _VOICE_IDS and voice_id not in call.state.custom_voice_ids:
            raise Refusal("v3.voice_not_found", param=f"{prefix}voice_id", voice_id=voice_id)
        if len(script) > 5000:
            raise invalid("v3", f"{prefix}script", "script must be at most 5000 characters")
        return max(1.0, len(script.split()) / 2.5), FAIL_MARKER in script
    check_source(call, obj, at or "audio", "audio_url", "audio_asset_id", "audio")
    return 10.0, False


def _image(call: Call, image: dict[str, Any], param: str) -> None:
    if image.get("type") == "asset_id":
        call.state.asset(image["asset_id"], ready=True)
    elif image.get("type") == "url" and not str(image.get("url")).startswith(("http://",
                                                                                "https://")):
        raise invalid("v3", f"{param}.url", f"{param}.url must be an http(s) URL")


def _scene(call: Call, scene: dict[str, Any], at: str) -> tuple[float, bool]:
    kind = scene["type"]
    if kind == "avatar_video":
        inp = scene["input"]
        if inp.get("type") == "avatar":
            _avatar(call, inp["avatar_id"], f"{at}.input.avatar_id")
        else:
            _image(call, inp.get("image") or {}, f"{at}.input.image")
        return _speech(call, inp, f"{at}.input")
    if kind == "image":
        _image(call, scene["source"], f"{at}.source")
        return (_speech(call, scene, at) if any(scene.get(k) for k in
                                                ("script", "audio_url", "audio_asset_id"))
                else (float(scene.get("duration") or 5), False))
    return float(scene.get("duration") or 5), False


def _plan(call: Call) -> tuple[float, bool]:
    """(simulated duration, whether the render fails) of a checked VideoCreate body."""
    body, kind = call.body, call.body["type"]
    if kind == "avatar":
        _avatar(call, body["avatar_id"], "avatar_id")
        return _speech(call, body, "")
    if kind == "image":
        _image(call, body["image"], "image")
        return _speech(call, body, "")
    if kind == "cinematic_avatar":  # avatar_id is a list here: the cast of the scene
        for i, avatar_id in enumerate(body["avatar_id"]):
            _avatar(call, avatar_id, f"avatar_id[{i}]")
        return float(body.get("duration") or 8), FAIL_MARKER in body["prompt"]
    total, fails = 0.0, False
    if not body["scenes"]:
        raise invalid("v3", "scenes", "scenes needs at least one scene")
    for i, scene in enumerate(body["scenes"]):
        seconds, fail = _scene(call, scene, f"scenes[{i}]")
        total, fails = total + seconds, fails or fail
    return total, fails


@v3("VideoCreate")
def create(call: Call) -> Any:
    """POST /v3/videos [doc: spec]."""
    duration, fails = _plan(call)
    video = call.state.create_video(
        "v3", duration=duration, fails=fails, title=call.field("title"),
        output_format=call.field("output_format") or "mp4",
        folder_id=call.field("folder_id"), callback_id=call.field("callback_id"))
    return {"video_id": video.video_id, "status": "pending", "output_format": video.output_format}


def video_item(call: Call, video: Video) -> dict[str, Any]:
    """A video as ``GET /v3/videos/{id}`` shows it [doc: spec]; failures carry
    ``failure_code`` / ``failure_message``."""
    status = call.state.status(video)
    done = status == "completed"
    failure = (error_object("v3.video_render_failed", call.service.overrides)
               if status == "failed" else None)
    url = call.file_url
    return {
        "id": video.video_id, "status": status, "title": video.title,
        "created_at": int(video.created_at),
        "completed_at": int(video.created_at + 30) if status in ("completed", "failed") else None,
        "duration": round(video.duration, 2) if done else None,
        "video_url": url(f"{video.video_id}.{video.output_format}") if done else None,
        "thumbnail_url": url(f"{video.video_id}.png") if done else None,
        "gif_url": None, "captioned_video_url": None, "subtitle_url": None,
        "video_page_url": None, "folder_id": video.folder_id, "output_language": None,
        "failure_code": failure["code"] if failure else None,
        "failure_message": failure["message"] if failure else None}


@v3("VideoGet")
def get(call: Call) -> Any:
    """GET /v3/videos/{video_id} [doc]."""
    return video_item(call, call.state.video(call.params["video_id"]))


@v3("VideoList")
def list_(call: Call) -> Page:
    """GET /v3/videos?limit=&token=&folder_id=&title= [doc]."""
    folder, title = call.arg("folder_id"), call.arg("title")
    with call.state.lock:
        items = [v for v in call.state.videos.values()
                 if (folder is None or v.folder_id == folder)
                 and (title is None or title.lower() in (v.title or "").lower())]
    return call.page(items, lambda v: video_item(call, v))


@v3("VideoDelete")
def delete(call: Call) -> Any:
    """DELETE /v3/videos/{video_id} [doc]."""
    with call.state.lock:
        video = call.state.video(call.params["video_id"])
        del call.state.videos[video.video_id]
    return {"id": video.video_id, "deleted": True}


@v3("VideoStatusesList")
def statuses(call: Call) -> Any:
    """GET /v3/videos/statuses?video_ids= [doc]; an unknown id reports ``not_found`` [sim]."""
    ids = call.args("video_ids")
    if len(ids) > 100:
        raise invalid("v3", "video_ids", "at most 100 ids per request")
    with call.state.lock:
        found = {i: call.state.videos.get(i) for i in ids}
    return [{"video_id": i, "status": call.state.status(v) if v else "not_found",
             "error": None} for i, v in found.items()]
