"""The emulator's v3 avatars over real HTTP: the public catalogue, groups and looks with state,
digital twins waiting for consent, and the clock driving every new avatar to completion.

Every test leaves ``with Emulator()`` normally, so an answer that breaks HeyGen's response
schema (an ``EmulatorBug``) fails it.
"""

from __future__ import annotations

import base64
from typing import Any

import pytest
import requests
from _support import v3_call, v3_error, v3_pages
from requests_toolbelt import MultipartEncoder

from heygen_lab.emulator import DEMO_KEY, Emulator, ManualClock
from heygen_lab.emulator.state import AVATARS

KEY = {"X-Api-Key": DEMO_KEY}
PUBLIC_LOOKS = [a["avatar_id"] for a in AVATARS]
PNG_B64 = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\x00" * 16).decode()
PHOTO = {"type": "photo", "name": "Me on a photo",
         "file": {"type": "base64", "media_type": "image/png", "data": PNG_B64}}
TWIN = {"type": "digital_twin", "name": "My twin",
        "file": {"type": "url", "url": "https://example.com/me.mp4"}}
PROMPT = {"type": "prompt", "name": "Invented", "prompt": "a friendly teacher"}


call, error = v3_call, v3_error


def create(emu: Emulator, body: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(avatar_group, avatar_item) of a new avatar."""
    data = call(emu, "POST", "/v3/avatars", json=body)["data"]
    return data["avatar_group"], data["avatar_item"]


def video(emu: Emulator, avatar_id: str) -> requests.Response:
    return requests.post(f"{emu.api_base}/v3/videos", headers=KEY, timeout=30, json={
        "type": "avatar", "avatar_id": avatar_id, "script": "Hi", "voice_id": "emu_voice_en_f"})


# ---------------------------------------------------------------- the public catalogue
def test_public_catalogue_is_one_completed_group_per_public_look(emu: Emulator) -> None:
    groups = call(emu, "GET", "/v3/avatars?ownership=public&limit=50")
    assert [g["id"] for g in groups["data"]] == [f"group_{a}" for a in PUBLIC_LOOKS]
    assert {g["status"] for g in groups["data"]} == {"completed"}
    assert groups["has_more"] is False and groups["next_token"] is None
    looks = call(emu, "GET", "/v3/avatars/looks?ownership=public&limit=50")["data"]
    assert [lk["id"] for lk in looks] == PUBLIC_LOOKS
    assert {lk["avatar_type"] for lk in looks} == {"studio_avatar"}
    look = call(emu, "GET", f"/v3/avatars/looks/{PUBLIC_LOOKS[0]}")["data"]
    assert look["group_id"] == f"group_{PUBLIC_LOOKS[0]}"
    assert call(emu, "GET", "/v3/avatars?ownership=private")["data"] == []


@pytest.mark.parametrize(("method", "path", "body"), [
    ("DELETE", f"/v3/avatars/group_{PUBLIC_LOOKS[0]}", None),
    ("DELETE", f"/v3/avatars/looks/{PUBLIC_LOOKS[0]}", None),
    ("PATCH", f"/v3/avatars/looks/{PUBLIC_LOOKS[0]}", {"name": "Mine now"}),
    ("POST", f"/v3/avatars/group_{PUBLIC_LOOKS[0]}/consent", {}),
    ("POST", "/v3/avatars", {**PHOTO, "avatar_group_id": f"group_{PUBLIC_LOOKS[0]}"}),
])
def test_the_public_catalogue_cannot_be_changed(emu: Emulator, method: str, path: str,
                                                 body: dict[str, Any] | None) -> None:
    assert error(emu, method, path, 403, json=body)[0] == "forbidden"
    assert len(call(emu, "GET", "/v3/avatars/looks?ownership=public")["data"]) == len(AVATARS)
    assert video(emu, PUBLIC_LOOKS[0]).status_code == 200


# ---------------------------------------------------------------- lifecycle on the clock
def test_a_photo_avatar_ripens_on_the_clock_and_is_usable_in_videos(
        emu: Emulator, clock: ManualClock) -> None:
    group, look = create(emu, PHOTO)
    assert (group["status"], look["status"]) == ("processing", "processing")
    assert look["avatar_type"] == "photo_avatar" and look["group_id"] == group["id"]
    assert group["looks_count"] == 1 and group["consent_status"] is None
    assert video(emu, look["id"]).status_code == 200
    clock.advance(30)
    assert call(emu, "GET", f"/v3/avatars/{group['id']}")["data"]["status"] == "completed"
    done = call(emu, "GET", f"/v3/avatars/looks/{look['id']}")["data"]
    assert done["status"] == "completed" and done["preview_image_url"]


def test_a_digital_twin_waits_for_consent(emu: Emulator, clock: ManualClock) -> None:
    group, look = create(emu, TWIN)
    assert (group["status"], group["consent_status"]) == ("pending_consent", "pending")
    clock.advance(3600)
    assert call(emu, "GET", f"/v3/avatars/looks/{look['id']}")["data"]["status"] \
        == "pending_consent"
    consented = call(emu, "POST", f"/v3/avatars/{group['id']}/consent",
                     json={"consent_text": "I agree"})["data"]
    assert consented["avatar_group"]["status"] == "processing"
    assert consented["avatar_group"]["consent_status"] == "approved"
    clock.advance(30)
    assert call(emu, "GET", f"/v3/avatars/{group['id']}")["data"]["status"] == "completed"


def test_consent_for_a_group_without_a_twin_is_a_conflict(emu: Emulator) -> None:
    group, _ = create(emu, PHOTO)
    assert error(emu, "POST", f"/v3/avatars/{group['id']}/consent", 409, json={}) \
        == ("conflict", "group_id")


def test_a_failing_prompt_avatar_reports_its_error(emu: Emulator, clock: ManualClock) -> None:
    group, look = create(emu, {**PROMPT, "prompt": "a teacher [fail]"})
    clock.advance(30)
    failed = call(emu, "GET", f"/v3/avatars/looks/{look['id']}")["data"]
    assert failed["status"] == "failed" and failed["error"]["code"]
    assert call(emu, "GET", f"/v3/avatars/{group['id']}")["data"]["status"] == "failed"


# ---------------------------------------------------------------- create, update, delete
def test_looks_join_a_group_and_leave_with_it(emu: Emulator) -> None:
    group, first = create(emu, PROMPT)
    _, second = create(emu, {**PHOTO, "avatar_group_id": group["id"]})
    assert second["group_id"] == group["id"]
    assert call(emu, "GET", f"/v3/avatars/{group['id']}")["data"]["looks_count"] == 2
    in_group = call(emu, "GET", f"/v3/avatars/looks?group_id={group['id']}")["data"]
    assert [lk["id"] for lk in in_group] == [first["id"], second["id"]]
    assert call(emu, "DELETE", f"/v3/avatars/{group['id']}")["data"] == {"id": group["id"]}
    for look in (first, second):
        assert error(emu, "GET", f"/v3/avatars/looks/{look['id']}", 404) \
            == ("avatar_not_found", "look_id")
        assert video(emu, look["id"]).json()["error"]["code"] == "avatar_not_found"
    assert error(emu, "GET", f"/v3/avatars/{group['id']}", 404) == ("avatar_not_found", "group_id")


def test_a_look_is_renamed_and_deleted(emu: Emulator) -> None:
    group, look = create(emu, PHOTO)
    path = f"/v3/avatars/looks/{look['id']}"
    assert call(emu, "PATCH", path, json={"name": "Renamed"})["data"]["name"] == "Renamed"
    assert call(emu, "PATCH", path, json={})["data"]["name"] == "Renamed"
    assert call(emu, "GET", path)["data"]["name"] == "Renamed"
    assert call(emu, "DELETE", path)["data"] == {"id": look["id"]}
    assert error(emu, "DELETE", path, 404) == ("avatar_not_found", "look_id")
    assert video(emu, look["id"]).status_code == 404
    emptied = call(emu, "GET", f"/v3/avatars/{group['id']}")["data"]
    assert (emptied["looks_count"], emptied["status"]) == (0, None)


def test_a_photo_avatar_from_an_uploaded_asset(emu: Emulator) -> None:
    enc = MultipartEncoder(fields={"file": ("me.png", base64.b64decode(PNG_B64), "image/png")})
    asset = requests.post(f"{emu.api_base}/v3/assets", data=enc, timeout=30,
                          headers={**KEY, "Content-Type": enc.content_type}).json()["data"]
    _, look = create(emu, {**PHOTO, "file": {"type": "asset_id",
                                             "asset_id": asset["asset_id"]}})
    assert look["status"] == "processing"
    # a twin needs a video: the image asset is refused
    assert error(emu, "POST", "/v3/avatars", 400, json={
        **TWIN, "file": {"type": "asset_id", "asset_id": asset["asset_id"]}}) \
        == ("invalid_parameter", "file.asset_id")


# ---------------------------------------------------------------- lists
def test_lists_paginate_and_filter(emu: Emulator) -> None:
    made = [create(emu, body) for body in (PHOTO, TWIN, PROMPT)]
    seen = [g["id"] for g in v3_pages(emu, "/v3/avatars")]
    assert seen == [f"group_{a}" for a in PUBLIC_LOOKS] + [g["id"] for g, _ in made]
    private = call(emu, "GET", "/v3/avatars/looks?ownership=private")["data"]
    assert [lk["id"] for lk in private] == [lk["id"] for _, lk in made]
    twins = call(emu, "GET", "/v3/avatars/looks?avatar_type=digital_twin")["data"]
    assert [lk["id"] for lk in twins] == [made[1][1]["id"]]


# ---------------------------------------------------------------- refusals
@pytest.mark.parametrize(("method", "path", "body", "param"), [
    ("POST", "/v3/avatars", {"type": "photo", "file": PHOTO["file"]}, "name"),
    ("POST", "/v3/avatars", {"type": "prompt", "name": "x"}, "prompt"),
    ("POST", "/v3/avatars", {"name": "x", "prompt": "y"}, "type"),
    ("POST", "/v3/avatars", {**PHOTO, "name": " "}, "name"),
    ("POST", "/v3/avatars", {**PHOTO, "file": {"type": "url", "url": "ftp://x/a.png"}},
     "file.url"),
    ("POST", "/v3/avatars", {**PHOTO, "file": {"type": "base64", "media_type": "image/png",
                                               "data": "***"}}, "file.data"),
    ("POST", "/v3/avatars", {**PHOTO, "file": {"type": "base64", "media_type": "audio/mpeg",
                                               "data": PNG_B64}}, "file.media_type"),
    ("POST", "/v3/avatars", {**PROMPT, "reference_images": [{"type": "url", "url": "x"}]},
     "reference_images[0].url"),
    ("PATCH", "/v3/avatars/looks/{look}", {"name": ""}, "name"),
    ("GET", "/v3/avatars?ownership=everyone", None, "ownership"),
    ("GET", "/v3/avatars?limit=51", None, "limit"),
    ("GET", "/v3/avatars/looks?avatar_type=cartoon", None, "avatar_type"),
    ("GET", "/v3/avatars/looks?token=not-a-cursor", None, "token"),
])
def test_bad_requests_name_the_param(emu: Emulator, method: str, path: str,
                                     body: dict[str, Any] | None, param: str) -> None:
    _, look = create(emu, PHOTO)
    assert error(emu, method, path.format(look=look["id"]), 400, json=body) \
        == ("invalid_parameter", param)


@pytest.mark.parametrize(("method", "path", "body", "expected"), [
    ("GET", "/v3/avatars/nope", None, ("avatar_not_found", "group_id")),
    ("DELETE", "/v3/avatars/nope", None, ("avatar_not_found", "group_id")),
    ("POST", "/v3/avatars/nope/consent", {}, ("avatar_not_found", "group_id")),
    ("GET", "/v3/avatars/looks/nope", None, ("avatar_not_found", "look_id")),
    ("PATCH", "/v3/avatars/looks/nope", {"name": "x"}, ("avatar_not_found", "look_id")),
    ("DELETE", "/v3/avatars/looks/nope", None, ("avatar_not_found", "look_id")),
    ("POST", "/v3/avatars", {**PHOTO, "avatar_group_id": "nope"},
     ("avatar_not_found", "avatar_group_id")),
    ("POST", "/v3/avatars", {**PROMPT, "avatar_id": "nope"}, ("avatar_not_found", "avatar_id")),
    ("POST", "/v3/avatars", {**PHOTO, "file": {"type": "asset_id", "asset_id": "nope"}},
     ("not_found", "file.asset_id")),
])
def test_unknown_ids_are_404(emu: Emulator, method: str, path: str, body: dict[str, Any] | None,
                             expected: tuple[str, str]) -> None:
    assert error(emu, method, path, 404, json=body) == expected
