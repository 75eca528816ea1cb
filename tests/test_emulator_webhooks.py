"""The emulator's v3 webhooks over real HTTP: endpoints with secrets, the event types from the
spec, and the events the emulator generates when videos finish.

Every test leaves ``with Emulator()`` normally, so an answer that breaks HeyGen's response
schema (an ``EmulatorBug``) fails it.
"""

from __future__ import annotations

from typing import Any

import pytest
import requests
from _support import v3_call, v3_error, v3_pages

from heygen_lab.emulator import DEMO_KEY, Emulator, ManualClock
from heygen_lab.spec import load_spec

KEY = {"X-Api-Key": DEMO_KEY}
HOOK = {"url": "https://example.com/hook", "events": ["avatar_video.success"]}
ENDPOINTS = "/v3/webhooks/endpoints"


call, error = v3_call, v3_error


def video(emu: Emulator, script: str = "Hello") -> str:
    return str(call(emu, "POST", "/v3/videos", json={
        "type": "avatar", "avatar_id": "emu_avatar_anna", "script": script,
        "voice_id": "emu_voice_en_f", "callback_id": "cb-1"})["data"]["video_id"])


# ---------------------------------------------------------------- endpoints
def test_an_endpoint_is_created_listed_updated_and_deleted(emu: Emulator) -> None:
    made = call(emu, "POST", ENDPOINTS, json=HOOK)["data"]
    assert made["secret"] and made["url"] == HOOK["url"] and made["events"] == HOOK["events"]
    assert made["status"] == "enabled" and made["created_at"] == "2026-01-01T00:00:00Z"
    listed = call(emu, "GET", ENDPOINTS)["data"]
    assert [e["endpoint_id"] for e in listed] == [made["endpoint_id"]]
    assert listed[0]["secret"] is None  # shown only when made
    path = f"{ENDPOINTS}/{made['endpoint_id']}"
    moved = call(emu, "PATCH", path, json={"url": "https://example.org/new"})["data"]
    assert (moved["url"], moved["events"]) == ("https://example.org/new", HOOK["events"])
    both = call(emu, "PATCH", path, json={"events": ["avatar_video.fail"]})["data"]
    assert (both["url"], both["events"]) == ("https://example.org/new", ["avatar_video.fail"])
    assert call(emu, "DELETE", path)["data"] == {}
    assert call(emu, "GET", ENDPOINTS)["data"] == []
    assert error(emu, "DELETE", path, 404) == ("not_found", "endpoint_id")


def test_rotating_the_secret_replaces_it(emu: Emulator) -> None:
    made = call(emu, "POST", ENDPOINTS, json={"url": "https://example.com/all"})["data"]
    assert made["events"] is None
    rotated = call(emu, "POST", f"{ENDPOINTS}/{made['endpoint_id']}/rotate-secret")["data"]
    assert rotated["endpoint_id"] == made["endpoint_id"]
    assert rotated["secret"] and rotated["secret"] != made["secret"]
    again = call(emu, "POST", f"{ENDPOINTS}/{made['endpoint_id']}/rotate-secret")["data"]
    assert again["secret"] not in (made["secret"], rotated["secret"])
    assert made["secret"] not in str(call(emu, "GET", ENDPOINTS))


def test_endpoints_paginate(emu: Emulator) -> None:
    made = [call(emu, "POST", ENDPOINTS, json={"url": f"https://example.com/{i}"})["data"]
            for i in range(5)]
    seen = [e["endpoint_id"] for e in v3_pages(emu, ENDPOINTS)]
    assert seen == [e["endpoint_id"] for e in made]


# ---------------------------------------------------------------- event types and events
def test_event_types_are_the_specs(emu: Emulator) -> None:
    flag = next(f for f in load_spec()["WebhookEndpointsCreate"].flags if f.name == "events")
    types = call(emu, "GET", "/v3/webhooks/event-types")
    assert [t["event_type"] for t in types["data"]] == list(flag.enum or ())
    assert all(t["description"] for t in types["data"]) and types["has_more"] is False


def test_finished_videos_yield_events(emu: Emulator, clock: ManualClock) -> None:
    ok, bad = video(emu), video(emu, "this one breaks [fail]")
    assert call(emu, "GET", "/v3/webhooks/events")["data"] == []
    clock.advance(30)
    events = call(emu, "GET", "/v3/webhooks/events")["data"]
    assert [(e["event_type"], e["event_data"]["video_id"]) for e in events] \
        == [("avatar_video.success", ok), ("avatar_video.fail", bad)]
    assert events[0]["event_data"]["callback_id"] == "cb-1"
    assert requests.get(events[0]["event_data"]["url"], timeout=30).status_code == 200
    assert events[0]["created_at"] == "2026-01-01T00:00:30Z"
    call(emu, "DELETE", f"/v3/videos/{ok}")  # events outlive their video
    assert call(emu, "GET", "/v3/webhooks/events")["data"] == events
    fails = call(emu, "GET", "/v3/webhooks/events?event_type=avatar_video.fail")["data"]
    assert [e["event_data"]["video_id"] for e in fails] == [bad]
    assert call(emu, "GET", f"/v3/webhooks/events?entity_id={ok}")["data"] == events[:1]
    first = call(emu, "GET", "/v3/webhooks/events?limit=1")
    assert first["data"] == events[:1] and first["has_more"] is True
    rest = call(emu, "GET", f"/v3/webhooks/events?limit=1&token={first['next_token']}")
    assert rest["data"] == events[1:] and rest["has_more"] is False


# ---------------------------------------------------------------- refusals
@pytest.mark.parametrize(("method", "path", "body", "param"), [
    ("POST", ENDPOINTS, {}, "url"),
    ("POST", ENDPOINTS, {"url": "ftp://example.com/hook"}, "url"),
    ("POST", ENDPOINTS, {**HOOK, "events": ["video.exploded"]}, "events[0]"),
    ("PATCH", f"{ENDPOINTS}/{{id}}", {"url": "example.com"}, "url"),
    ("PATCH", f"{ENDPOINTS}/{{id}}", {"events": ["nope"]}, "events[0]"),
    ("GET", f"{ENDPOINTS}?limit=101", None, "limit"),
    ("GET", "/v3/webhooks/events?event_type=nope", None, "event_type"),
    ("GET", "/v3/webhooks/events?token=nope", None, "token"),
])
def test_bad_requests_name_the_param(emu: Emulator, method: str, path: str,
                                     body: dict[str, Any] | None, param: str) -> None:
    made = call(emu, "POST", ENDPOINTS, json=HOOK)["data"]
    assert error(emu, method, path.format(id=made["endpoint_id"]), 400, json=body) \
        == ("invalid_parameter", param)


@pytest.mark.parametrize(("method", "path", "body"), [
    ("PATCH", f"{ENDPOINTS}/nope", {"url": "https://example.com"}),
    ("DELETE", f"{ENDPOINTS}/nope", None),
    ("POST", f"{ENDPOINTS}/nope/rotate-secret", None),
])
def test_unknown_endpoints_are_404(emu: Emulator, method: str, path: str,
                                   body: dict[str, Any] | None) -> None:
    assert error(emu, method, path, 404, json=body) == ("not_found", "endpoint_id")
